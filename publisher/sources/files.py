"""Reading a file a person named, without surprises: regular files only, size-checked first.

``/dev/zero`` never ends, a FIFO never opens until someone writes to it, a symbolic link may
point anywhere. A file is opened without waiting, checked to be a regular file of at most the
limit, and read no further than that.
"""

from __future__ import annotations

import base64
import errno
import os
import select
import stat
import time
from pathlib import Path

from publisher.domain.announcement import MAX_IMAGE_BYTES, Media
from publisher.engine.media import MediaError

PIPE_WAIT_SECONDS = 5.0  # for a pipe's first byte


class FileProblem(Exception):
    """What is wrong with a file, as words about it ("does not exist", "is larger than 8 MiB")."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind  # missing | link | unreadable | not_regular | too_large | outside
        super().__init__(message)


def read_regular(path: Path, limit: int, *, follow: bool = True, streams: bool = False) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``follow=False`` refuses a
    symbolic link as the last part of the path. ``streams=True`` also reads a pipe or a device
    (``/dev/stdin``, ``<(…)``), no further than the limit: a person chose it as the document."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        descriptor = os.open(path, flags)  # O_NONBLOCK: a FIFO is refused below, not waited for
    except (FileNotFoundError, ValueError):  # ValueError: a NUL byte in the name
        raise FileProblem("missing", "does not exist") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise FileProblem("link", "is a symbolic link") from None
        raise FileProblem("unreadable", f"cannot be read: {error.strerror}") from None
    try:
        status = os.fstat(descriptor)
        stream = stat.S_ISFIFO(status.st_mode) or stat.S_ISCHR(status.st_mode)
        if not (stat.S_ISREG(status.st_mode) or (streams and stream)):
            raise FileProblem("not_regular", "cannot be read: it is not a regular file")
        if status.st_size > limit:
            raise FileProblem("too_large", f"is larger than {_size(limit)}")
        if stat.S_ISFIFO(status.st_mode):
            chunks, size = _from_pipe(descriptor, limit)
        else:
            os.set_blocking(descriptor, True)  # opened without waiting; a device is read as it comes
            chunks, size = [], 0
            while size <= limit and (chunk := os.read(descriptor, min(1 << 20, limit + 1 - size))):
                chunks.append(chunk)
                size += len(chunk)
    finally:
        os.close(descriptor)
    if size > limit:  # it grew while we read it
        raise FileProblem("too_large", f"is larger than {_size(limit)}")
    return b"".join(chunks)


def _from_pipe(descriptor: int, limit: int) -> tuple[list[bytes], int]:
    """What a pipe's writer sends, up to the limit and its end. Reading a pipe whose writer has
    not opened it yet gives "end" at once, so the first byte is waited for (``<(slow command)``
    starts writing when it is ready), but at most PIPE_WAIT_SECONDS: nobody writing is an empty
    document, not a hang."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLHUP)
    waiting_until = time.monotonic() + PIPE_WAIT_SECONDS
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        first = not chunks
        timeout = max(0.0, waiting_until - time.monotonic()) * 1000 if first else None
        if not poller.poll(timeout):
            break  # nobody wrote in time
        try:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
        except BlockingIOError:
            continue
        if not chunk:
            break  # the writer closed its end
        chunks.append(chunk)
        size += len(chunk)
    return chunks, size


def read_beside(folder: Path, name: str, limit: int) -> bytes:
    """A regular file in ``folder`` or below it. Absolute paths, ``..`` and symbolic links that
    lead out of the folder are refused with the same words whether or not something exists
    there, so a document can neither publish nor ask about a file elsewhere."""
    outside = FileProblem("outside", f"must be a file in the document's folder or below it (got {name!r})")
    relative = Path(name)
    if "\x00" in name or relative.is_absolute() or ".." in relative.parts:
        raise outside
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise outside
    try:
        # Resolved above: a link found now was put there meanwhile, and is not followed.
        return read_regular(path, limit, follow=False)
    except FileProblem as problem:
        if problem.kind == "link":
            raise outside from None
        if problem.kind == "missing":
            raise FileProblem("missing", f"there is no file {name!r} in the document's folder") from None
        if problem.kind in {"unreadable", "not_regular"}:
            detail = str(problem).removeprefix("cannot be read: ")
            raise FileProblem(problem.kind, f"cannot read {name!r}: {detail}") from None
        raise


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit // 1_000_000} MB"


def image_of(media: Media, base_dir: Path | None) -> bytes:
    """An announcement's image as sent: base64 ``data``, or on the command line a ``path``
    beside the document (``base_dir``); what is wrong with it is a MediaError."""
    if media.data is not None:
        return base64.b64decode(media.data)
    assert media.path is not None
    if base_dir is None:
        raise MediaError("send the image itself as base64 data; file paths are only read from the command line")
    try:
        return read_beside(base_dir, media.path, MAX_IMAGE_BYTES)
    except FileProblem as problem:
        raise MediaError(str(problem)) from None

"""The authority's own web host, for tests: an SFTP server and the web server in front of it.

`FakeSftp` is a real SSH/SFTP server (paramiko's server side, in this process, on 127.0.0.1 and
a port of its own) over a temporary folder, with its own host key, one user who logs in by
password or by key, and a record of what happened: every SFTP operation, every login attempt,
and each file that took its place under its own name (``arrived``: renamed onto it, or written
under it directly; hidden names, a client's half-uploaded files, do not count). It can refuse
writes below chosen paths (permission denied) and break the connection after a number of files,
before the last one's answer has gone out, or open the SFTP session and never answer in it.

`PublicWeb` serves that folder over HTTP, as the host's web server would (a folder's
``index.html`` for its address), and can answer 404 for a while, as a host whose cache or sync
lags.

    with FakeSftp(root, password="geheim") as sftp, PublicWeb(root) as web:
        ...  # host 127.0.0.1, port sftp.port, host_key sftp.host_key_line; pages at web.url
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import paramiko
from paramiko.common import AUTH_FAILED, AUTH_SUCCESSFUL, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, OPEN_SUCCEEDED
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

LOG = "tests.fake_sftp"
logging.getLogger(LOG).setLevel(logging.CRITICAL)
WRITING = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


@dataclass(frozen=True)
class Operation:
    name: str  # read, write, list, stat, mkdir, rmdir, remove, rename, posix_rename, chattr, …
    path: str  # below the served folder, without a leading "/"; a rename's "old -> new"


class FakeSftp:
    def __init__(
        self,
        root: Path,
        *,
        username: str = "herold",
        password: str | None = None,
        key: paramiko.PKey | None = None,
    ) -> None:
        self.root = root.resolve()
        self.username, self.password, self.key = username, password, key
        self.host_key = paramiko.ECDSAKey.generate()  # its own, made for this server
        self.operations: list[Operation] = []
        self.arrived: list[str] = []
        self.logins: list[tuple[str, str]] = []  # (user, method) of every attempt, whatever its outcome
        self.connections = 0
        self.denied: set[str] = set()  # paths (and everything below them) the user may not write
        self.drop_after: int | None = None  # break the connection when this many files have arrived
        self.silent = False  # accept the SFTP session, then never answer in it
        # posix_rename answers this SFTP status instead of renaming (8: unsupported, 4: a failure
        # such as a full disk or a quota).
        self.posix_rename_status: int | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._transports: list[paramiko.Transport] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-sftp", daemon=True)

    # -- use -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def host_key_line(self) -> str:
        """The host key as the server's .pub file has it (what ``host_key`` takes)."""
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key_line}"

    def names(self, operation: str) -> list[str]:
        with self._lock:
            return [o.path for o in self.operations if o.name == operation]

    def forget(self) -> None:
        """Start recording afresh (between two copies in one test)."""
        with self._lock:
            self.operations.clear()
            self.arrived.clear()
            self.logins.clear()
            self.connections = 0

    def files(self) -> set[str]:
        """Every file in the served folder, by path below it."""
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()}

    # -- running ---------------------------------------------------------------------------

    def __enter__(self) -> FakeSftp:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()
        self._thread.join(5)

    def _serve(self) -> None:
        self._listener.settimeout(0.05)  # a closed socket does not wake a thread blocked in accept()
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed: stopping
            sock.settimeout(None)
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._session, args=(sock,), name="fake-sftp-session", daemon=True).start()

    def _session(self, sock: socket.socket) -> None:
        transport = paramiko.Transport(sock)
        # A client that hangs up on purpose (a host key it refuses, a connection cut by a test)
        # is no error of the server's: its transports log apart, and quietly.
        transport.set_log_channel(LOG)
        with self._lock:
            self._transports.append(transport)
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _Folder, self, sock)
        try:
            transport.start_server(server=_Logins(self))
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()  # the client went away during the handshake (a refused host key)

    # -- what the SFTP session calls -------------------------------------------------------

    def record(self, name: str, path: str) -> None:
        with self._lock:
            self.operations.append(Operation(name, path))

    def arrive(self, path: str) -> bool:
        """A file took its place; True if the connection is to break now."""
        if Path(path).name.startswith("."):
            return False
        with self._lock:
            self.arrived.append(path)
            return self.drop_after is not None and len(self.arrived) >= self.drop_after

    def may_write(self, path: str) -> bool:
        return not any(path == d or path.startswith(d.rstrip("/") + "/") for d in self.denied)


class _Logins(paramiko.ServerInterface):
    def __init__(self, fake: FakeSftp) -> None:
        self.fake = fake

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        self.fake.logins.append((username, "password"))
        right = self.fake.password is not None and (username, password) == (self.fake.username, self.fake.password)
        return AUTH_SUCCESSFUL if right else AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.fake.logins.append((username, "publickey"))
        known = self.fake.key
        right = known is not None and username == self.fake.username and key.asbytes() == known.asbytes()
        return AUTH_SUCCESSFUL if right else AUTH_FAILED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if self.fake.silent:
            return True  # "yes", and nothing more: no SFTP server behind it
        return bool(super().check_channel_subsystem_request(channel, name))

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _File(paramiko.SFTPHandle):
    def __init__(self, flags: int, file: Any, fake: FakeSftp, path: str, writing: bool) -> None:
        super().__init__(flags)
        self.readfile = self.writefile = file
        self.fake, self.path, self.writing = fake, path, writing

    def stat(self) -> paramiko.SFTPAttributes | int:
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        return SFTP_OK

    def close(self) -> None:
        super().close()
        if self.writing:
            self.fake.arrive(self.path)


class _Folder(paramiko.SFTPServerInterface):
    """The served folder: the login folder and "/" are its root."""

    def __init__(self, server: _Logins, fake: FakeSftp, sock: socket.socket) -> None:
        super().__init__(server)
        self.fake, self.sock = fake, sock

    def _path(self, path: str) -> tuple[str, Path]:
        relative = os.path.normpath("/" + path).lstrip("/")
        relative = "" if relative == "." else relative
        return relative, self.fake.root / relative

    def _denied(self, relative: str) -> bool:
        return not self.fake.may_write(relative)

    def canonicalize(self, path: str) -> str:
        return "/" + self._path(path)[0]

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> paramiko.SFTPHandle | int:
        relative, local = self._path(path)
        writing = bool(flags & WRITING)
        self.fake.record("write" if writing else "read", relative)
        if writing and self._denied(relative):
            return SFTP_PERMISSION_DENIED
        try:
            descriptor = os.open(local, flags, 0o644)
        except OSError as error:
            return _status(error)
        mode = "r+b" if flags & os.O_RDWR else ("ab" if flags & os.O_APPEND else "wb") if writing else "rb"
        return _File(flags, os.fdopen(descriptor, mode), self.fake, relative, writing)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        relative, local = self._path(path)
        self.fake.record("list", relative)
        try:
            return [_attributes(entry) for entry in os.scandir(local)]
        except OSError as error:
            return _status(error)

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        relative, local = self._path(path)
        self.fake.record("stat", relative)
        try:
            return paramiko.SFTPAttributes.from_stat(local.stat())
        except OSError as error:
            return _status(error)

    lstat = stat

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        relative, local = self._path(path)
        self.fake.record("mkdir", relative)
        return self._do(relative, lambda: local.mkdir())

    def rmdir(self, path: str) -> int:
        relative, local = self._path(path)
        self.fake.record("rmdir", relative)
        return self._do(relative, lambda: local.rmdir())

    def remove(self, path: str) -> int:
        relative, local = self._path(path)
        self.fake.record("remove", relative)
        return self._do(relative, lambda: local.unlink())

    def rename(self, oldpath: str, newpath: str) -> int:
        return self._rename("rename", oldpath, newpath, replace=False)

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        if self.fake.posix_rename_status is not None:
            self.fake.record("posix_rename", f"{self._path(oldpath)[0]} -> {self._path(newpath)[0]}")
            return self.fake.posix_rename_status
        return self._rename("posix_rename", oldpath, newpath, replace=True)

    def _rename(self, name: str, oldpath: str, newpath: str, *, replace: bool) -> int:
        (old, source), (new, target) = self._path(oldpath), self._path(newpath)
        self.fake.record(name, f"{old} -> {new}")
        if self._denied(new):
            return SFTP_PERMISSION_DENIED
        if not replace and target.exists():
            return SFTP_FAILURE  # SFTP version 3: a rename never replaces
        status = self._do(new, lambda: source.replace(target))
        if status == SFTP_OK and self.fake.arrive(new):
            # The file is in place, but the client never hears so: the connection breaks first.
            self.sock.shutdown(socket.SHUT_RDWR)
        return status

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        self.fake.record("chattr", self._path(path)[0])
        return SFTP_OK

    def _do(self, relative: str, action: Any) -> int:
        if self._denied(relative):
            return SFTP_PERMISSION_DENIED
        try:
            action()
        except FileNotFoundError:
            return SFTP_NO_SUCH_FILE
        except OSError as error:
            return _status(error)
        return SFTP_OK


def _status(error: OSError) -> int:
    return int(paramiko.SFTPServer.convert_errno(error.errno or 0))


def _attributes(entry: os.DirEntry[str]) -> paramiko.SFTPAttributes:
    attributes = paramiko.SFTPAttributes.from_stat(entry.stat(follow_symlinks=False))
    attributes.filename = entry.name
    return attributes


# -- the web server in front of the folder ------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    at: datetime
    path: str
    status: int


class PublicWeb:
    """The host's web server: ``url`` + a path serves that file below ``root`` (a folder's
    index.html). ``not_found`` answers the next that many requests with 404, whatever is there."""

    def __init__(self, root: Path, *, not_found: int = 0) -> None:
        self.root = root.resolve()
        self.not_found = not_found
        self.answers: list[Answered] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="public-web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def statuses(self, paths: Iterable[str] | None = None) -> list[int]:
        with self._lock:
            return [a.status for a in self.answers if paths is None or a.path in paths]

    def __enter__(self) -> PublicWeb:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _answer(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            if self.not_found > 0:
                self.not_found -= 1
                return 404, b"not found"
        relative = os.path.normpath("/" + unquote(urlsplit(path).path)).lstrip("/")
        file = self.root / relative
        if file.is_dir():
            file = file / "index.html"
        try:
            return 200, file.read_bytes()
        except OSError:
            return 404, b"not found"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = web._answer(self.path)
                with web._lock:
                    web.answers.append(Answered(datetime.now(UTC), urlsplit(self.path).path, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

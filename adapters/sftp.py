"""SFTP: the built-in website, copied to the authority's own web host.

Where the authority's readers know an address on its own web server (``www.kreis.de/warnungen/``)
rather than one Herold serves, Herold still writes the built-in static site on this machine and
this channel copies it there, as a channel of wave 1: nothing goes to a platform before the copy
is public. A delivery

1. waits until the built-in website has written the item's page on this machine (both run in
   wave 1, side by side: the site's own delivery may not have finished yet);
2. copies every file of the site that changed since the last copy, and only those: a manifest
   kept on this machine (``<data_dir>/sync/<authority>/<channel>.json``) says what was uploaded,
   by content hash; files unchanged since then (size, modification time, inode) are not even
   read again. Each file goes to a temporary name beside its place and is renamed over the old
   one (``posix-rename``), so a visitor never sees half a page; missing folders are made;
   files Herold uploaded and the site no longer has are removed. Each file is recorded as soon as
   it is up, so a copy that breaks off resumes where it stopped;
3. a moment later (``settle_seconds``) copies again what changed meanwhile: the site rewrites
   its lists (index, archive, feeds) just after the item page;
4. fetches the item's public address until it answers 200 with the item and this announcement
   in it (adapters.port.remote): until then the delivery is retried, and its status says so.

Only the site's own files are copied: never Herold's bookkeeping (which the site keeps outside
its directory anyway), nor dotfiles (the site's half-written ``.*.part`` files).

The server's host key is always checked, against ``host_key`` or a ``known_hosts`` file, before
the password or key is used: a server that shows another key gets nothing. Updates, all-clears,
corrections and withdrawals are new pages on the site, so each is simply another copy: the channel
has no threads and edits nothing (editing would only add a copy per earlier message of a withdrawn
item, each the same).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import io
import itertools
import json
import os
import posixpath
import socket
import stat as modes
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import IO, Any

import paramiko
import structlog
from paramiko.pkey import UnknownKeyType
from paramiko.ssh_exception import IncompatiblePeer
from pydantic import Field, field_validator, model_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    CredentialsError,
    DeliveryError,
    Idempotency,
    MediaRule,
    PermanentError,
    Post,
    Receipt,
    TransientError,
    Wave,
    confirm_public,
)
from adapters.port.http import environment_for, session

log = structlog.get_logger("herold.sftp")

# How soon to look again while the built-in website has not written the item page yet: its own
# delivery runs at the same moment and takes well under a second.
PAGE_LOOK_AGAIN_SECONDS = 2.0
VARIABLE = r"^[A-Za-z_][A-Za-z0-9_]*$"  # the name of an environment variable
PART = ".herold-part"  # the suffix of a file on its way up


def public_key(line: str) -> paramiko.PKey:
    """A public key from an OpenSSH line: "ssh-ed25519 AAAA… [comment]" (as in the server's .pub
    file; a known_hosts line, with the host's names in front, does too)."""
    words = line.split()
    for kind, blob in itertools.pairwise(words):
        try:
            return paramiko.PKey.from_type_string(kind, base64.b64decode(blob, validate=True))
        except (UnknownKeyType, binascii.Error, ValueError):
            continue
        except paramiko.SSHException as error:
            raise ValueError(f"is not a valid {kind} key ({error})") from None
    raise ValueError('is not a public key line like "ssh-ed25519 AAAAC3Nza…" (as in the server\'s .pub file)')


class SftpSettings(ChannelSettings):
    host: str = Field(min_length=1, pattern=r"^[^\s/:@]+$|^\[[0-9A-Fa-f:.]+\]$")
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    directory: str  # the site's folder on the server; relative paths start at the login folder
    password_env: str | None = Field(default=None, pattern=VARIABLE)
    private_key_env: str | None = Field(default=None, pattern=VARIABLE)  # the key itself, "-----BEGIN …"
    private_key_passphrase_env: str | None = Field(default=None, pattern=VARIABLE)
    host_key: str | None = None  # "ssh-ed25519 AAAA…": the server's public host key
    known_hosts: Path | None = None  # or an OpenSSH known_hosts file naming the server
    settle_seconds: float = Field(default=1.5, ge=0, le=60)  # before the second pass (the site's lists)
    delete_removed: bool = True  # remove files Herold uploaded once the site no longer has them

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str) -> str:
        if not value.strip() or ".." in value.strip().split("/"):
            raise ValueError('is the site\'s folder on the server, like "/var/www/warnungen" (no "..")')
        return posixpath.normpath(value.strip())

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is not None:
            public_key(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> SftpSettings:
        if not (self.password_env or self.private_key_env):
            raise ValueError("needs password_env or private_key_env (the name of the variable holding it)")
        if not (self.host_key or self.known_hosts):
            raise ValueError(
                "needs host_key (the server's public host key) or known_hosts: "
                "Herold never logs in to a server it cannot recognise"
            )
        return self


@dataclass(frozen=True)
class Copied:
    """A file as it was uploaded: its content, and how it looked on this machine then."""

    sha256: str
    size: int
    mtime_ns: int
    inode: int

    def looks_alike(self, stat: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.inode) == (stat.st_size, stat.st_mtime_ns, stat.st_ino)


class Manifest:
    """What was uploaded to one target, by path below the site: a snapshot (JSON), and a journal
    of what went up since (JSON lines), appended after every file so that a copy that breaks
    off loses nothing it did. A complete copy folds the journal into the snapshot."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self.journal = path.with_suffix(".log")
        self.files: dict[str, Copied] = {}
        self._open: IO[str] | None = None

    def load(self) -> Manifest:
        try:
            snapshot = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            snapshot = {}
        # Another server or folder: what is there is unknown, so everything goes up again.
        if snapshot.get("target") == self.target:
            self.files = {name: Copied(*values) for name, values in snapshot.get("files", {}).items()}
        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        if lines and _json(lines[0]).get("target") == self.target:
            for line in lines[1:]:
                entry = _json(line)  # the last line may be cut off by a crash: it is skipped
                if "put" in entry:
                    self.files[entry["put"]] = Copied(*entry["as"])
                elif "gone" in entry:
                    self.files.pop(entry["gone"], None)
        return self

    def put(self, name: str, copied: Copied) -> None:
        self.files[name] = copied
        self._append({"put": name, "as": astuple(copied)})

    def gone(self, name: str) -> None:
        self.files.pop(name, None)
        self._append({"gone": name})

    def _append(self, entry: dict[str, Any]) -> None:
        if self._open is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open = open(self.journal, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the copy
            # The journal starts afresh, with all that is known: an earlier one, cut off, is in there.
            self._open.write(json.dumps({"target": self.target}) + "\n")
            for name, copied in self.files.items():
                self._open.write(json.dumps({"put": name, "as": astuple(copied)}) + "\n")
        self._open.write(json.dumps(entry) + "\n")
        self._open.flush()  # in the file once written: the process may die before the copy ends

    def save(self) -> None:
        """Fold the journal into the snapshot (a complete copy, or changes of bookkeeping only)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        files = {name: astuple(copied) for name, copied in sorted(self.files.items())}
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        partial.write_text(json.dumps({"target": self.target, "files": files}), encoding="utf-8")
        partial.replace(self.path)
        self.close()
        self.journal.unlink(missing_ok=True)

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None


def _json(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Change:
    name: str  # below the site, with "/"
    local: Path


# One lock per manifest in this process: deliveries of one channel run at once in several threads.
_locks: dict[Path, threading.Lock] = {}
_locks_lock = threading.Lock()


class SftpSync(Channel):
    type = "sftp"
    label = "SFTP (eigener Webserver)"
    capabilities = Capabilities(
        wave=Wave.website,
        text=None,
        template="channels/website.j2",  # the text is not sent anywhere: the site's own pages are copied
        media=MediaRule(count=4, alt_text=1000),  # as the built-in website shows them
        idempotency=Idempotency.natural,  # copying the same files again changes nothing
    )
    Settings = SftpSettings
    settings: SftpSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = environment_for(session(self.deadline), self.authority.base_url)

    # -- where things are ---------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def target(self) -> str:
        """What the manifest is of: another server, account or folder starts afresh."""
        return f"sftp://{self.settings.username}@{self.where}/{self.settings.directory}"

    @property
    def manifest_path(self) -> Path:
        return self.context.media / "sync" / self.authority.slug / f"{self.id}.json"

    def _site(self) -> Path:
        if self.context.site is None:
            raise PermanentError(
                "this authority has no built-in website to copy: add a channel of type website "
                "(its pages are what this channel copies to the web host)"
            )
        return self.context.site

    def _remote(self, name: str) -> str:
        return posixpath.join(self.settings.directory, name)

    def _page(self, site: Path, post: Post) -> tuple[str, Path]:
        """The item page's path below the site, and its file on this machine."""
        url = post.item_url or post.variant.link
        base = self.authority.base_url
        if not url.startswith(base):
            raise PermanentError(f"the item's address {url} is not below the authority's base_url {base}")
        path = url.removeprefix(base).split("#", 1)[0].split("?", 1)[0]
        name = path + "index.html" if path.endswith("/") or not path else path
        local = site / name
        if not local.resolve().is_relative_to(site.resolve()):
            raise PermanentError(f"the item's address {url} leads out of the website's directory")
        return name, local

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, post: Post) -> Receipt:
        site = self._site()
        name, page = self._page(site, post)
        try:
            written = post.announcement_id in page.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            written = False
        if not written:
            raise TransientError("waiting for the built-in website to write the item page",
                                 retry_after=PAGE_LOOK_AGAIN_SECONDS)  # fmt: skip
        with self._serialised():
            moved = self._sync(site)
            if moved and self.settings.settle_seconds:
                time.sleep(self.settings.settle_seconds)  # the lists follow the item page within moments
            if moved:
                moved += self._sync(site)
        # Outside the lock: the other deliveries' copies need not wait for this page to answer.
        try:
            confirm_public(self.http, post.item_url or post.variant.link, post.item_id, post.announcement_id,
                           deadline=self.deadline)  # fmt: skip
        except TransientError:
            if not moved:
                # Nothing was copied this time and the page is still not public: the host may
                # have lost it (restored, cleaned up). The next attempt copies the item again.
                with self._serialised():
                    self._forget_folder(posixpath.dirname(name))
            raise
        return Receipt(platform_id=self._remote(name))

    def mirror(self) -> int:
        """Copy what changed on the site since the last copy (the engine asks after the site
        changed between deliveries); no page is waited for."""
        site = self._site()
        with self._serialised():
            return self._sync(site)

    # -- copying -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _serialised(self) -> Iterator[None]:
        """One copy of this channel at a time: in this process (threads), and across processes
        (a file lock beside the manifest). Waiting is bounded; then the delivery tries again later."""
        path = self.manifest_path
        with _locks_lock:
            lock = _locks.setdefault(path, threading.Lock())
        waited = time.monotonic() + self.deadline
        if not lock.acquire(timeout=self.deadline):
            raise TransientError("another copy to the web host is still running", retry_after=1.0)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path.with_suffix(".lock"), "w") as held:
                while True:
                    try:
                        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > waited:
                            raise TransientError(
                                "another process is copying to the web host", retry_after=1.0
                            ) from None
                        time.sleep(0.05)
                try:
                    yield
                finally:
                    fcntl.flock(held, fcntl.LOCK_UN)
        finally:
            lock.release()

    def _forget_folder(self, folder: str) -> None:
        manifest = Manifest(self.manifest_path, self.target).load()
        prefix = folder.rstrip("/") + "/" if folder else ""
        for name in [n for n in manifest.files if n.startswith(prefix) and "/" not in n[len(prefix) :]]:
            manifest.gone(name)
        manifest.save()

    def _changes(self, site: Path, manifest: Manifest) -> tuple[list[Change], list[str], bool]:
        """What differs from the manifest: files to upload, files gone, and whether only the
        manifest's own bookkeeping changed (a file rewritten with the same content)."""
        changes: list[Change] = []
        seen: set[str] = set()
        touched = False
        skip = (self.context.media / "state").resolve()
        for folder, folders, files in os.walk(site):
            here = Path(folder)
            # Never Herold's bookkeeping (kept outside the site, but a directory may be set
            # oddly), nor hidden files: the site's half-written ".*.part", a server's .htaccess.
            folders[:] = sorted(f for f in folders if not f.startswith(".") and (here / f).resolve() != skip)
            for file in sorted(files):
                if file.startswith("."):
                    continue
                local = here / file
                try:
                    stat = local.lstat()
                except FileNotFoundError:
                    continue
                if not _regular(stat):
                    continue  # links could reach anywhere on this machine
                name = local.relative_to(site).as_posix()
                seen.add(name)
                known = manifest.files.get(name)
                if known is not None and known.looks_alike(stat):
                    continue
                if known is None or known.size != stat.st_size:
                    changes.append(Change(name, local))  # new or resized: no hash can save the upload
                    continue
                try:
                    digest = _hash(local)
                except FileNotFoundError:
                    continue  # replaced meanwhile: the next copy takes it
                if known.sha256 == digest:  # touched, not changed (same size, checked above)
                    manifest.files[name] = Copied(digest, stat.st_size, stat.st_mtime_ns, stat.st_ino)
                    touched = True
                    continue
                changes.append(Change(name, local))
        # A site that shows no file at all is missing or being moved, not emptied: remove nothing.
        gone = sorted(set(manifest.files) - seen) if self.settings.delete_removed and seen else []
        # Deepest first: item pages and their images before the lists that link to them.
        changes.sort(key=lambda change: (-change.name.count("/"), change.name))
        return changes, gone, touched

    def _sync(self, site: Path) -> int:
        """Copy what changed; returns the number of files uploaded or removed."""
        manifest = Manifest(self.manifest_path, self.target).load()
        try:
            changes, gone, touched = self._changes(site, manifest)
            if not changes and not gone:
                if touched:
                    manifest.save()
                return 0
            with self._connection() as sftp:
                self._root(sftp)
                made: set[str] = set()
                for change in changes:
                    self._upload(sftp, change, manifest, made)
                for name in gone:
                    with self._failures(name), contextlib.suppress(FileNotFoundError):  # gone there already
                        sftp.remove(self._remote(name))
                    manifest.gone(name)
            manifest.save()
        finally:
            manifest.close()
        log.info("copied to the web host", channel=self.id, uploaded=len(changes), removed=len(gone))
        return len(changes) + len(gone)

    def _upload(self, sftp: paramiko.SFTPClient, change: Change, manifest: Manifest, made: set[str]) -> None:
        try:
            # Never through a link (one swapped in since the walk could point anywhere on this machine).
            with os.fdopen(os.open(change.local, os.O_RDONLY | os.O_NOFOLLOW), "rb") as source:
                stat = os.fstat(source.fileno())
                if not modes.S_ISREG(stat.st_mode):
                    return
                data = source.read()  # what is read is what is recorded
        except FileNotFoundError:
            return  # removed meanwhile: the next copy sees that
        except OSError as error:
            if error.errno == errno.ELOOP:
                log.warning("not copied: a link, not a file", channel=self.id, file=change.name)
                return
            raise PermanentError(f"cannot read {change.local} on this machine: {error.strerror}") from None
        final = self._remote(change.name)
        folder, file = posixpath.split(final)
        temporary = posixpath.join(folder, f".{file}{PART}")
        with self._failures(change.name):
            self._folder(sftp, folder, made)
            sftp.putfo(io.BytesIO(data), temporary, file_size=len(data), confirm=True)
            try:
                sftp.posix_rename(temporary, final)
            except OSError as error:
                # Only a server without the posix-rename extension falls back (a plain rename
                # cannot replace, so the old file goes first); any other failure (quota, a full
                # disk) must not take the live page down.
                if error.errno is not None or "unsupported" not in str(error).lower():
                    raise
                with contextlib.suppress(FileNotFoundError):
                    sftp.remove(final)
                sftp.rename(temporary, final)
        manifest.put(change.name, Copied(hashlib.sha256(data).hexdigest(), len(data), stat.st_mtime_ns, stat.st_ino))

    def _folder(self, sftp: paramiko.SFTPClient, folder: str, made: set[str]) -> None:
        """Make the folder and the ones above it, up to the site's root, where missing."""
        root = self.settings.directory
        missing: list[str] = []
        while folder and folder not in made and folder != root and folder not in {"/", "."}:
            try:
                sftp.stat(folder)
                made.add(folder)  # there already: not asked again in this copy
                break
            except FileNotFoundError:
                missing.append(folder)
                folder = posixpath.dirname(folder)
        for each in reversed(missing):
            sftp.mkdir(each)
            made.add(each)

    def _root(self, sftp: paramiko.SFTPClient) -> None:
        directory = self.settings.directory
        with self._failures(""):
            try:
                sftp.stat(directory)
            except FileNotFoundError:
                raise PermanentError(
                    f"the directory {directory} does not exist on {self.where}: create it "
                    "(Herold makes the folders below it, but not the site's own)"
                ) from None

    @contextlib.contextmanager
    def _failures(self, name: str) -> Iterator[None]:
        """The server's refusals and a broken connection, as the engine needs to know them."""
        path = self._remote(name) if name else self.settings.directory
        try:
            yield
        except PermissionError:
            raise PermanentError(
                f"the server does not let {self.settings.username} write {path} (permission denied)"
            ) from None
        except FileNotFoundError:
            raise PermanentError(f"the server says {path} does not exist (a folder on its way is missing)") from None
        except (EOFError, paramiko.SSHException, OSError) as error:
            # A broken connection, or the server's own refusal of one file (SFTP "failure": a
            # full disk, a quota): either may pass.
            raise TransientError(
                f"copying {path} to {self.where} failed ({_reason(error)}); "
                "the next attempt continues where this one stopped"
            ) from None

    # -- connecting ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[paramiko.SFTPClient]:
        transport = self._connect()
        # Opening the session waits for the server's answers with no timeout of paramiko's own:
        # if they have not come by the deadline, the connection is closed, which ends the wait.
        watchdog = threading.Timer(self.deadline, transport.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                sftp = paramiko.SFTPClient.from_transport(transport)
            finally:
                watchdog.cancel()
            if sftp is None:
                raise TransientError(f"{self.where} opened no SFTP session")
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(self.deadline)  # every answer, within the call deadline
            with sftp:
                yield sftp
        except (EOFError, paramiko.SSHException, OSError) as error:
            raise TransientError(f"the SFTP session with {self.where} failed ({_reason(error)})") from None
        finally:
            transport.close()

    def _connect(self) -> paramiko.Transport:
        """A transport to the server, its host key checked, logged in."""
        known = self._host_keys()
        try:
            sock = socket.create_connection((self.settings.host.strip("[]"), self.settings.port), timeout=self.deadline)
        except OSError as error:
            raise TransientError(f"cannot connect to {self.where} ({_reason(error)})") from None
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = transport.handshake_timeout = self.deadline
            transport.auth_timeout = transport.channel_timeout = self.deadline
            options = transport.get_security_options()
            # Ask for the kind of key we know, so that a server with several shows that one.
            wanted = [t for key in known for t in _algorithms(key)]
            options.key_types = [*dict.fromkeys(t for t in wanted if t in options.key_types),
                                 *(t for t in options.key_types if t not in wanted)]  # fmt: skip
            try:
                transport.start_client(timeout=self.deadline)
            except IncompatiblePeer as error:
                raise PermanentError(f"{self.where} and Herold share no SSH algorithm ({error})") from None
            except (EOFError, paramiko.SSHException, OSError) as error:
                raise TransientError(f"no SSH connection with {self.where} ({_reason(error)})") from None
            self._verify(transport.get_remote_server_key(), known)
            self._log_in(transport)
        except BaseException:
            transport.close()
            raise
        return transport

    def _host_keys(self) -> list[paramiko.PKey]:
        keys = [public_key(self.settings.host_key)] if self.settings.host_key else []
        if self.settings.known_hosts is not None:
            path = self._known_hosts_path()
            try:
                hosts = paramiko.HostKeys(str(path))
            except OSError as error:
                raise PermanentError(f"cannot read known_hosts {path}: {error.strerror or error}") from None
            except (paramiko.SSHException, ValueError) as error:  # a line that is no key
                raise PermanentError(f"known_hosts {path} is not a known_hosts file: {error}") from None
            found = hosts.lookup(self._known_as())
            keys += list(found.values()) if found else []
        return keys

    def _known_hosts_path(self) -> Path:
        assert self.settings.known_hosts is not None
        path = self.settings.known_hosts.expanduser()
        return path if path.is_absolute() else self.context.media / path

    def _known_as(self) -> str:
        """The server's name in known_hosts, as OpenSSH writes it."""
        host = self.settings.host.strip("[]")
        return host if self.settings.port == 22 else f"[{host}]:{self.settings.port}"

    def _verify(self, shown: paramiko.PKey, known: Sequence[paramiko.PKey]) -> None:
        if any(shown.asbytes() == key.asbytes() for key in known):
            return
        seen = f"{shown.get_name()} {shown.fingerprint}"
        if not known:
            raise PermanentError(
                f"known_hosts {self._known_hosts_path()} has no key for {self._known_as()}; the server shows {seen}. "
                "Check that fingerprint with the server's administrators, then add it: nothing was sent"
            )
        raise PermanentError(
            f"the server at {self.where} shows the host key {seen}, not the one configured "
            f"({', '.join(f'{k.get_name()} {k.fingerprint}' for k in known)}). If the server's key was "
            "changed on purpose, configure the new one; otherwise someone may be in between. Nothing was sent"
        )

    def _log_in(self, transport: paramiko.Transport) -> None:
        user = self.settings.username
        password = self._secret("password") if self.settings.password_env else None
        try:
            remaining: list[str] = []
            if self.settings.private_key_env:
                remaining = transport.auth_publickey(user, self._private_key())
                # A server that asks for a key and a password (AuthenticationMethods) gets both.
                if remaining and password is not None:
                    remaining = transport.auth_password(user, password)
            elif password is not None:
                remaining = transport.auth_password(user, password)
        except paramiko.BadAuthenticationType as error:
            raise CredentialsError(
                f"{self.where} does not let {user} log in this way (it allows: {', '.join(error.allowed_types)})"
            ) from None
        except paramiko.AuthenticationException:
            raise CredentialsError(f"{self.where} refused the {self._credential()} of {user}") from None
        except paramiko.SSHException as error:
            if transport.is_active():  # still connected: the server said no (keyboard-interactive)
                raise CredentialsError(f"{self.where} refused the {self._credential()} of {user}") from None
            raise TransientError(
                f"the connection to {self.where} broke off while logging in ({_reason(error)})"
            ) from None
        if remaining or not transport.is_authenticated():
            raise CredentialsError(f"{self.where} wants more to log {user} in ({', '.join(remaining) or 'unknown'})")

    def _credential(self) -> str:
        return "key" if self.settings.private_key_env else "password"

    def _secret(self, name: str) -> str:
        try:
            return self.context.secrets[name]
        except KeyError:
            variable = getattr(self.settings, f"{name}_env")
            raise PermanentError(f"the secret from {variable} is not available") from None

    def _private_key(self) -> paramiko.PKey:
        text = self._secret("private_key")
        passphrase = self._secret("private_key_passphrase") if self.settings.private_key_passphrase_env else None
        variable = self.settings.private_key_env
        for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return kind.from_private_key(io.StringIO(text.strip() + "\n"), password=passphrase)
            except paramiko.PasswordRequiredException:
                raise PermanentError(
                    f"the private key in {variable} is protected by a passphrase: set private_key_passphrase_env"
                ) from None
            except (paramiko.SSHException, ValueError, TypeError):
                continue
        # Never the value itself: it may be the key in a form we do not read.
        raise PermanentError(
            f"{variable} holds no private key Herold can read (Ed25519, ECDSA or RSA, the file's whole text "
            'from "-----BEGIN" on; with a passphrase, a correct private_key_passphrase_env)'
        )

    # -- the setup check -----------------------------------------------------------------------

    def check(self) -> Sequence[str]:
        """Connect, check the host key, log in and look at the directory; upload nothing."""
        problems = []
        if self.context.site is None:
            problems.append("this authority has no built-in website to copy: add a channel of type website")
        try:
            with self._connection() as sftp:
                self._root(sftp)
        except DeliveryError as error:
            problems.append(error.reason)
        return problems

    def close(self) -> None:
        self.http.close()


def _regular(stat: os.stat_result) -> bool:
    return modes.S_ISREG(stat.st_mode)


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _algorithms(key: paramiko.PKey) -> list[str]:
    """The host key algorithms that show this key."""
    name = key.get_name()
    return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if name == "ssh-rsa" else [name]


def _reason(error: BaseException) -> str:
    """A short reason without anything secret (paramiko's messages carry no credentials)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error).strip() or type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    return text

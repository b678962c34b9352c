"""Real PostgreSQL and Redis servers for tests and benchmarks, private to one run.

Each server gets a temporary directory and a free loopback port of its own, is started from
the Debian binaries (scripts/install-test-services installs them) and is stopped by its pid.
``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def wait_until_serving(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Until ``herold serve`` (started as ``process``) answers its health check on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if connection.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"herold serve did not start (exit code {process.poll()})")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(5)


@dataclass
class Postgres:
    """A private PostgreSQL cluster: ``url`` is a SQLAlchemy URL of an empty database."""

    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="herold-pg-")))
    process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def bindir() -> Path:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        if not found:
            raise RuntimeError("PostgreSQL is not installed: run scripts/install-test-services (make test does)")
        return Path(found[-1]).parent

    def _as_owner(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        owner = pwd.getpwnam("postgres")
        return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    def start(self) -> Postgres:
        data, log = self.directory / "data", self.directory / "server.log"
        if os.geteuid() == 0:
            os.chown(self.directory, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
        bindir = self.bindir()
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "herold", "-A", "trust", "-E", "UTF8", "--no-locale"],
            check=True,
            capture_output=True,
            cwd=self.directory,
            **self._as_owner(),
        )
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.directory),
                    "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off", "-c", "max_connections=200",
                ],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.directory, **self._as_owner(),
            )  # fmt: skip
        _wait_for_port(self.port, self.process, 30, log)
        self._psql("CREATE DATABASE herold")
        return self

    def _psql(self, sql: str) -> None:
        bindir = self.bindir()
        for _ in range(50):  # the port opens a moment before connections are accepted
            done = subprocess.run(
                [str(bindir.parent / "bin" / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "herold",
                 "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"psql failed: {done.stderr}")

    def database(self, name: str) -> str:
        """A fresh database in this cluster, as a SQLAlchemy URL."""
        self._psql(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://herold@127.0.0.1:{self.port}/{name}"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://herold@127.0.0.1:{self.port}/herold"

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # "fast shutdown": roll back, disconnect, stop
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="herold-redis-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("Redis is not installed: run scripts/install-test-services (make test does)")
        log = self.directory / "server.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.directory), "--daemonize", "no", "--protected-mode", "yes"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_for_port(self.port, self.process, 15, log)
        return self

    def restart_empty(self) -> None:
        """Stop and start again on the same port with nothing in it (what a crash without persistence does)."""
        _stop(self.process, signal.SIGKILL)
        self.start()

    def stop(self) -> None:
        _stop(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)

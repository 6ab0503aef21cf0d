"""A real PostgreSQL server for tests, in a temp data directory on a free loopback port.

PostgreSQL refuses to run as root (CI and these machines are root), so as root the server
runs as Debian's unprivileged `postgres` system user, which owns the temp directory; as a
normal user it runs as that user. Nothing under /etc/postgresql or /var/lib is used.

One server per test session. Each test gets its own database, made with
`CREATE DATABASE ... TEMPLATE` from a database migrated once (a file copy inside the server,
tens of milliseconds), so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from dashboard.db.engine import make_engine
from dashboard.db.migrate import upgrade

PG_BIN = Path(os.environ.get("LEADSYNC_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 30.0
SUPERUSER = "leadsync"
TEMPLATE = "leadsync_template"


class PostgresNotInstalled(RuntimeError):
    """The Debian package `postgresql` is missing."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: `postgres` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresNotInstalled("no 'postgres' system user: apt-get install postgresql") from exc


class PostgresServer:
    """initdb + postgres in a temp dir, trusting loopback connections (tests only)."""

    def __init__(self) -> None:
        if not (PG_BIN / "postgres").exists():
            raise PostgresNotInstalled(f"{PG_BIN}/postgres not found: apt-get install postgresql")
        self.user = _server_user()
        self.directory = Path(tempfile.mkdtemp(prefix="leadsync-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    def _as_server_user(self, *command: str) -> list[str]:
        if self.user is None:
            return list(command)
        return ["runuser", "-u", self.user.pw_name, "--", *command]

    def start(self) -> PostgresServer:
        """Create the cluster and start the server; raise with its log if it does not come up."""
        if self.user is not None:
            os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.directory, 0o700)
        subprocess.run(
            self._as_server_user(
                str(PG_BIN / "initdb"),
                "-D", str(self.data),
                "-U", SUPERUSER,
                "--auth=trust",  # loopback only, a throwaway cluster
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        log = self.directory / "server.log"
        self.process = subprocess.Popen(
            self._as_server_user(
                str(PG_BIN / "postgres"),
                "-D", str(self.data),
                "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.directory}",
                # A test cluster: durability buys nothing, speed does.
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=300",
            ),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{log.read_text()[-3000:]}")
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"postgres did not start in {START_TIMEOUT}s:\n{log.read_text()[-3000:]}"
        )

    def server_pid(self) -> int | None:
        """The postmaster's own process id (under runuser when we are root)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            pid = self.server_pid()
            if pid is not None:  # "fast" shutdown: ends open sessions, then exits
                os.kill(pid, signal.SIGINT)
            else:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database of this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql.encode())

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`); returns its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, closing whatever connections a test left open on it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session."""
    try:
        server = PostgresServer()
    except PostgresNotInstalled as exc:
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated to head once; tests copy it with CREATE DATABASE ... TEMPLATE."""
    postgres_server.execute(f'CREATE DATABASE "{TEMPLATE}"')
    engine = make_engine(postgres_server.url(TEMPLATE))
    upgrade(engine)
    engine.dispose()  # a template must have no connections while it is copied
    return TEMPLATE


@pytest.fixture
def postgres_database(
    postgres_server: PostgresServer, postgres_template: str
) -> Iterator[Callable[[], str]]:
    """Make fresh migrated databases for this test; returns the URL maker. Dropped after."""
    made: list[str] = []

    def make() -> str:
        made.append(postgres_server.create_database(postgres_template))
        return postgres_server.url(made[-1])

    yield make
    for name in made:
        postgres_server.drop_database(name)

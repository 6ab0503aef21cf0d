"""A real Dovecot IMAP server for tests, run from a generated config in a temp dir.

Nothing under /etc/dovecot, /run or /var/lib is used: base_dir, state_dir, the log,
the passwd-file, the TLS files and the Maildirs all live in one temp dir that
`stop()` removes. Works as root (mail owned by `nobody`) and as a normal user.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import imapclient
import pytest

from tests.support.servers.tls import write_certificates

DOVECOT_BIN = shutil.which("dovecot") or "/usr/sbin/dovecot"
START_TIMEOUT = 10.0

# (mailbox, special-use flag) per layout; INBOX always exists.
LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "gmail_pt": (
        ("[Gmail]/E-mails enviados", "\\Sent"),
        ("[Gmail]/Rascunhos", "\\Drafts"),
        ("[Gmail]/Lixeira", "\\Trash"),
        ("[Gmail]/Spam", "\\Junk"),
        ("[Gmail]/Todos os e-mails", "\\All"),
    ),
    "no_special_use": (("Enviados", ""), ("Lixo", "")),
}

CONFIG = Template((Path(__file__).parent / "dovecot.conf.template").read_text())

# Chroot needs root; without it every service runs as the invoking user.
NO_CHROOT = "  chroot =\n"
ROOTLESS = "".join(f"service {name} {{\n{NO_CHROOT}}}\n" for name in ("ipc", "old-stats"))


class DovecotNotInstalled(RuntimeError):
    """Raised when the dovecot binary is missing."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mailbox_block(name: str, flag: str) -> str:
    """Return the config block that auto-creates and subscribes one mailbox."""
    use = f"    special_use = {flag}\n" if flag else ""
    return f'  mailbox "{name}" {{\n    auto = subscribe\n{use}  }}'


def _identity(euid: int) -> dict[str, Any]:
    """Return the users and the mail uid/gid Dovecot runs with for this euid."""
    if euid == 0:
        # As root, mail goes to `nobody`: a real uid above first_valid_uid, not root.
        mail = pwd.getpwnam("nobody")
        return {
            "uid": mail.pw_uid, "gid": mail.pw_gid, "internal_user": "dovecot",
            "login_user": "dovenull", "internal_group": "dovecot", "rootless": "",
            "anvil_chroot": "", "login_chroot": "",
        }  # fmt: skip
    me = pwd.getpwuid(euid)
    return {
        "uid": me.pw_uid, "gid": me.pw_gid, "internal_user": me.pw_name,
        "login_user": me.pw_name, "internal_group": grp.getgrgid(me.pw_gid).gr_name,
        "rootless": ROOTLESS, "anvil_chroot": NO_CHROOT, "login_chroot": NO_CHROOT,
    }  # fmt: skip


class DovecotServer:
    """One Dovecot process tree on 127.0.0.1: IMAPS on `port`, STARTTLS on `starttls_port`."""

    host = "127.0.0.1"

    def __init__(
        self,
        layout: str = "gmail_pt",
        max_userip_connections: int = 50,
        oauth_introspection_url: str | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choose from {sorted(LAYOUTS)}")
        self.layout = layout
        self.max_userip_connections = max_userip_connections
        # With an introspection URL (user:password@ for its client auth), XOAUTH2 and
        # OAUTHBEARER logins are checked there too (tests/support/servers/oauth.py).
        self.oauth_introspection_url = oauth_introspection_url
        self.port = self.starttls_port = 0
        self._directory: Path | None = None
        self._ident = _identity(os.geteuid())
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def directory(self) -> Path:
        """The temp dir holding config, certificates, users, mail and logs."""
        if self._directory is None:
            raise RuntimeError("DovecotServer is not started")
        return self._directory

    @property
    def ca_file(self) -> str:
        """Path of the PEM CA certificate that signed the server certificate."""
        return str(self.directory / "ca.pem")

    @property
    def log_path(self) -> Path:
        """Path of Dovecot's own log file."""
        return self.directory / "dovecot.log"

    def start(self) -> DovecotServer:
        """Write the config, start `dovecot -F` and wait until both ports accept."""
        if not os.access(DOVECOT_BIN, os.X_OK):
            raise DovecotNotInstalled(
                f"dovecot not found at {DOVECOT_BIN}: install the Debian package dovecot-imapd"
            )
        # Not pytest's tmp_path: its 0700 parents block dovenull/nobody, and unix
        # sockets in base_dir need a short path (108-byte limit).
        self._directory = Path(tempfile.mkdtemp(prefix="leadsync-dovecot-"))
        self._directory.chmod(0o755)
        self._prepare_directory()
        for _attempt in range(3):
            self.port, self.starttls_port = free_port(), free_port()
            self._write_config()
            if self._launch():
                return self
            self._terminate()
            if "Address already in use" not in self.log_tail():
                break  # a port race is worth retrying, anything else is not
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"dovecot did not accept connections in {START_TIMEOUT} s:\n{tail}")

    def stop(self) -> None:
        """Terminate Dovecot, wait for it and remove the temp dir."""
        self._terminate()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def add_user(self, address: str, password: str) -> None:
        """Add a login; the running server sees it on the next LOGIN."""
        if any(ch in address + password for ch in ":/\n") or address.startswith("."):
            raise ValueError("address/password must not contain ':', '/' or newlines")
        path = self.directory / "users" / address
        if path.exists():
            raise ValueError(f"user {address} exists")  # a rewrite could be cached for 1 s
        path.write_text(f"{address}:{{PLAIN}}{password}::::::\n")
        path.chmod(0o644)  # read by the auth process, which runs as `dovecot`
        # Dovecot creates "[Gmail]" lazily; made now, it is listed (\Noselect) from the
        # first LIST on, as Gmail does.
        local, _, domain = address.partition("@")
        home = self.directory / "mail" / domain / local
        parents = {name.rpartition("/")[0] for name, _ in LAYOUTS[self.layout]} - {""}
        self._make_mail_dirs(home, *(home / "Maildir" / parent for parent in parents))

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of Dovecot's log and of its stderr."""
        text = ""
        for path in (self.directory / "stderr.log", self.log_path):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _prepare_directory(self) -> None:
        """Create certificates, the passwd-file and the mail root."""
        write_certificates(self.directory)
        (self.directory / "users").mkdir(mode=0o755)
        self._make_mail_dirs(self.directory / "mail")

    def _make_mail_dirs(self, *paths: Path) -> None:
        """Create directories (and missing parents) owned by the mail uid."""
        uid, gid = int(self._ident["uid"]), int(self._ident["gid"])
        for path in paths:
            missing = [p for p in (path, *path.parents) if not p.exists()]
            for directory in reversed(missing):
                directory.mkdir(mode=0o700)
                os.chown(directory, uid, gid)

    def _write_config(self) -> None:
        """Write dovecot.conf for the current ports and layout."""
        blocks = "\n".join(_mailbox_block(name, flag) for name, flag in LAYOUTS[self.layout])
        config = CONFIG.substitute(
            d=self.directory, port=self.port, starttls_port=self.starttls_port,
            max_conn=self.max_userip_connections, mailboxes=blocks, **self._oauth(),
            **self._ident,
        )  # fmt: skip
        (self.directory / "dovecot.conf").write_text(config)

    def _oauth(self) -> dict[str, str]:
        """The config parts of the oauth2 passdb, empty without an introspection URL."""
        if not self.oauth_introspection_url:
            return {"oauth_mechanisms": "", "oauth_passdb": ""}
        settings = self.directory / "dovecot-oauth2.conf.ext"
        settings.write_text(
            f"introspection_mode = post\nintrospection_url = {self.oauth_introspection_url}\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        )
        settings.chmod(0o644)  # read by the auth process, which runs as `dovecot`
        passdb = (
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {settings}\n}}\n"
        )
        return {"oauth_mechanisms": " xoauth2 oauthbearer", "oauth_passdb": passdb}

    def _launch(self) -> bool:
        """Start the master process; return True once both ports accept connections."""
        with (self.directory / "stderr.log").open("ab") as stderr:
            self._proc = subprocess.Popen(
                [DOVECOT_BIN, "-F", "-c", str(self.directory / "dovecot.conf")],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        # If the test process exits without stop(), leave neither Dovecot nor its files.
        self._finalizer = weakref.finalize(self, _discard, self._proc, self.directory)
        deadline = time.monotonic() + START_TIMEOUT
        pending = [self.port, self.starttls_port]
        while pending and time.monotonic() < deadline and self._proc.poll() is None:
            try:
                socket.create_connection((self.host, pending[0]), 1).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.02)
        return not pending and self._proc.poll() is None

    def _terminate(self) -> None:
        """Kill Dovecot's process group and reap the master."""
        proc, self._proc = self._proc, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if proc is not None:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the session Dovecot was started in (only its own processes) and reap it."""
    # SIGTERM to every process at once lets the master reap its children; SIGKILL
    # follows because the master can otherwise wait up to 6 s for a slow child.
    for sig, wait in ((signal.SIGTERM, 0.5), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)


def _discard(proc: subprocess.Popen[bytes], directory: Path) -> None:
    """Stop Dovecot and delete its temp dir (the at-exit safety net)."""
    _kill_group(proc)
    shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def imap_connection(
    server: DovecotServer, address: str, password: str
) -> Iterator[imapclient.IMAPClient]:
    """Yield an IMAPClient logged in over verified TLS; log out afterwards."""
    context = ssl.create_default_context(cafile=server.ca_file)
    with imapclient.IMAPClient(
        server.host, server.port, ssl=True, ssl_context=context, timeout=10
    ) as client:
        client.login(address, password)
        yield client


def append_message(
    server: DovecotServer,
    address: str,
    password: str,
    folder: str,
    message_bytes: bytes,
    flags: Sequence[str | bytes] = (),
    msg_time: dt.datetime | None = None,
) -> int:
    """Append one message to folder and return its UID."""
    with imap_connection(server, address, password) as client:
        answer = client.append(folder, message_bytes, flags=flags, msg_time=msg_time)
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer or b"")
        if match:
            return int(match.group(1))
        # Without UIDPLUS the newest UID is ours: tests append one at a time.
        client.select_folder(folder, readonly=True)
        return max(client.search("ALL"))


@dataclass(frozen=True)
class MailboxUser:
    """A login on a running DovecotServer."""

    address: str
    password: str
    server: DovecotServer

    def connect(self) -> contextlib.AbstractContextManager[imapclient.IMAPClient]:
        """Return a context manager yielding a logged-in IMAPClient."""
        return imap_connection(self.server, self.address, self.password)

    def append(
        self,
        folder: str,
        message_bytes: bytes,
        flags: Sequence[str | bytes] = (),
        msg_time: dt.datetime | None = None,
    ) -> int:
        """Append a message to one of this user's folders and return its UID."""
        args = (self.server, self.address, self.password, folder, message_bytes)
        return append_message(*args, flags=flags, msg_time=msg_time)


_user_numbers = itertools.count(1)


def new_user(server: DovecotServer) -> MailboxUser:
    """Create rep{n}@acme.test with a 16-letter app-password-like password."""
    password = "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))
    user = MailboxUser(f"rep{next(_user_numbers)}@acme.test", password, server)
    server.add_user(user.address, user.password)
    return user


def start_dovecot(layout: str = "gmail_pt", **kwargs: Any) -> DovecotServer:
    """Start a server, failing (not skipping) the test when Dovecot is absent."""
    try:
        return DovecotServer(layout, **kwargs).start()
    except DovecotNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """One gmail_pt-layout Dovecot shared by the whole session."""
    server = start_dovecot("gmail_pt")
    yield server
    server.stop()


@pytest.fixture
def mailbox_user(dovecot_server: DovecotServer) -> MailboxUser:
    """A fresh user on the session server."""
    return new_user(dovecot_server)


@pytest.fixture
def make_dovecot() -> Iterator[Callable[..., DovecotServer]]:
    """Factory for extra servers (other layouts, limits); all stopped after the test."""
    started: list[DovecotServer] = []

    def make(layout: str = "gmail_pt", **kwargs: Any) -> DovecotServer:
        started.append(start_dovecot(layout, **kwargs))
        return started[-1]

    yield make
    for server in started:
        server.stop()

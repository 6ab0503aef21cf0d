"""Boot configuration: defaults, then instance/config.py, then LEADSYNC_* environment.

Runtime settings that admins edit (sync rules, interval, ...) live in the database,
not here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

ENV_PREFIX = "LEADSYNC"


class Defaults:
    """Values used when neither instance/config.py nor the environment sets them."""

    DATABASE_URL: str | None = None  # None: sqlite file inside the instance folder
    AUTO_MIGRATE = True
    SECURE_COOKIES = False
    IMAP_CA_FILE: str | None = None
    IMAP_TIMEOUT = 20.0
    # IMAP IDLE on INBOX (dashboard/sync/idle.py), run wherever the scheduler runs.
    IDLE = True
    IDLE_RENEW_SECONDS = 25 * 60.0  # RFC 2177: re-issue IDLE before 29 minutes
    IDLE_RECONCILE_SECONDS = 3.0  # how soon a connected or disconnected mailbox is noticed
    IDLE_BACKOFF_SECONDS = 2.0  # first wait after a dropped IDLE; doubles, with jitter
    IDLE_BACKOFF_MAX_SECONDS = 900.0
    SQLITE_BUSY_TIMEOUT_MS = 15000
    # Failed logins within the window that lock: one account from one address, one account
    # from anywhere, one address on any accounts (dashboard/accounts/throttle.py says why).
    LOGIN_MAX_FAILURES = 10
    LOGIN_ACCOUNT_MAX_FAILURES = 50
    LOGIN_ADDRESS_MAX_FAILURES = 30
    LOGIN_WINDOW_MINUTES = 15
    LOGIN_LOCK_MINUTES = 15
    PASSWORD_MIN_LENGTH = 10
    SESSION_IDLE_MINUTES = 12 * 60  # a session nobody uses for this long ends
    SESSION_MAX_HOURS = 30 * 24  # no login lasts longer, remember-me included
    BABEL_DEFAULT_LOCALE = "pt_BR"
    BABEL_DEFAULT_TIMEZONE = "America/Sao_Paulo"
    LANGUAGES = ("pt_BR", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    PUBLIC_URL: str | None = None
    # Other endpoints and mail servers for an OAuth provider, e.g. {"google": {"token_url":
    # ..., "imap_host": ...}} (fields: dashboard/mail/oauth.py OVERRIDABLE). For tests and
    # staging only: honoured when TESTING or the company allows local mail servers.
    OAUTH_OVERRIDES: dict = {}
    # Reverse proxies in front of LeadSync whose X-Forwarded-For/-Proto are believed (0: none;
    # the client's own headers are ignored then).
    TRUSTED_PROXIES = 0
    NOTIFICATION_POLL_SECONDS = 30  # how often the header's bell asks for the unread count
    # Requests that run Python at once (dashboard/web/request_gate.py): 2 keeps two cores busy
    # (SQLite reads outside the GIL); more threads of Python only queue on the GIL.
    WEB_TURNS = max(1, min(2, os.cpu_count() or 1))


def instance_path_from_env() -> str:
    """Return the absolute instance folder: LEADSYNC_INSTANCE or ./instance."""
    return os.path.abspath(os.environ.get(f"{ENV_PREFIX}_INSTANCE", "instance"))


def ensure_private_dir(path: str | Path) -> Path:
    """Create a folder readable only by its owner (it holds keys and the database)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def write_private_file(path: Path, data: bytes) -> None:
    """Write a file that is born with mode 0600, never world-readable even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create_key(path: Path, make_key: Callable[[], bytes]) -> bytes:
    """Read a key file, creating it (mode 0600) on first start."""
    if not path.exists():
        write_private_file(path, make_key())
    os.chmod(path, 0o600)
    return path.read_bytes().strip()


def instance_keys(instance: Path) -> tuple[str, bytes]:
    """Return (Flask secret key, Fernet key) kept in the instance folder."""
    secret = load_or_create_key(instance / "secret_key", lambda: secrets.token_hex(32).encode())
    fernet = load_or_create_key(instance / "fernet.key", Fernet.generate_key)
    return secret.decode(), fernet

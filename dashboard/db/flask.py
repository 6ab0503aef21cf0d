"""The database and the secrets as a Flask app sees them: one session per request, and the
instance's secret box.

Reads use ordinary deferred transactions; every non-GET request takes BEGIN IMMEDIATE
(see `dashboard.db.engine`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard.db.engine import make_engine, writer
from dashboard.db.migrate import upgrade_if_needed
from dashboard.db.secrets import SecretBox

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database_url(app: Flask) -> str:
    """Return the configured URL, or the SQLite file inside the instance folder."""
    return app.config.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'leadsync.db'}"


def get_engine() -> Engine:
    """Return the engine of the current app."""
    return current_app.extensions["leadsync.engine"]


def get_session() -> Session:
    """Return the request's session: IMMEDIATE for requests that may write."""
    if "db_session" not in g:
        engine = get_engine()
        if has_request_context() and request.method not in SAFE_METHODS:
            engine = writer(engine)
        g.db_session = Session(engine, expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and return the connection to the pool."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Create the engine, upgrade the schema when asked, and close sessions per request."""
    engine = make_engine(database_url(app), app.config["SQLITE_BUSY_TIMEOUT_MS"])
    app.extensions["leadsync.engine"] = engine
    app.teardown_appcontext(close_session)
    if app.config["AUTO_MIGRATE"]:
        upgrade_if_needed(engine)


def secret_box(app: Flask | None = None) -> SecretBox:
    """The app's secret box, reloaded when `keys rotate` (maybe another process) replaced
    the key file, so a running server never holds only a retired key."""
    app = app or current_app
    path = Path(app.instance_path) / "fernet.key"
    status = path.stat()
    stamp = (status.st_ino, status.st_mtime_ns)  # os.replace gives the file a new inode
    if app.extensions.get("leadsync.secrets_stamp") != stamp:
        app.extensions["leadsync.secrets"] = SecretBox.from_file(path)
        app.extensions["leadsync.secrets_stamp"] = stamp
    return app.extensions["leadsync.secrets"]


class LiveSecretBox:
    """A SecretBox stand-in for background threads: always the app's current keys."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def decrypt(self, token: bytes) -> str:
        """Decrypt with the keys in force now."""
        return secret_box(self.app).decrypt(token)

    def encrypt(self, plaintext: str) -> bytes:
        """Encrypt with the newest key in force now."""
        return secret_box(self.app).encrypt(plaintext)

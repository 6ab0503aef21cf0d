"""The database and the secrets as a Flask app sees them: one session per request, and the
instance's secret box.

Reads use ordinary deferred transactions; every non-GET request takes BEGIN IMMEDIATE
(see `dashboard.db.engine`). A GET request's session refuses to write: SQLite cannot turn
its read snapshot into a write once another writer (the sync) committed, so such a write
fails with "database is locked" exactly when the app is busiest. A GET that must record
something (a tracking hit) writes through `write_backlog()` instead.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

from dashboard.db.backlog import WriteBacklog
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
    """Return the request's session: IMMEDIATE for requests that may write, read-only for
    GET, HEAD and OPTIONS."""
    if "db_session" not in g:
        engine = get_engine()
        read_only = has_request_context() and request.method in SAFE_METHODS
        session = Session(engine if read_only else writer(engine), expire_on_commit=False)
        if read_only:
            event.listen(session, "before_flush", _refuse_flush)
            event.listen(session, "do_orm_execute", _refuse_bulk_write)
        g.db_session = session
    return g.db_session


class ReadOnlyRequestError(RuntimeError):
    """A GET request tried to write through its read-only session (a programming error)."""


def _refuse_flush(session: Session, _context: object, _instances: object) -> None:
    changed = any(session.is_modified(instance) for instance in session.dirty)
    if session.new or session.deleted or changed:
        raise ReadOnlyRequestError(
            f"{request.method} {request.path} tried to write: use a POST, or write_backlog()"
        )


def _refuse_bulk_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyRequestError(
            f"{request.method} {request.path} tried to write: use a POST, or write_backlog()"
        )


def write_backlog() -> WriteBacklog:
    """The app's backlog of writes that requests hand over rather than fail."""
    return current_app.extensions["leadsync.write_backlog"]


def close_session(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and return the connection to the pool."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Create the engine, upgrade the schema when asked, and close sessions per request."""
    engine = make_engine(database_url(app), app.config["SQLITE_BUSY_TIMEOUT_MS"])
    app.extensions["leadsync.engine"] = engine
    app.extensions["leadsync.write_backlog"] = WriteBacklog(engine)
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

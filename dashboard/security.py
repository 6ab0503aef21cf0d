"""Password hashing and strength, mailbox-secret encryption, and role decorators."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, abort, current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.security import check_password_hash, generate_password_hash

COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password123",
        "1234567890",
        "qwertyuiop",
        "senha12345",
        "administrator",
        "changeme123",
        "leadsync123",
        "0987654321",
        "abc1234567",
        "iloveyou12",
        "welcome123",
    }
)


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of the password."""
    return generate_password_hash(password, method="scrypt")


def password_matches(password_hash: str, password: str) -> bool:
    """Check a password against its stored hash in constant time."""
    return check_password_hash(password_hash, password)


def password_problem(password: str, *, email: str = "", min_length: int = 10) -> str | None:
    """Return why a password is too weak (translated), or None when it is acceptable."""
    if len(password) < min_length:
        return str(_l("Use at least %(n)d characters.", n=min_length))
    if password.isalpha() or password.isdigit():
        return str(_l("Mix letters with digits or symbols."))
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return str(_l("This password is too easy to guess."))
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        return str(_l("The password must not contain your email address."))
    return None


class SecretBox:
    """Encrypts mailbox secrets with the instance's Fernet keys (newest first)."""

    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Load the keys kept one per line in the instance key file."""
        return cls([line for line in path.read_bytes().split() if line])

    def encrypt(self, plaintext: str) -> bytes:
        """Encrypt a secret with the newest key."""
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        """Decrypt a secret made with any of the keys; raise ValueError when none fits."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ValueError("mailbox secret cannot be decrypted with the instance keys") from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a secret under the newest key."""
        return self._fernet.rotate(token)


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


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Allow only logged-in admins; others get 403 (anonymous users go to login)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper

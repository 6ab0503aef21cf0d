"""Password hashing and strength, and role decorators."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, current_app
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

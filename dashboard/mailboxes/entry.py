"""Which mailbox a request is about: the viewer's own under /settings/mailbox, or, for
admins, a teammate's under /settings/team-mailboxes/<user_id>.

The mailbox views are one blueprint mounted twice (see team_views.py); every view asks
`mailbox_owner()` for the user and builds its links with `mailbox_url()`, so progress,
history, "why is this email not here?", connect, test, re-scan and disconnect are one code
path with two entry points.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, request, url_for
from flask_login import current_user

from dashboard.db.flask import get_session
from dashboard.models import User

OWN, TEAM = "mailboxes", "team"  # the registered names of the two mounts


def for_team() -> bool:
    """True when the request came in through the admins' team mount."""
    return TEAM in request.blueprints


def pick_owner(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Take the teammate's id out of the URL (the views take no argument for it); the
    outer blueprint takes it first, the nested one finds it gone."""
    if values and "user_id" in values:
        g.mailbox_owner_id = values.pop("user_id")


def admins_only() -> None:
    """Under the team mount only admins exist: anyone else gets 404, as for a wrong id."""
    if not current_user.is_admin:
        abort(404)


def mailbox_owner() -> User:
    """The user whose mailbox this request is about (404 for an unknown teammate)."""
    if not for_team():
        return current_user._get_current_object()
    owner = get_session().get(User, g.get("mailbox_owner_id"))
    if owner is None:
        abort(404)
    return owner


def mailbox_url(name: str, **values: Any) -> str:
    """A URL of the mailbox views, through the mount this request came in by."""
    if for_team():
        return url_for(f"{TEAM}.{OWN}.{name}", user_id=g.get("mailbox_owner_id"), **values)
    return url_for(f"{OWN}.{name}", **values)

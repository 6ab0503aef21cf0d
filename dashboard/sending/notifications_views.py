"""The rep's notifications: the header's badge (polled on its own, so the open dropdown is
never replaced), the dropdown's list, a full page of them, and marking them read."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session
from dashboard.sending import notifications
from dashboard.web.extensions import htmx
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
bp.before_request(login_required(lambda: None))


@bp.app_template_global()
def notification_poll_seconds() -> int:
    """How often the header's badge asks for the unread count (shortened in tests)."""
    return int(current_app.config["NOTIFICATION_POLL_SECONDS"])


def page_number() -> int:
    """The page asked for (query string or form), 1 when absent or nonsense."""
    raw = request.values.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() else 1


@bp.get("")
def index() -> tuple[str, int]:
    """A full page of notifications, newest first; the dropdown's list when htmx asks."""
    db = get_session()
    return render_page(
        "sending/notifications.html",
        "sending/_notification_list.html",
        page=notifications.notification_page(db, current_user.id, page=page_number()),
        unread=notifications.unread_count(db, current_user.id),
        shown=notifications.IN_DROPDOWN,
        action=ActionForm(),
    )


@bp.get("/badge")
def badge() -> str:
    """The unread count alone, for the header's bell."""
    unread = notifications.unread_count(get_session(), current_user.id)
    return render_template("sending/_notification_badge.html", unread=unread)


@bp.post("/<int:notification_id>/read")
def read(notification_id: int) -> Response | tuple[str, int]:
    """Mark one notification read (404 when it is not the viewer's)."""
    db = get_session()
    if ActionForm().validate_on_submit():
        if not notifications.mark_read(db, current_user.id, notification_id):
            abort(404)
        db.commit()
    return after_marking()


@bp.post("/read")
def read_all() -> Response | tuple[str, int]:
    """Mark every notification of the viewer read."""
    db = get_session()
    if ActionForm().validate_on_submit():
        notifications.mark_all_read(db, current_user.id)
        db.commit()
    return after_marking()


def after_marking() -> Response | tuple[str, int]:
    """The dropdown's list again for htmx (its badge comes along); back to the page otherwise."""
    if htmx:
        return index()
    return redirect(url_for(".index", page=page_number()))

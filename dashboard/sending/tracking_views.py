"""Tracking endpoints hit by recipients' mail clients: no login, fast, and they reveal nothing.

A tampered or unknown token gets 404; a click goes only to the URL recorded for its token
(no open redirect); requests from the sender's own logged-in browser are not counted.
The hit is recorded through the write backlog: at once when the database is free, a moment
later when a sync holds the write lock; the visitor gets the image or the page either way.
"""

from __future__ import annotations

import base64

from flask import Blueprint, abort, current_app, redirect
from flask_login import current_user
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session, write_backlog
from dashboard.sending.events import record_event, tracked_link
from dashboard.sending.tracking import TokenPayload, TrackingTokens

bp = Blueprint("tracking", __name__, url_prefix="/t")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def tokens() -> TrackingTokens:
    """Token reader keyed with the app secret."""
    return TrackingTokens(current_app.secret_key)


def own_session() -> bool:
    """The sender (or any teammate) looking at the email is not the lead opening it."""
    return bool(current_user and current_user.is_authenticated)


def private(response: Response) -> Response:
    """Never cached, never referred, nothing to sniff."""
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def count(payload: TokenPayload | None, kind: str) -> None:
    """Record the hit (record_event decides whether it counts) now or through the backlog."""
    if payload is None or own_session():
        return
    write_backlog().write(lambda session: record_event(session, payload, kind, own_session=False))


@bp.get("/o/<token>.gif")
def open_pixel(token: str) -> Response:
    """Count an open and answer with a transparent 1x1 GIF (the same for any token)."""
    count(tokens().read_token(token, "open"), "open")
    return private(Response(PIXEL, mimetype="image/gif"))


@bp.get("/c/<token>")
def click(token: str) -> Response:
    """Count a click and go to the link recorded for this token; anything else is 404."""
    payload = tokens().read_token(token, "click")
    link = tracked_link(get_session(), payload)
    if link is None:
        abort(404)
    count(payload, "click")
    return private(redirect(link.url, code=302))

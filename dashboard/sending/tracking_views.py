"""Tracking endpoints hit by recipients' mail clients: no login, fast, and they reveal nothing.

A tampered or unknown token gets 404; a click goes only to the URL recorded for its token
(no open redirect); requests from the sender's own logged-in browser are not counted.
"""

from __future__ import annotations

import base64

from flask import Blueprint, abort, current_app, redirect
from flask_login import current_user
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session
from dashboard.sending.events import record_event, tracked_link
from dashboard.sending.tracking import TrackingTokens

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


@bp.get("/o/<token>.gif")
def open_pixel(token: str) -> Response:
    """Count an open and answer with a transparent 1x1 GIF (the same for any token)."""
    db = get_session()
    if record_event(db, tokens().read_token(token, "open"), "open", own_session=own_session()):
        db.commit()
    return private(Response(PIXEL, mimetype="image/gif"))


@bp.get("/c/<token>")
def click(token: str) -> Response:
    """Count a click and go to the link recorded for this token; anything else is 404."""
    db = get_session()
    payload = tokens().read_token(token, "click")
    link = tracked_link(db, payload)
    if link is None:
        abort(404)
    if record_event(db, payload, "click", own_session=own_session()):
        db.commit()
    return private(redirect(link.url, code=302))

"""A smart email after "Send": its state while it leaves, and for a failed one retry, edit
(the compose card, see compose_views) or discard."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session
from dashboard.models import OutgoingEmail
from dashboard.sending.drafts import discard as discard_draft
from dashboard.sending.messages import send_error_text
from dashboard.sending.outgoing import reopen
from dashboard.sending.queue import SendQueue
from dashboard.states import OutgoingState
from dashboard.web.extensions import htmx
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page

bp = Blueprint("outgoing", __name__)
bp.before_request(login_required(lambda: None))
STOP_POLLING = 286


@bp.app_template_global()
def send_error_message(code: str | None) -> str:
    """Why a smart email failed, in the viewer's language, and what to do."""
    return send_error_text(code)


def send_queue() -> SendQueue:
    """The app's delivery queue."""
    queue: SendQueue = current_app.extensions["leadsync.send_queue"]
    return queue


def own_outgoing(outgoing_id: int) -> OutgoingEmail:
    """A smart email of the current user, or 404."""
    outgoing = get_session().get(OutgoingEmail, outgoing_id)
    if outgoing is None or outgoing.user_id != current_user.id:
        abort(404)
    return outgoing


SENT_EVENT = "smart-email-sent"  # the lead page updates its header and timeline on it
Shown = tuple[str, int, dict[str, str]]  # a state line: body, status, headers


def show(outgoing: OutgoingEmail) -> Shown:
    """The email's state line (with its actions when it failed); once sent, the event that
    tells the page around it that the lead and its timeline changed."""
    body, status = render_page(
        "sending/_outgoing.html", "sending/_outgoing.html", outgoing=outgoing, action=ActionForm()
    )
    headers = {"HX-Trigger": SENT_EVENT} if outgoing.state == OutgoingState.SENT else {}
    return body, status, headers


@bp.get("/outgoing/<int:outgoing_id>")
def status(outgoing_id: int) -> Shown:
    """The sending state (enviando → enviado / falhou); polling stops when it is settled."""
    outgoing = own_outgoing(outgoing_id)
    body, code, headers = show(outgoing)
    settled = outgoing.state != OutgoingState.SENDING and request.args.get("poll")
    return body, STOP_POLLING if settled else code, headers


@bp.post("/outgoing/<int:outgoing_id>/retry")
def retry(outgoing_id: int) -> Shown:
    """Send a failed email again ("tentar novamente"), same Message-ID, off the request."""
    db, outgoing = get_session(), own_outgoing(outgoing_id)
    if ActionForm().validate_on_submit() and reopen(db, outgoing.id):
        db.commit()
        send_queue().submit(outgoing.id)
        db.refresh(outgoing)
    return show(outgoing)


@bp.post("/outgoing/<int:outgoing_id>/discard")
def discard(outgoing_id: int) -> Response | tuple[str, int] | Shown:
    """Throw a failed email away (the button asks first); one sending or sent stays."""
    db, outgoing = get_session(), own_outgoing(outgoing_id)
    lead_id = outgoing.lead_id
    if not (ActionForm().validate_on_submit() and discard_draft(db, current_user.id, outgoing.id)):
        return show(outgoing)
    db.commit()
    if htmx:
        return "", 200  # the line disappears
    target = url_for("leads.show", lead_id=lead_id) if lead_id else url_for("leads.index")
    return redirect(target)

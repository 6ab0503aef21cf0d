"""Smart emails from the lead page: compose, send off the request thread, retry, notifications."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select, update

from dashboard.accounts.service import get_company
from dashboard.db.flask import get_session
from dashboard.leads import service as lead_service
from dashboard.leads.access_queries import access_to, viewer_of
from dashboard.models import (
    Email,
    EmailLead,
    EmailTemplate,
    Lead,
    Notification,
    OutgoingEmail,
    utcnow,
)
from dashboard.sending import compose
from dashboard.sending.compose import ComposeError
from dashboard.sending.forms import ComposeForm
from dashboard.sending.messages import send_error_text
from dashboard.sending.outgoing import create_outgoing, reopen
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page

bp = Blueprint("compose", __name__)
bp.before_request(login_required(lambda: None))
STOP_POLLING = 286


@bp.app_template_global()
def send_error_message(code: str | None) -> str:
    """Why a smart email failed, in the viewer's language, and what to do."""
    return send_error_text(code)


def send_queue():  # type: ignore[no-untyped-def]
    """The app's delivery queue."""
    return current_app.extensions["leadsync.send_queue"]


def tracking_on() -> bool:
    """Tracking needs the company switch AND a public URL the recipients can reach."""
    return bool(current_app.config.get("PUBLIC_URL")) and get_company(get_session()).tracking


def compose_form(lead: Lead) -> ComposeForm:
    """The compose form, prefilled for a new email or a reply (?reply=<email id>)."""
    db = get_session()
    form = ComposeForm()
    templates = list(db.scalars(select(EmailTemplate).order_by(EmailTemplate.name)))
    form.template.choices = [(0, "—"), *((t.id, t.name) for t in templates)]
    if not form.is_submitted():
        form.to.data = ", ".join(lead_service.addresses_of(db, lead.id))
        reply = reply_email(lead, request.args.get("reply", type=int))
        if reply is not None:
            form.reply_to.data = str(reply.id)
            form.subject.data = compose.reply_subject(reply.subject)
            form.to.data = reply.sender if reply.direction == "in" else form.to.data
        chosen = db.get(EmailTemplate, request.args.get("template", 0, type=int))
        if chosen is not None:
            form.template.data = chosen.id
            form.subject.data = form.subject.data or chosen.subject
            form.body.data = chosen.body
    return form


def reply_email(lead: Lead, email_id: int | None) -> Email | None:
    """An email of this lead's timeline the viewer may read in full, to reply to.

    Any other id is ignored exactly like an unknown one (a blank form, no threading), so
    trying sequential ids tells nothing about emails the viewer may not read.
    """
    if not email_id:
        return None
    db = get_session()
    linked = db.scalar(
        select(EmailLead.email_id).where(
            EmailLead.email_id == email_id, EmailLead.lead_id == lead.id
        )
    )
    email = db.get(Email, linked) if linked else None
    if email is None or not access_to(db, viewer_of(current_user), email).shows_body:
        return None
    return email


def split(value: str | None) -> list[str]:
    """Addresses typed with commas, semicolons or spaces."""
    return [a for a in (value or "").replace(";", ",").replace(" ", ",").split(",") if a]


@bp.route("/leads/<int:lead_id>/compose", methods=["GET", "POST"])
def compose_email(lead_id: int) -> tuple[str, int]:
    """Show the compose form; sending stores the email and queues its delivery."""
    db = get_session()
    lead = db.get(Lead, lead_id) or abort(404)
    form = compose_form(lead)
    if form.validate_on_submit():
        try:
            outgoing = create_outgoing(
                db,
                user=current_user,
                lead=lead,
                to=split(form.to.data),
                cc=split(form.cc.data),
                bcc=split(form.bcc.data),
                subject=form.subject.data or "",
                body=form.body.data or "",
                reply_to_email=reply_email(
                    lead, int(form.reply_to.data) if (form.reply_to.data or "").isdigit() else None
                ),
                template=db.get(EmailTemplate, form.template.data or 0),
                tracking=tracking_on(),
                public_url=current_app.config.get("PUBLIC_URL"),
            )
        except ComposeError as error:
            db.rollback()
            form.form_errors.append(compose_message(error.code))
        else:
            db.commit()
            send_queue().submit(outgoing.id)
            return render_page(
                "sending/_outgoing.html",
                "sending/_outgoing.html",
                outgoing=outgoing,
                action=ActionForm(),
            )
    return render_page(
        "sending/compose.html",
        "sending/_compose_form.html",
        status=422 if form.errors or form.form_errors else 200,
        form=form,
        lead=lead,
        tracking=tracking_on(),
    )


def compose_message(code: str) -> str:
    """Why an email could not be prepared, for the rep."""
    messages = {
        "no_recipients": _("Add at least one recipient."),
        "invalid_address": _("One of the addresses is not valid."),
        "too_many_recipients": _("Too many recipients for a one-to-one email."),
    }
    return messages.get(code) or send_error_text(code)


def own_outgoing(outgoing_id: int) -> OutgoingEmail:
    """A smart email of the current user, or 404."""
    outgoing = get_session().get(OutgoingEmail, outgoing_id)
    if outgoing is None or outgoing.user_id != current_user.id:
        abort(404)
    return outgoing


@bp.get("/outgoing/<int:outgoing_id>")
def outgoing_status(outgoing_id: int):  # type: ignore[no-untyped-def]
    """The sending state (enviando → enviado / falhou); polling stops when it is settled."""
    outgoing = own_outgoing(outgoing_id)
    body, code = render_page(
        "sending/_outgoing.html", "sending/_outgoing.html", outgoing=outgoing, action=ActionForm()
    )
    return (
        (body, STOP_POLLING)
        if outgoing.state != "sending" and request.args.get("poll")
        else (body, code)
    )


@bp.post("/outgoing/<int:outgoing_id>/retry")
def retry(outgoing_id: int) -> tuple[str, int]:
    """Send a failed email again ("tentar novamente"), same Message-ID, off the request."""
    db, outgoing = get_session(), own_outgoing(outgoing_id)
    if ActionForm().validate_on_submit() and reopen(db, outgoing.id):
        db.commit()
        send_queue().submit(outgoing.id)
        db.refresh(outgoing)
    return render_page(
        "sending/_outgoing.html", "sending/_outgoing.html", outgoing=outgoing, action=ActionForm()
    )


@bp.get("/notifications")
def notifications() -> tuple[str, int]:
    """The header's notification area: opens, clicks and replies of the rep's leads."""
    db = get_session()
    items = list(
        db.scalars(
            select(Notification)
            .where(Notification.user_id == current_user.id)
            .order_by(Notification.id.desc())
            .limit(10)
        )
    )
    unread = sum(1 for n in items if n.read_at is None)
    leads = {
        lead.id: lead
        for lead in db.scalars(
            select(Lead).where(Lead.id.in_({n.lead_id for n in items if n.lead_id}))
        )
    }
    return render_page(
        "sending/_notifications.html",
        "sending/_notifications.html",
        items=items,
        unread=unread,
        leads=leads,
        action=ActionForm(),
    )


@bp.post("/notifications/read")
def notifications_read() -> tuple[str, int]:
    """Mark every notification of the rep as read."""
    db = get_session()
    if ActionForm().validate_on_submit():
        db.execute(
            update(Notification)
            .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        db.commit()
    return notifications()

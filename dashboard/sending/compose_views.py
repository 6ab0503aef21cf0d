"""The compose card of the lead page: a new email, a reply, or a failed email edited again;
templates picked over what the rep typed; a live preview made by the merge that sends."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from dashboard.accounts.service import get_company
from dashboard.db.flask import get_session
from dashboard.leads import service as lead_service
from dashboard.leads.access_queries import access_to, viewer_of
from dashboard.models import Email, EmailLead, Lead, OutgoingEmail
from dashboard.sending import compose, drafts
from dashboard.sending.compose import ComposeError
from dashboard.sending.forms import ComposeForm
from dashboard.sending.messages import send_error_text
from dashboard.sending.outgoing import create_outgoing
from dashboard.sending.outgoing_views import send_queue
from dashboard.sending.templates import usable_template, usable_templates
from dashboard.states import Direction
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page

bp = Blueprint("compose", __name__, url_prefix="/leads/<int:lead_id>/compose")
bp.before_request(login_required(lambda: None))


@dataclass(frozen=True)
class Preview:
    """The email as it will go out, and why a placeholder in it would go out wrong."""

    subject: str
    body: Markup
    warnings: list[str]


def lead_or_404(lead_id: int) -> Lead:
    """The lead being written to."""
    return get_session().get(Lead, lead_id) or abort(404)


def values_for(lead: Lead) -> dict[str, str]:
    """The placeholder values of this lead and the current rep."""
    return compose.field_values(
        lead_name=lead.name, company=lead.company_name, rep_name=current_user.name
    )


def as_id(value: str | None) -> int | None:
    """A posted id, or None for anything else."""
    return int(value) if (value or "").isdigit() else None


def split(value: str | None) -> list[str]:
    """Addresses typed with commas, semicolons or spaces."""
    return [a for a in (value or "").replace(";", ",").replace(" ", ",").split(",") if a]


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


def compose_form(lead: Lead) -> ComposeForm:
    """The posted form as it is; else prefilled for a new email (To: the lead's primary
    address, its oldest), a reply (?reply=<email id>) or a failed email (?draft=<id>)."""
    db, form = get_session(), ComposeForm()
    if form.is_submitted():
        return form
    form.to.data = next(iter(lead_service.addresses_of(db, lead.id)), "")
    draft_id = request.args.get("draft", type=int)
    draft = drafts.failed_draft(db, current_user.id, draft_id, lead.id)
    if draft is not None:
        prefill_draft(form, lead, draft)
        return form
    reply = reply_email(lead, request.args.get("reply", type=int))
    if reply is not None:
        form.reply_to.data = str(reply.id)
        form.subject.data = compose.reply_subject(reply.subject)
        form.to.data = reply.sender if reply.direction == Direction.IN else form.to.data
    return form


def prefill_draft(form: ComposeForm, lead: Lead, draft: OutgoingEmail) -> None:
    """Put a failed email back in the form; the signature is added again when it is sent."""
    form.draft.data = str(draft.id)
    form.to.data = ", ".join(draft.to_addrs)
    form.cc.data, form.bcc.data = ", ".join(draft.cc_addrs), ", ".join(draft.bcc_addrs)
    form.subject.data = draft.subject
    form.body.data = compose.without_signature(draft.body, current_user.signature)
    reply = reply_email(lead, drafts.replied_email_id(get_session(), draft))
    form.reply_to.data = str(reply.id) if reply else ""


def preview_of(lead: Lead, form: ComposeForm) -> Preview:
    """Subject and body merged for this lead, the body with the signature, as HTML; a
    placeholder without a value stays as typed, to show where it is."""
    values, subject, body = values_for(lead), form.subject.data or "", form.body.data or ""
    known = {key: value for key, value in values.items() if value.strip()}
    merged = compose.merge_fields(compose.with_signature(body, current_user.signature), known)
    html = compose.simple_format_to_html(merged)
    return Preview(
        " ".join(compose.merge_fields(subject, known).split()),
        Markup(html),  # noqa: S704 - the formatter escapes the text; it adds only its own tags
        [gap_message(name) for name in compose.placeholder_gaps(f"{subject}\n{body}", values)],
    )


def render_form(form: ComposeForm, lead: Lead, status: int = 200) -> tuple[str, int]:
    """The compose card: the form, the template picker, other addresses, the preview."""
    db = get_session()
    company_templates, own_templates = usable_templates(db, current_user.id)
    typed = {a.lower() for a in split(form.to.data)}
    others = [a for a in lead_service.addresses_of(db, lead.id) if a not in typed]
    return render_page(
        "sending/compose.html",
        "sending/_compose_form.html",
        status=status,
        form=form,
        lead=lead,
        company_templates=company_templates,
        own_templates=own_templates,
        other_addresses=others,
        preview=preview_of(lead, form),
        tracking_switch=get_company(db).tracking,
        public_url=bool(current_app.config.get("PUBLIC_URL")),
    )


def gap_message(name: str) -> str:
    """Why a placeholder cannot go out, and what to do."""
    placeholder = f"{{{{ {name} }}}}"
    if name in compose.FIELDS:
        return _(
            "%(placeholder)s has no value for this lead: fill it in on the lead or change "
            "the text.",
            placeholder=placeholder,
        )
    return _("%(placeholder)s is not a placeholder: check its spelling.", placeholder=placeholder)


def placeholders_filled(form: ComposeForm, lead: Lead) -> bool:
    """Refuse a subject or body whose placeholders would go out wrong ("Olá ,")."""
    values = values_for(lead)
    for field in (form.subject, form.body):
        gaps = compose.placeholder_gaps(field.data or "", values)
        field.errors = [*field.errors, *map(gap_message, gaps)]
    return not (form.subject.errors or form.body.errors)


@bp.route("", methods=["GET", "POST"])
def compose_email(lead_id: int) -> tuple[str, int]:
    """Show the compose form; sending stores the email and queues its delivery."""
    lead = lead_or_404(lead_id)
    form = compose_form(lead)
    if not form.is_submitted():
        return render_form(form, lead)
    valid = form.validate()
    if placeholders_filled(form, lead) and valid and (outgoing := send(form, lead)):
        return render_page(
            "sending/_outgoing.html",
            "sending/_outgoing.html",
            outgoing=outgoing,
            replaced=as_id(form.draft.data),
            action=ActionForm(),
        )
    return render_form(form, lead, status=422)


def send(form: ComposeForm, lead: Lead) -> OutgoingEmail | None:
    """Store the email (merged for this lead) and queue it, replacing the failed draft it was
    edited from; None with the reason shown in the form."""
    db, values = get_session(), values_for(lead)
    draft_id = as_id(form.draft.data)
    # Discarded first, in this transaction: a retry cannot slip in between, and a refusal
    # below rolls the draft back.
    if (
        draft_id
        and not drafts.discard(db, current_user.id, draft_id)
        and not drafts.replaceable(db, current_user.id, draft_id)
    ):
        form.form_errors.append(_("This email was already sent again: there is nothing to edit."))
        return None
    try:
        outgoing = create_outgoing(
            db, user=current_user, lead=lead,
            to=split(form.to.data), cc=split(form.cc.data), bcc=split(form.bcc.data),
            subject=compose.merge_fields(form.subject.data or "", values),
            body=compose.merge_fields(form.body.data or "", values),
            reply_to_email=reply_email(lead, as_id(form.reply_to.data)), template=None,
            tracking=bool(current_app.config.get("PUBLIC_URL")) and get_company(db).tracking,
            public_url=current_app.config.get("PUBLIC_URL"),
        )  # fmt: skip
    except ComposeError as error:
        db.rollback()
        form.form_errors.append(compose_message(error.code))
        return None
    db.commit()
    send_queue().submit(outgoing.id)
    return outgoing


@bp.post("/template")
def apply_template(lead_id: int) -> tuple[str, int]:
    """The form with the picked template over what the rep typed: a reply stays a reply,
    To/Cc/Bcc stay, the subject is filled only when empty, the body goes below the text."""
    db, lead, form = get_session(), lead_or_404(lead_id), ComposeForm()
    chosen = usable_template(db, current_user.id, request.form.get("template", type=int))
    if chosen is not None:
        previous = usable_template(db, current_user.id, as_id(form.applied.data))
        form.subject.data, form.body.data = compose.apply_template(
            form.subject.data or "",
            form.body.data or "",
            (chosen.subject, chosen.body),
            (previous.subject, previous.body) if previous else None,
        )
        form.applied.data = str(chosen.id)
    return render_form(form, lead)


@bp.post("/preview")
def preview(lead_id: int) -> tuple[str, int]:
    """The live preview of subject and body while the rep types."""
    shown = preview_of(lead_or_404(lead_id), ComposeForm())
    return render_page(
        "sending/_compose_preview.html", "sending/_compose_preview.html", preview=shown
    )


def compose_message(code: str) -> str:
    """Why an email could not be prepared, for the rep."""
    messages = {
        "no_recipients": _("Add at least one recipient."),
        "invalid_address": _("One of the addresses is not valid."),
        "too_many_recipients": _("Too many recipients for a one-to-one email."),
    }
    return messages.get(code) or send_error_text(code)

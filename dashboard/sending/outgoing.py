"""Smart-email drafts: compose one into an OutgoingEmail, reopen a failed one, and recover
those a dead process left half sent.

Invariants: an OutgoingEmail keeps everything the rep wrote, rendered once (placeholders
filled, signature added) with its Message-ID fixed at creation, so every delivery attempt
sends the same message. Only state "sending" is delivered (delivery.py); a failure leaves
state "failed" with its reason, which `reopen` turns back into "sending". No Flask.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from dashboard.db.engine import write_session
from dashboard.models import Email, EmailTemplate, Lead, Mailbox, OutgoingEmail, User
from dashboard.sending import compose
from dashboard.sending.compose import ComposeError, split_recipients, with_signature
from dashboard.states import OutgoingState

MAX_REFERENCES = 20  # the newest ones; enough for every client to thread the reply


def sending_mailbox(session: Session, user_id: int) -> Mailbox:
    """The user's connected mailbox with SMTP settings; ComposeError otherwise."""
    mailbox = session.scalars(select(Mailbox).where(Mailbox.user_id == user_id)).first()
    if mailbox is None or not mailbox.connected:
        raise ComposeError("no_mailbox")
    if not (mailbox.smtp_host and mailbox.smtp_port and mailbox.smtp_security):
        raise ComposeError("no_smtp")
    return mailbox


def placeholder_values(user: User, lead: Lead | None) -> dict[str, str]:
    """The placeholder values for this lead (none: empty) and rep, as compose shows them."""
    return compose.field_values(
        lead_name=lead.name if lead else "",
        company=lead.company_name if lead else "",
        rep_name=user.name,
    )


def reply_fields(reply: Email | None) -> tuple[str | None, list[str]]:
    """In-Reply-To and References of a reply to `reply` (nothing for a new thread)."""
    if reply is None:
        return None, []
    chain = [r for r in reply.references if r != reply.message_id]
    if reply.synthetic_id:  # the hash LeadSync made up is unknown to every mail client
        return None, chain[-MAX_REFERENCES:]
    return reply.message_id, [*chain, reply.message_id][-MAX_REFERENCES:]


def create_outgoing(
    session: Session,
    *,
    user: User,
    lead: Lead | None,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    subject: str,
    body: str,
    reply_to_email: Email | None,
    template: EmailTemplate | None,
    tracking: bool,
    public_url: str | None,
) -> OutgoingEmail:
    """Validate and store a smart email in state "sending" (the caller queues its delivery)."""
    to, cc, bcc = split_recipients(to, cc, bcc)
    mailbox = sending_mailbox(session, user.id)
    if template is not None:
        subject, body = subject or template.subject, body or template.body
    if reply_to_email is not None:
        subject = compose.reply_subject(subject or reply_to_email.subject)
    values = placeholder_values(user, lead)
    in_reply_to, references = reply_fields(reply_to_email)
    outgoing = OutgoingEmail(
        user_id=user.id, lead_id=lead.id if lead else None,
        message_id=compose.make_message_id(mailbox.address.rpartition("@")[2]),
        to_addrs=to, cc_addrs=cc, bcc_addrs=bcc,
        subject=" ".join(compose.merge_fields(subject, values).split()),
        body=compose.merge_fields(with_signature(body, user.signature), values),
        in_reply_to=in_reply_to, references=references,
        tracking=bool(tracking and public_url), state=OutgoingState.SENDING,
    )  # fmt: skip
    session.add(outgoing)
    session.flush()
    return outgoing


def reopen(session: Session, outgoing_id: int) -> bool:
    """Put a failed email back in state "sending" (queue it next); False unless it failed."""
    result = session.execute(
        update(OutgoingEmail)
        .where(OutgoingEmail.id == outgoing_id, OutgoingEmail.state == OutgoingState.FAILED)
        .values(state=OutgoingState.SENDING, error_code=None, error_detail="")
    )
    return result.rowcount == 1


def fail_interrupted(engine: Engine) -> int:
    """At process start, turn emails left "sending" by a dead process into retryable drafts."""
    with write_session(engine) as session:
        result = session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.state == OutgoingState.SENDING)
            .values(state=OutgoingState.FAILED, error_code="interrupted", error_detail="")
        )
        return result.rowcount or 0

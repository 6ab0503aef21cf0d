"""Smart emails end to end: compose into an OutgoingEmail, deliver over SMTP, record events.

The delivery rule: the write lock is never held while talking SMTP, and the OutgoingEmail
row keeps everything the rep wrote, so a failure only sets state/code/detail and a retry
sends the same Message-ID again. On success the Email row (origin "smart") is stored at
once under the (Message-ID, sender) identity the sync will find in the Sent folder, so
that copy only adds a Sighting: never two emails. No Flask.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Engine, insert, select, update
from sqlmodel import Session

from dashboard.db.engine import write_session
from dashboard.db.secrets import SecretBox
from dashboard.mail import smtp_client
from dashboard.mail.smtp_client import SendError, SmtpSettings
from dashboard.models import (
    Email,
    EmailLead,
    EmailTemplate,
    Lead,
    Mailbox,
    Notification,
    OutgoingEmail,
    TrackedLink,
    TrackingEvent,
    User,
    utcnow,
)
from dashboard.sending import compose
from dashboard.sending.compose import ComposeError, split_recipients, with_signature
from dashboard.sending.tracking import TokenPayload, TrackingTokens, click_url, pixel_url
from dashboard.sync.store.leads import lead_ids_for

log = logging.getLogger(__name__)

MAX_REFERENCES = 20  # the newest ones; enough for every client to thread the reply


@dataclass
class Prepared:
    """One delivery attempt, built inside a short transaction and sent outside it."""

    settings: SmtpSettings
    message: EmailMessage
    from_name: str
    from_addr: str
    recipients: list[str]


def sending_mailbox(session: Session, user_id: int) -> Mailbox:
    """The user's connected mailbox with SMTP settings; ComposeError otherwise."""
    mailbox = session.scalars(select(Mailbox).where(Mailbox.user_id == user_id)).first()
    if mailbox is None or not mailbox.connected:
        raise ComposeError("no_mailbox")
    if not (mailbox.smtp_host and mailbox.smtp_port and mailbox.smtp_security):
        raise ComposeError("no_smtp")
    return mailbox


def placeholder_values(user: User, lead: Lead | None) -> dict[str, str]:
    """Plain values of the template placeholders."""
    names = lead.name.split() if lead else []
    company = lead.company_name if lead else ""
    return {"first_name": names[0] if names else "", "company": company, "rep_name": user.name}


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
        subject=" ".join(compose.render_template_text(subject, **values).split()),
        body=compose.render_template_text(with_signature(body, user.signature), **values),
        in_reply_to=in_reply_to, references=references,
        tracking=bool(tracking and public_url), state="sending",
    )  # fmt: skip
    session.add(outgoing)
    session.flush()
    return outgoing


def ensure_links(session: Session, outgoing: OutgoingEmail) -> dict[str, int]:
    """TrackedLink ids of every link of the body, created once (a retry reuses them)."""
    query = select(TrackedLink).where(TrackedLink.outgoing_id == outgoing.id)
    known = {link.url: link.id for link in session.scalars(query)}
    for url in compose.find_links(outgoing.body):
        if url not in known:
            link = TrackedLink(outgoing_id=outgoing.id, url=url)
            session.add(link)
            session.flush()
            known[url] = link.id
    return known


def tracking_plan(
    session: Session, outgoing: OutgoingEmail, public_url: str, tokens: TrackingTokens
) -> compose.TrackingPlan:
    """Pixel and link URLs; one message goes to all, so tokens name the first To recipient."""
    recipient = outgoing.to_addrs[0]
    links = {
        url: click_url(public_url, tokens.click_token(outgoing.id, link_id, recipient))
        for url, link_id in ensure_links(session, outgoing).items()
    }
    return compose.TrackingPlan(
        pixel_url(public_url, tokens.open_token(outgoing.id, recipient)), links
    )


def prepare(
    session: Session, outgoing: OutgoingEmail, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, tokens: TrackingTokens,
) -> Prepared:  # fmt: skip
    """Build the message and the SMTP settings of one attempt (tracked links recorded)."""
    mailbox = sending_mailbox(session, outgoing.user_id)
    try:
        password = box.decrypt(mailbox.secret)
    except ValueError as exc:
        raise ComposeError("no_mailbox", "the mailbox secret cannot be decrypted") from exc
    use_tracking = outgoing.tracking and bool(public_url)
    plan = tracking_plan(session, outgoing, public_url, tokens) if use_tracking else None
    user = session.get(User, outgoing.user_id)
    message = compose.build_message(
        from_name=user.name, from_addr=mailbox.address, to=outgoing.to_addrs,
        cc=outgoing.cc_addrs, bcc=outgoing.bcc_addrs, subject=outgoing.subject,
        body=outgoing.body, message_id=outgoing.message_id, in_reply_to=outgoing.in_reply_to,
        references=outgoing.references, tracking=plan,
    )  # fmt: skip
    settings = SmtpSettings(
        mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security,
        mailbox.username, password, ca_file,
    )  # fmt: skip
    recipients = [*outgoing.to_addrs, *outgoing.cc_addrs, *outgoing.bcc_addrs]
    return Prepared(settings, message, user.name, mailbox.address, recipients)


def start_attempt(
    engine: Engine, outgoing_id: int, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, tokens: TrackingTokens,
) -> Prepared | None:  # fmt: skip
    """Prepare an email waiting in state "sending"; None when there is nothing to send."""
    with write_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
        if outgoing is None or outgoing.state != "sending":
            return None
        return prepare(
            session, outgoing, box, ca_file=ca_file, public_url=public_url, tokens=tokens
        )


def thread_key_for(session: Session, outgoing: OutgoingEmail) -> str:
    """The replied email's thread (else the first known reference's); else its own id."""
    refs = [*([outgoing.in_reply_to] if outgoing.in_reply_to else []), *outgoing.references]
    query = select(Email.message_id, Email.thread_key).where(Email.message_id.in_(refs))
    known = dict(session.execute(query).all()) if refs else {}
    return next((known[r] for r in refs if r in known), outgoing.message_id)


def email_values(session: Session, outgoing: OutgoingEmail, prepared: Prepared) -> dict:
    """Column values of the Email a smart email becomes (bodies without tracking)."""
    return {
        "message_id": outgoing.message_id, "sender": prepared.from_addr.lower(),
        "thread_key": thread_key_for(session, outgoing),
        "subject": str(prepared.message["Subject"]), "date": prepared.message["Date"].datetime,
        "from_name": prepared.from_name, "to_addrs": outgoing.to_addrs,
        "cc_addrs": outgoing.cc_addrs, "bcc_addrs": outgoing.bcc_addrs,
        "in_reply_to": outgoing.in_reply_to, "references": outgoing.references,
        "direction": "out", "body_text": compose.simple_format_to_text(outgoing.body),
        "body_html": compose.html_document(compose.simple_format_to_html(outgoing.body)),
        "size": len(prepared.message.as_bytes()), "origin": "smart",
        "user_id": outgoing.user_id,
    }  # fmt: skip


def store_email(session: Session, outgoing: OutgoingEmail, prepared: Prepared) -> int:
    """Insert the Email (or adopt the copy a sync stored first) and link its leads."""
    sender = prepared.from_addr.lower()
    email_id = session.scalar(
        select(Email.id).where(Email.message_id == outgoing.message_id, Email.sender == sender)
    )
    if email_id is None:
        email = Email(**email_values(session, outgoing, prepared))
        session.add(email)
        session.flush()
        email_id = email.id
    else:
        session.execute(update(Email).where(Email.id == email_id).values(origin="smart"))
    leads = set(lead_ids_for(session, prepared.recipients).values())
    leads.update([outgoing.lead_id] if outgoing.lead_id else [])
    if leads:
        rows = [{"email_id": email_id, "lead_id": lead_id} for lead_id in leads]
        session.execute(insert(EmailLead).prefix_with("OR IGNORE"), rows)
    return email_id


def record_sent(
    engine: Engine, outgoing_id: int, prepared: Prepared, refused: dict[str, str]
) -> None:
    """Mark sent and store the Email; recipients refused among accepted ones are noted."""
    with write_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
        outgoing.state, outgoing.sent_at = "sent", utcnow()
        outgoing.attempts += 1
        outgoing.error_code = smtp_client.SendErrorCode.RELAY_REFUSED.value if refused else None
        outgoing.error_detail = "; ".join(f"{a} ({r})" for a, r in refused.items())
        outgoing.email_id = store_email(session, outgoing, prepared)
        session.add(outgoing)


def record_failure(engine: Engine, outgoing_id: int, code: str, detail: str) -> None:
    """Keep the email as a failed draft with the reason (nothing the rep wrote changes)."""
    with write_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
        outgoing.state = "failed"
        outgoing.attempts += 1
        outgoing.error_code, outgoing.error_detail = code, detail[:2000]
        session.add(outgoing)


def deliver(
    engine: Engine, outgoing_id: int, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, secret_key: str | bytes,
) -> None:  # fmt: skip
    """Send one email waiting in state "sending" and record sent or failed (with the reason)."""
    tokens = TrackingTokens(secret_key)
    try:
        prepared = start_attempt(
            engine, outgoing_id, box, ca_file=ca_file, public_url=public_url, tokens=tokens
        )
        if prepared is None:
            return
        refused = smtp_client.send(
            prepared.settings, prepared.message,
            from_addr=prepared.from_addr, recipients=prepared.recipients,
        )  # fmt: skip
    except (ComposeError, SendError) as exc:
        log.info("smart email %s not sent: %s", outgoing_id, exc)
        record_failure(engine, outgoing_id, str(exc.code), exc.detail)
        return
    except Exception as exc:  # recorded so the draft can be retried, then re-raised
        record_failure(engine, outgoing_id, "unknown", type(exc).__name__)
        raise
    try:
        record_sent(engine, outgoing_id, prepared, refused)
    except Exception:  # the message has left: never let a retry send it twice
        mark_sent(engine, outgoing_id)
        raise


def mark_sent(engine: Engine, outgoing_id: int) -> None:
    """Mark an email sent when storing its Email failed after SMTP accepted it."""
    with write_session(engine) as session:
        session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.id == outgoing_id)
            .values(state="sent", sent_at=utcnow(), attempts=OutgoingEmail.attempts + 1)
        )


def reopen(session: Session, outgoing_id: int) -> bool:
    """Put a failed email back in state "sending" (queue it next); False unless it failed."""
    result = session.execute(
        update(OutgoingEmail)
        .where(OutgoingEmail.id == outgoing_id, OutgoingEmail.state == "failed")
        .values(state="sending", error_code=None, error_detail="")
    )
    return result.rowcount == 1


def retry(
    engine: Engine, outgoing_id: int, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, secret_key: str | bytes,
) -> bool:  # fmt: skip
    """Send a failed email again, same Message-ID, in this thread; False unless it failed."""
    with write_session(engine) as session:
        if not reopen(session, outgoing_id):
            return False
    deliver(engine, outgoing_id, box, ca_file=ca_file, public_url=public_url, secret_key=secret_key)
    return True


def fail_interrupted(engine: Engine) -> int:
    """At process start, turn emails left "sending" by a dead process into retryable drafts."""
    with write_session(engine) as session:
        result = session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.state == "sending")
            .values(state="failed", error_code="interrupted", error_detail="")
        )
        return result.rowcount or 0


def tracked_link(session: Session, payload: TokenPayload | None) -> TrackedLink | None:
    """The link recorded for a click token: the only URL a click may redirect to."""
    if payload is None or payload.kind != "click" or payload.link_id is None:
        return None
    link = session.get(TrackedLink, payload.link_id)
    return link if link is not None and link.outgoing_id == payload.outgoing_id else None


def record_event(
    session: Session, token_payload: TokenPayload | None, kind: str, *, own_session: bool
) -> TrackingEvent | None:
    """Count an open or click (not from the sender's own session); notify on the first one."""
    payload = token_payload
    if own_session or payload is None or payload.kind != kind:
        return None
    outgoing = session.get(OutgoingEmail, payload.outgoing_id)
    link = tracked_link(session, payload) if kind == "click" else None
    if outgoing is None or (kind == "click" and link is None):
        return None
    seen = select(TrackingEvent.id).where(
        TrackingEvent.outgoing_id == outgoing.id, TrackingEvent.kind == kind
    )
    first = session.scalar(seen.limit(1)) is None
    event = TrackingEvent(
        outgoing_id=outgoing.id, recipient=payload.recipient, kind=kind, link_id=payload.link_id
    )
    session.add(event)
    if first:
        session.add(notification(outgoing, kind, link.url if link else payload.recipient))
    session.flush()
    return event


def notification(outgoing: OutgoingEmail, kind: str, detail: str) -> Notification:
    """The sender's notification of a first open (detail: recipient) or click (detail: URL)."""
    return Notification(
        user_id=outgoing.user_id, kind=kind, lead_id=outgoing.lead_id,
        outgoing_id=outgoing.id, email_id=outgoing.email_id, detail=detail,
    )  # fmt: skip


class SendQueue:
    """Delivers smart emails on a small thread pool, off the request thread (app.extensions)."""

    def __init__(
        self, engine: Engine, box: SecretBox, *, ca_file: str | None, public_url: str | None,
        secret_key: str | bytes, workers: int = 2,
    ) -> None:  # fmt: skip
        self._engine, self._box = engine, box
        self._options = {"ca_file": ca_file, "public_url": public_url, "secret_key": secret_key}
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="send")
        self._pending: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, outgoing_id: int) -> Future[None]:
        """Queue one delivery; an email already queued is not queued twice."""
        with self._lock:
            if outgoing_id in self._pending:
                return self._pending[outgoing_id]
            future = self._pool.submit(self._deliver, outgoing_id)
            self._pending[outgoing_id] = future
        future.add_done_callback(lambda done: self._finished(outgoing_id, done))
        return future

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every queued delivery (tests, shutdown)."""
        with self._lock:
            futures = list(self._pending.values())
        wait(futures, timeout)

    def shutdown(self) -> None:
        """Finish queued deliveries and stop the threads."""
        self._pool.shutdown(wait=True)

    def _deliver(self, outgoing_id: int) -> None:
        """Run one delivery on a pool thread."""
        deliver(self._engine, outgoing_id, self._box, **self._options)

    def _finished(self, outgoing_id: int, future: Future[None]) -> None:
        """Forget a finished delivery; log what it raised (it is recorded as failed)."""
        with self._lock:
            self._pending.pop(outgoing_id, None)
        exc = future.exception()
        if exc is not None:
            log.error("delivery of smart email %s failed", outgoing_id, exc_info=exc)

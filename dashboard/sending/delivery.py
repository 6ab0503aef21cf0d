"""Delivering a smart email: prepare the attempt, send it over SMTP, store what was sent.

The delivery rule: the write lock is never held while talking SMTP, and the OutgoingEmail
row keeps everything the rep wrote, so a failure only sets state/code/detail and a retry
sends the same Message-ID again. On success the Email row (origin "smart") is stored at
once under the (Message-ID, sender, fingerprint) identity the sync will find in the Sent folder, so
that copy only adds a Sighting: never two emails. Its row and its thread come from the
sync's own builder and rule (store/emails.email_row, mail/threads). In the same transaction
the linked leads' summaries (count, last contact, direction: the status badge) are
recomputed by the sync's own function, so the lead is current the moment SMTP accepts the
message, whether or not the server ever keeps a Sent copy. No Flask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from dashboard.db.dialect import insert_ignoring
from dashboard.db.engine import write_session
from dashboard.db.secrets import SecretBox
from dashboard.mail import smtp_client
from dashboard.mail.addresses import normalize_address
from dashboard.mail.fingerprint import content_fingerprint
from dashboard.mail.net import XOAUTH2
from dashboard.mail.smtp_client import SendError, SendErrorCode, SmtpSettings
from dashboard.mail.threads import choose_thread_key, reference_ids
from dashboard.models import Company, Email, EmailLead, OutgoingEmail, TrackedLink, User, utcnow
from dashboard.sending import compose
from dashboard.sending.compose import ComposeError
from dashboard.sending.outgoing import reopen, sending_mailbox
from dashboard.sending.tracking import TrackingTokens, click_url, pixel_url
from dashboard.states import Direction, Origin, OutgoingState
from dashboard.sync.store.emails import email_row
from dashboard.sync.store.leads import lead_ids_for, refresh_stats
from dashboard.sync.store.threads import known_threads
from dashboard.sync.tokens import OAuthConfig, TokenUnavailable, access_token

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """One delivery attempt, built inside a short transaction and sent outside it."""

    settings: SmtpSettings
    message: EmailMessage
    from_name: str
    from_addr: str
    recipients: list[str]
    mailbox_id: int | None = None  # an OAuth mailbox's access token is fetched before SMTP


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
    try:  # an OAuth mailbox's secret is its refresh token: never sent to the SMTP server
        password = "" if mailbox.auth == XOAUTH2 else box.decrypt(mailbox.secret)
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
    company = session.scalars(select(Company).order_by(Company.id)).first()
    settings = SmtpSettings(
        mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security,
        mailbox.username, password, ca_file,
        allow_local=bool(company and company.allow_local_servers), auth=mailbox.auth,
    )  # fmt: skip
    recipients = [*outgoing.to_addrs, *outgoing.cc_addrs, *outgoing.bcc_addrs]
    return Prepared(settings, message, user.name, mailbox.address, recipients, mailbox.id)


def start_attempt(
    engine: Engine, outgoing_id: int, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, tokens: TrackingTokens,
) -> Prepared | None:  # fmt: skip
    """Prepare an email waiting in state "sending"; None when there is nothing to send."""
    with write_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
        if outgoing is None or outgoing.state != OutgoingState.SENDING:
            return None
        return prepare(
            session, outgoing, box, ca_file=ca_file, public_url=public_url, tokens=tokens
        )


def thread_of(session: Session, outgoing: OutgoingEmail) -> str:
    """The smart email's thread, by the sync's rule (a smart email has no Gmail thread yet)."""
    refs = reference_ids(outgoing.in_reply_to, outgoing.references)
    return choose_thread_key(
        message_id=outgoing.message_id, in_reply_to=outgoing.in_reply_to,
        references=outgoing.references, known=known_threads(session, refs),
    )  # fmt: skip


def sent_fingerprint(prepared: Prepared) -> str:
    """The fingerprint the sync will compute for the Sent copy: from the headers sent."""
    return content_fingerprint(prepared.message["Date"].datetime, str(prepared.message["Subject"]))


def sent_row(session: Session, outgoing: OutgoingEmail, prepared: Prepared) -> dict[str, Any]:
    """The Email row a smart email becomes (bodies without tracking)."""
    return email_row(
        message_id=outgoing.message_id, sender=normalize_address(prepared.from_addr),
        fingerprint=sent_fingerprint(prepared), thread_key=thread_of(session, outgoing),
        subject=str(prepared.message["Subject"]), date=prepared.message["Date"].datetime,
        from_name=prepared.from_name, to=outgoing.to_addrs, cc=outgoing.cc_addrs,
        bcc=outgoing.bcc_addrs,
        in_reply_to=outgoing.in_reply_to, references=outgoing.references, direction=Direction.OUT,
        body_text=compose.simple_format_to_text(outgoing.body),
        body_html=compose.html_document(compose.simple_format_to_html(outgoing.body)),
        size=len(prepared.message.as_bytes()), origin=Origin.SMART, user_id=outgoing.user_id,
    )  # fmt: skip


def store_email(session: Session, outgoing: OutgoingEmail, prepared: Prepared) -> int:
    """Insert the Email (or adopt the copy a sync stored first) and link its leads."""
    sender = normalize_address(prepared.from_addr)
    email_id = session.scalar(
        select(Email.id).where(
            Email.message_id == outgoing.message_id,
            Email.sender == sender,
            Email.fingerprint == sent_fingerprint(prepared),
        )
    )
    if email_id is None:
        email = Email(**sent_row(session, outgoing, prepared))
        session.add(email)
        session.flush()
        email_id = email.id
    else:  # a teammate's mailbox (in Cc) synced it first, as mail that came in to them
        session.execute(
            update(Email)
            .where(Email.id == email_id)
            .values(origin=Origin.SMART, user_id=outgoing.user_id, direction=Direction.OUT)
        )
    leads = set(lead_ids_for(session, prepared.recipients).values())
    leads.update([outgoing.lead_id] if outgoing.lead_id else [])
    if leads:
        rows = [{"email_id": email_id, "lead_id": lead_id} for lead_id in leads]
        session.execute(insert_ignoring(session, EmailLead), rows)
        refresh_stats(session, leads)
    return email_id


def record_sent(
    engine: Engine, outgoing_id: int, prepared: Prepared, refused: dict[str, str]
) -> None:
    """Mark sent and store the Email; recipients refused among accepted ones are noted."""
    with write_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
        outgoing.state, outgoing.sent_at = OutgoingState.SENT, utcnow()
        outgoing.attempts += 1
        outgoing.error_code = smtp_client.SendErrorCode.RELAY_REFUSED.value if refused else None
        outgoing.error_detail = "; ".join(f"{a} ({r})" for a, r in refused.items())
        outgoing.email_id = store_email(session, outgoing, prepared)
        session.add(outgoing)


def record_failure(engine: Engine, outgoing_id: int, code: str, detail: str) -> None:
    """Keep the email as a failed draft with the reason (nothing the rep wrote changes)."""
    with write_session(engine) as session:
        outgoing = session.get(OutgoingEmail, outgoing_id)
        outgoing.state = OutgoingState.FAILED
        outgoing.attempts += 1
        outgoing.error_code, outgoing.error_detail = code, detail[:2000]
        session.add(outgoing)


def with_access_token(
    engine: Engine, prepared: Prepared, box: SecretBox, oauth: OAuthConfig, *, force: bool = False
) -> Prepared:
    """The attempt with a usable OAuth access token (a password mailbox's as it is)."""
    if prepared.settings.auth != XOAUTH2 or prepared.mailbox_id is None:
        return prepared
    try:
        token = access_token(engine, prepared.mailbox_id, box, oauth, force=force)
    except TokenUnavailable as exc:
        code = SendErrorCode.NETWORK if exc.code == "network" else SendErrorCode.AUTH_FAILED
        raise SendError(code, f"OAuth: {exc.code} {exc.detail}") from None
    return replace(prepared, settings=replace(prepared.settings, password=token))


def send_prepared(
    engine: Engine, prepared: Prepared, box: SecretBox, oauth: OAuthConfig
) -> dict[str, str]:
    """Send over SMTP; an OAuth mailbox whose token the server refused refreshes it once
    (a refusal comes at AUTH, before anything was sent)."""
    prepared = with_access_token(engine, prepared, box, oauth)
    try:
        return smtp_client.send(
            prepared.settings, prepared.message,
            from_addr=prepared.from_addr, recipients=prepared.recipients,
        )  # fmt: skip
    except SendError as exc:
        if prepared.settings.auth != XOAUTH2 or exc.code != SendErrorCode.AUTH_FAILED:
            raise
    prepared = with_access_token(engine, prepared, box, oauth, force=True)
    return smtp_client.send(
        prepared.settings, prepared.message,
        from_addr=prepared.from_addr, recipients=prepared.recipients,
    )  # fmt: skip


def deliver(
    engine: Engine, outgoing_id: int, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, secret_key: str | bytes, oauth: OAuthConfig | None = None,
) -> None:  # fmt: skip
    """Send one email waiting in state "sending" and record sent or failed (with the reason)."""
    tokens = TrackingTokens(secret_key)
    try:
        prepared = start_attempt(
            engine, outgoing_id, box, ca_file=ca_file, public_url=public_url, tokens=tokens
        )
        if prepared is None:
            return
        refused = send_prepared(engine, prepared, box, oauth or OAuthConfig())
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
            .values(state=OutgoingState.SENT, sent_at=utcnow(), attempts=OutgoingEmail.attempts + 1)
        )


def retry(
    engine: Engine, outgoing_id: int, box: SecretBox, *, ca_file: str | None,
    public_url: str | None, secret_key: str | bytes, oauth: OAuthConfig | None = None,
) -> bool:  # fmt: skip
    """Send a failed email again, same Message-ID, in this thread; False unless it failed."""
    with write_session(engine) as session:
        if not reopen(session, outgoing_id):
            return False
    deliver(
        engine, outgoing_id, box, ca_file=ca_file, public_url=public_url, secret_key=secret_key,
        oauth=oauth,
    )  # fmt: skip
    return True

"""Attachments on demand: bytes come from the mail server only when someone clicks.

Served as downloads (never inline): Content-Disposition attachment, nosniff, and a
sandbox CSP, so an HTML or SVG attachment can never run in the app's origin.
"""

from __future__ import annotations

from sqlalchemy import case, select
from sqlmodel import Session

from dashboard.db.secrets import SecretBox
from dashboard.mail import imap_fetch
from dashboard.mail.imap_client import ImapError, connect
from dashboard.mail.mime import transfer_decode
from dashboard.mailboxes.service import allows_local_servers, mailbox_settings
from dashboard.models import Attachment, Mailbox, Sighting


class AttachmentGone(LookupError):
    """No mailbox still holds the message (deleted, moved, or mailbox disconnected)."""


def decode_transfer(payload: bytes, encoding: str) -> bytes:
    """Undo the part's transfer encoding; never raises. Broken base64 (junk characters,
    missing or extra padding, a body that is not base64 at all) gives the bytes that can be
    read from it, as mail programs do, not an error page."""
    return transfer_decode(payload, encoding or "")


def places(session: Session, attachment: Attachment, prefer_user: int) -> list[tuple]:
    """Where the message was seen, the viewer's own connected mailbox first."""
    own_first = case((Mailbox.user_id == prefer_user, 0), else_=1)
    rows = session.execute(
        select(Sighting, Mailbox)
        .join(Mailbox, Mailbox.id == Sighting.mailbox_id)
        .where(Sighting.email_id == attachment.email_id, Mailbox.secret.is_not(None))
        .order_by(own_first, Sighting.id)
    )
    return list(rows.all())


def download(
    session: Session,
    attachment: Attachment,
    *,
    viewer_id: int,
    box: SecretBox,
    ca_file: str | None,
    timeout: float = 30.0,
) -> bytes:
    """Fetch one attachment's bytes from a mailbox that still has the message."""
    allow_local = allows_local_servers(session)
    for sighting, mailbox in places(session, attachment, viewer_id):
        settings = mailbox_settings(
            mailbox, box, ca_file=ca_file, timeout=timeout, allow_local=allow_local
        )
        try:
            with connect(settings) as client:
                status = imap_fetch.examine(client, sighting.folder)
                if status.uidvalidity != sighting.uidvalidity:
                    continue  # the folder was rebuilt: that UID means another message now
                payload = imap_fetch.fetch_section(client, sighting.uid, attachment.section)
        except ImapError:
            continue  # try the next copy; a folder may have been deleted
        if payload is not None:
            return decode_transfer(payload, attachment.encoding)
    raise AttachmentGone(attachment.id)

"""every message accounted for: email.fingerprint in the identity, syncrun.seen_again

Revision ID: 0011
Revises: 0010

1. email.fingerprint: a hash of the Date header and the normalised subject, backfilled from
   each stored row, and the identity index ix_email_identity becomes (message_id, sender,
   fingerprint): two different messages sharing a Message-ID and sender stop being merged.
   Every existing row was unique on (message_id, sender), so none can collide on the wider
   key; rows are kept exactly as they are (no email is split or merged here).
2. syncrun.seen_again: copies of already stored emails a round fetched (0 for past rounds,
   which did not count them).

The columns are added in place (no copy of the email table, which may be large).
Downgrade fails while two emails share a Message-ID and sender: the old identity cannot
hold them both.
"""

import ast
import hashlib
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BAD_DATE = "bad or missing Date "
BAD_DATE_END = "; using INTERNALDATE"


def header_instant(value: datetime | None) -> str:
    """A UTC instant to the second, "" for none (mail/fingerprint.py, frozen here)."""
    if value is None:
        return ""
    aware = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(value: datetime | None, subject: str) -> str:
    """The content fingerprint of mail/fingerprint.py, frozen with this revision."""
    normalized = "".join((subject or "").replace("\x00", "").split()).casefold()
    key = f"{header_instant(value)}\x1f{normalized}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def noted_header_date(note: str) -> datetime | None:
    """The Date header a "bad or missing Date b'...'" problem note quotes, as the parser
    reads it now (any parseable instant, even one it would not show); None otherwise."""
    quoted = note[len(BAD_DATE) :].removesuffix(BAD_DATE_END)
    try:
        raw = ast.literal_eval(quoted)
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        parsed = parsedate_to_datetime(text)
    except (ValueError, SyntaxError, TypeError, IndexError, OverflowError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def header_date(stored: str | None, problems: str | None) -> datetime | None:
    """The Date header of a stored row: its date, unless the parser noted that the date
    came from elsewhere (then the noted header, or none)."""
    for note in json.loads(problems or "[]"):
        if note == "no Date":
            return None
        if isinstance(note, str) and note.startswith(BAD_DATE):
            return noted_header_date(note)
    return datetime.fromisoformat(stored) if stored else None


def backfill_fingerprints(bind) -> None:  # type: ignore[no-untyped-def]
    """Every email's fingerprint from its stored date, problems and subject."""
    rows = bind.exec_driver_sql("SELECT id, date, subject, problems FROM email").all()
    values = [
        (fingerprint(header_date(stored, problems), subject or ""), email_id)
        for email_id, stored, subject, problems in rows
    ]
    if values:
        bind.exec_driver_sql("UPDATE email SET fingerprint = ? WHERE id = ?", values)


def upgrade() -> None:
    op.add_column("email", sa.Column("fingerprint", sa.String(), nullable=False, server_default=""))
    op.add_column(
        "syncrun", sa.Column("seen_again", sa.Integer(), nullable=False, server_default="0")
    )
    backfill_fingerprints(op.get_bind())
    op.drop_index("ix_email_identity", table_name="email")
    op.create_index(
        "ix_email_identity", "email", ["message_id", "sender", "fingerprint"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_email_identity", table_name="email")
    op.create_index("ix_email_identity", "email", ["message_id", "sender"], unique=True)
    with op.batch_alter_table("syncrun") as batch_op:
        batch_op.drop_column("seen_again")
    with op.batch_alter_table("email") as batch_op:
        batch_op.drop_column("fingerprint")

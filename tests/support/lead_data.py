"""Lead data straight into the database: leads, addresses, emails, links, mailboxes, sightings.

No IMAP and no sync round: rows are inserted in one write transaction and the lead
summaries (count, first/last contact, direction, rep) are recomputed with the app's own
`refresh_stats` when the block ends. Emails inserted here fire the FTS5 triggers like
synced ones, so search sees them. Everything takes numbers from one sequence, so ids,
addresses and Message-IDs never collide across a test run.

    with lead_data(engine) as data:
        lead = data.lead(name="Ana", owner=rep)
        data.thread(lead, rep=rep, messages=3, subject="Proposta")
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlmodel import Session

from dashboard.db.engine import read_session, write_session
from dashboard.leads.text import lead_search_text
from dashboard.mail.addresses import canonical_address
from dashboard.models import (
    Attachment,
    Company,
    Email,
    EmailLead,
    Lead,
    LeadAddress,
    Mailbox,
    Sighting,
    SkippedAddress,
    SkippedMessage,
    User,
)
from dashboard.sync.store.leads import refresh_stats
from tests.support import factories

# Default dates are BASE_DATE + one day per sequence number: they must stay in the past for a
# whole run (from 2024, a full suite's ~1,000th number reached "now" and a test's "older"
# thread became the newest).
BASE_DATE = datetime(2012, 3, 1, 12, 0, tzinfo=UTC)


def seq() -> int:
    """A number unique within the test run (the one sequence of every factory)."""
    return factories.next_number()


def ago(days: float = 0, hours: float = 0) -> datetime:
    """An aware UTC time in the past, relative to now (for stale_days badges)."""
    return datetime.now(UTC) - timedelta(days=days, hours=hours)


class LeadData:
    """Inserts rows in one session and remembers which leads need their summaries refreshed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.touched: set[int] = set()
        self._mailboxes: dict[int, int] = {}

    # --- people and mailboxes -------------------------------------------------------------

    def mailbox(self, user: User) -> int:
        """The id of the user's mailbox, created on first use (no secret: never synced)."""
        if user.id not in self._mailboxes:
            found = self.session.scalar(select(Mailbox.id).where(Mailbox.user_id == user.id))
            if found is None:
                found = self.session.execute(
                    insert(Mailbox)
                    .values(
                        user_id=user.id,
                        provider="other",
                        address=user.email,
                        username=user.email,
                        imap_host="127.0.0.1",
                        imap_port=993,
                        imap_security="tls",
                        secret=None,
                        folders=["INBOX"],
                        available_folders=["INBOX"],
                        capabilities=[],
                    )
                    .returning(Mailbox.id)
                ).scalar_one()
            self._mailboxes[user.id] = found
        return self._mailboxes[user.id]

    def lead(
        self,
        *,
        name: str | None = None,
        addresses: Sequence[str] | None = None,
        company: str = "",
        phone: str = "",
        owner: User | None = None,
        source: str = "manual",
        state: str = "active",
        created_at: datetime | None = None,
    ) -> Lead:
        """A lead with its addresses and search text (no emails yet)."""
        n = seq()
        name = f"Lead {n}" if name is None else name
        typed = [f"lead{n}@client{n}.test"] if addresses is None else list(addresses)
        addresses = [canonical_address(a) for a in typed]  # stored as the product stores them
        lead = Lead(
            name=name,
            company_name=company,
            phone=phone,
            owner_id=owner.id if owner else None,
            source=source,
            state=state,
            created_at=created_at or BASE_DATE + timedelta(minutes=n),
            search_text=lead_search_text(name, company, addresses),
        )
        self.session.add(lead)
        self.session.flush()
        for address in addresses:
            self.session.add(LeadAddress(lead_id=lead.id, address=address))
        self.session.flush()
        return lead

    # --- mail -----------------------------------------------------------------------------

    def email(
        self,
        leads: Lead | Iterable[Lead],
        *,
        rep: User | None = None,
        direction: str = "in",
        subject: str | None = None,
        body_text: str | None = None,
        body_html: str = "",
        date: datetime | None = None,
        thread_key: str | None = None,
        sender: str | None = None,
        from_name: str = "",
        to: Sequence[str] | None = None,
        cc: Sequence[str] = (),
        sighted: bool = True,
        origin: str = "sync",
    ) -> Email:
        """One email linked to the leads; seen in the rep's mailbox unless `sighted` is False."""
        leads = [leads] if isinstance(leads, Lead) else list(leads)
        n = seq()
        lead_address = self.first_address(leads[0]) if leads else f"someone{n}@client.test"
        rep_address = rep.email if rep else f"team{n}@acme.test"
        outbound = direction == "out"
        message_id = f"<m{n}@factory.test>"
        values = {
            "message_id": message_id,
            "sender": (sender or (rep_address if outbound else lead_address)).lower(),
            "thread_key": thread_key or message_id,
            "subject": f"Subject {n}" if subject is None else subject,
            "date": date or BASE_DATE + timedelta(minutes=n),
            "from_name": from_name,
            "to_addrs": list(to) if to is not None else [lead_address if outbound else rep_address],
            "cc_addrs": list(cc),
            "bcc_addrs": [],
            "references": [],
            "direction": direction,
            "body_text": f"Body of email {n}." if body_text is None else body_text,
            "body_html": body_html,
            "size": 1000,
            "problems": [],
            "origin": origin,
            "user_id": rep.id if rep else None,
        }
        email_id = self.session.execute(
            insert(Email).values(values).returning(Email.id)
        ).scalar_one()
        if leads:
            self.session.execute(
                insert(EmailLead), [{"email_id": email_id, "lead_id": lead.id} for lead in leads]
            )
            self.touched.update(lead.id for lead in leads)
        if rep and sighted:
            self.session.execute(
                insert(Sighting).values(
                    email_id=email_id,
                    mailbox_id=self.mailbox(rep),
                    folder="INBOX",
                    uidvalidity=1,
                    uid=n,
                )
            )
        return self.session.get(Email, email_id)

    def thread(
        self,
        lead: Lead,
        *,
        messages: int = 2,
        start: datetime | None = None,
        step: timedelta = timedelta(hours=1),
        subject: str | None = None,
        directions: Sequence[str] = ("in", "out"),
        **fields: object,
    ) -> list[Email]:
        """A thread of emails alternating directions, one `step` apart, oldest first."""
        start = start or BASE_DATE + timedelta(days=seq())
        key = f"thread-{seq()}"
        subject = f"Thread {key}" if subject is None else subject
        return [
            self.email(
                lead,
                thread_key=key,
                subject=subject,
                direction=directions[i % len(directions)],
                date=start + step * i,
                **fields,  # type: ignore[arg-type]
            )
            for i in range(messages)
        ]

    def attachment(
        self,
        email: Email,
        *,
        filename: str = "proposal.pdf",
        content_type: str = "application/pdf",
        size: int = 2048,
    ) -> int:
        """Describe an attachment of the email (its bytes stay "on the server")."""
        self.session.execute(
            Email.__table__.update().where(Email.id == email.id).values(has_attachments=True)
        )
        return self.session.execute(
            insert(Attachment)
            .values(
                email_id=email.id,
                filename=filename,
                content_type=content_type,
                size=size,
                section="2",
            )
            .returning(Attachment.id)
        ).scalar_one()

    def no_lead_skip(self, user: User, *addresses: str, uid: int | None = None) -> int:
        """A "no lead" row in the skip ledger of the user's mailbox, indexed by its outsiders."""
        skipped_id = self.session.execute(
            insert(SkippedMessage)
            .values(
                mailbox_id=self.mailbox(user),
                folder="INBOX",
                uidvalidity=1,
                uid=uid or seq(),
                message_id=f"<skip{seq()}@factory.test>",
                subject="Skipped",
                sender=addresses[0] if addresses else "",
                reason="no_lead",
                addresses=list(addresses),
                relink=False,
            )
            .returning(SkippedMessage.id)
        ).scalar_one()
        if addresses:
            self.session.execute(
                insert(SkippedAddress),
                [{"skipped_id": skipped_id, "address": a.lower()} for a in addresses],
            )
        return skipped_id

    def first_address(self, lead: Lead) -> str:
        """The lead's oldest address."""
        return self.session.scalar(
            select(LeadAddress.address)
            .where(LeadAddress.lead_id == lead.id)
            .order_by(LeadAddress.id)
            .limit(1)
        )

    def refresh(self) -> None:
        """Recompute the summaries of every lead that got mail."""
        self.session.flush()
        refresh_stats(self.session, self.touched)
        self.touched.clear()


@contextmanager
def lead_data(engine: Engine) -> Iterator[LeadData]:
    """Insert lead data in one transaction; summaries are refreshed before it commits."""
    with write_session(engine) as session:
        data = LeadData(session)
        yield data
        data.refresh()


def set_company(engine: Engine, **settings: object) -> None:
    """Change runtime company settings (visibility, stale_days, auto_create...)."""
    with write_session(engine) as session:
        company = session.scalars(select(Company).order_by(Company.id)).first()
        for key, value in settings.items():
            setattr(company, key, value)
        session.add(company)


def load_lead(engine: Engine, lead_id: int) -> Lead | None:
    """The stored lead, freshly read."""
    with read_session(engine) as session:
        return session.get(Lead, lead_id)


def addresses_of(engine: Engine, lead_id: int) -> list[str]:
    """A lead's stored addresses, oldest first."""
    with read_session(engine) as session:
        query = select(LeadAddress.address).where(LeadAddress.lead_id == lead_id)
        return list(session.scalars(query.order_by(LeadAddress.id)))


def linked_lead_ids(engine: Engine, email_id: int) -> set[int]:
    """Leads an email is linked to."""
    with read_session(engine) as session:
        return set(session.scalars(select(EmailLead.lead_id).where(EmailLead.email_id == email_id)))


def email_exists(engine: Engine, email_id: int) -> bool:
    """True while the email row is stored."""
    with read_session(engine) as session:
        return session.get(Email, email_id) is not None

"""A lead's email timeline: threads newest first, and what the viewer may see of each email.

Access levels: "full" (subject and body), "subject", "metadata" (date, direction, rep).
One's own mail is always full; a thread marked private by its rep is metadata for others;
otherwise the company's visibility setting decides. Queries per page are fixed in number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select
from sqlmodel import Session

from dashboard.models import (
    Attachment,
    Email,
    EmailLead,
    Mailbox,
    OutgoingEmail,
    PrivateThread,
    Sighting,
    TrackingEvent,
    User,
)

THREADS_PER_PAGE = 30
# What a collapsed thread shows (subject, participants, date, access).
HEAD_COLUMNS = (
    Email.id, Email.thread_key, Email.subject, Email.date, Email.sender, Email.to_addrs,
    Email.cc_addrs, Email.user_id, Email.direction, Email.origin,
)  # fmt: skip
LEVELS = {"all": "full", "subject": "subject", "metadata": "metadata"}

# The lead page runs these on every view, so they are built once, with bound parameters, and
# run on the session's connection (Core rows, no ORM loading): building and compiling a
# select costs more Python than SQLite takes to answer some of them (about 1 ms per page).
THREAD_PAGE = (
    select(Email.thread_key, func.count(), func.max(Email.date))
    .join(EmailLead, EmailLead.email_id == Email.id)
    .where(EmailLead.lead_id == bindparam("lead_id"))
    .group_by(Email.thread_key)
    .order_by(func.max(Email.date).desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
# Driven from the thread keys (ix_email_thread_key), not from all the lead's emails: the
# join from emaillead read the 2,000 emails of a big lead to keep 115 (1.6 ms -> 0.2 ms).
IN_THREADS_OF_LEAD = (
    Email.thread_key.in_(bindparam("keys", expanding=True)),
    exists().where(EmailLead.email_id == Email.id, EmailLead.lead_id == bindparam("lead_id")),
)


def seen_by(viewer_id, email_id):  # type: ignore[no-untyped-def]
    """The email was synced from the viewer's mailbox (index sighting(email_id, mailbox_id))."""
    mailboxes = select(Mailbox.id).where(Mailbox.user_id == viewer_id)
    return exists().where(Sighting.email_id == email_id, Sighting.mailbox_id.in_(mailboxes))


# Collapsed threads: in the same statement, whether the viewer's mailbox saw each email
# (own mail) and the name of its rep, instead of two more queries over 115 ids.
THREAD_HEADS = (
    select(
        *HEAD_COLUMNS,
        seen_by(bindparam("viewer_id"), Email.id).label("seen"),
        User.name.label("rep"),
    )
    .outerjoin(User, User.id == Email.user_id)
    .where(*IN_THREADS_OF_LEAD)
    .order_by(Email.date, Email.id)
)
THREAD_EMAILS = select(Email).where(*IN_THREADS_OF_LEAD).order_by(Email.date, Email.id)
PRIVATE_THREADS = select(PrivateThread.thread_key, PrivateThread.user_id).where(
    PrivateThread.thread_key.in_(bindparam("keys", expanding=True))
)
SEEN_BY_VIEWER = select(Email.id).where(
    Email.id.in_(bindparam("ids", expanding=True)), seen_by(bindparam("viewer_id"), Email.id)
)
USER_NAMES = select(User.id, User.name).where(User.id.in_(bindparam("ids", expanding=True)))


def access_level(*, own: bool, private_to_other: bool, visibility: str) -> str:
    """What the viewer sees of one email."""
    if own:
        return "full"
    if private_to_other:
        return "metadata"
    return LEVELS.get(visibility, "metadata")


@dataclass(slots=True)
class MessageView:
    """One email as the viewer may see it."""

    email: Email
    access: str
    rep: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    own: bool = False


@dataclass
class ThreadView:
    """One thread of the lead's timeline."""

    key: str
    count: int
    last_date: datetime
    messages: list[MessageView]
    private: bool = False
    private_mine: bool = False
    # Worked out once when the view is made (every collapsed thread shows all three):
    access: str = field(init=False)  # the best access the viewer has to any of its emails
    subject: str = field(init=False)  # of its first email the viewer may read
    participants: list[str] = field(init=False)  # addresses in its readable emails

    def __post_init__(self) -> None:
        readable = [m for m in self.messages if m.access != "metadata"]
        levels = {m.access for m in self.messages}
        self.access = next((a for a in ("full", "subject") if a in levels), "metadata")
        self.subject = readable[0].email.subject if readable else ""
        seen: dict[str, None] = {}
        for message in readable:
            email = message.email
            seen[email.sender] = None
            seen.update(dict.fromkeys(email.to_addrs))
            seen.update(dict.fromkeys(email.cc_addrs))
        self.participants = list(seen)

    @property
    def mine(self) -> bool:
        """True when some email of the thread is the viewer's own mail."""
        return any(m.own for m in self.messages)


def own_email_ids(session: Session, viewer_id: int, email_ids: list[int]) -> set[int]:
    """Which of these emails were synced from (or sent by) the viewer's own mailbox."""
    rows = session.connection().execute(SEEN_BY_VIEWER, {"ids": email_ids, "viewer_id": viewer_id})
    return set(rows.scalars())


def thread_page(session: Session, lead_id: int, page: int) -> tuple[list[tuple], bool]:
    """(thread_key, count, last date) of one page of the lead's threads, newest first."""
    page_of = {"lead_id": lead_id, "limit": THREADS_PER_PAGE + 1, "offset": page * THREADS_PER_PAGE}
    rows = session.connection().execute(THREAD_PAGE, page_of).all()
    return rows[:THREADS_PER_PAGE], len(rows) > THREADS_PER_PAGE


def lead_threads(
    session: Session,
    lead_id: int,
    *,
    viewer_id: int,
    visibility: str,
    page: int = 0,
    keys: list[str] | None = None,
    with_bodies: bool = False,
) -> tuple[list[ThreadView], bool]:
    """The lead's threads (a page, or the given keys) with each message's access level.

    The thread list needs no bodies or attachments: they load only for an expanded thread.
    """
    if keys is None:
        heads, more = thread_page(session, lead_id, page)
    else:
        heads, more = [(k, 0, None) for k in keys], False
    wanted = [h[0] for h in heads]
    params = {"keys": wanted, "lead_id": lead_id}
    private = private_threads(session, wanted)
    if with_bodies:
        emails = list(session.scalars(THREAD_EMAILS, params))
        views = message_views(session, emails, viewer_id, visibility, private)
    else:  # collapsed threads: plain rows of the few columns shown, no ORM objects
        params["viewer_id"] = viewer_id
        rows = session.connection().execute(THREAD_HEADS, params).all()
        views = head_views(rows, viewer_id, visibility, private)
    by_key: dict[str, list[MessageView]] = {k: [] for k in wanted}
    for view in views:
        by_key[view.email.thread_key].append(view)
    threads = [
        ThreadView(
            k,
            len(by_key[k]),
            by_key[k][-1].email.date if by_key[k] else last,
            by_key[k],
            k in private,
            private.get(k) == viewer_id,
        )
        for k, _count, last in heads
        if by_key[k]
    ]
    return threads, more


def private_threads(session: Session, keys: list[str]) -> dict[str, int]:
    """Which of these threads are private, and whose."""
    return dict(session.connection().execute(PRIVATE_THREADS, {"keys": keys}).all())


def message_view(
    email, *, seen: bool, rep: str, attachments: list, viewer_id: int, visibility: str,
    private: dict[str, int],
) -> MessageView:  # fmt: skip
    """One email as the viewer may see it; `seen`: synced from the viewer's mailbox."""
    mine = seen or email.user_id == viewer_id
    private_to_other = private.get(email.thread_key, viewer_id) != viewer_id
    access = access_level(own=mine, private_to_other=private_to_other, visibility=visibility)
    return MessageView(email, access, rep, attachments, mine)


def head_views(rows: list, viewer_id: int, visibility: str, private: dict[str, int]) -> list:
    """MessageViews of THREAD_HEADS rows, which already say "seen by the viewer" and the rep."""
    return [
        message_view(
            row,
            seen=row.seen,
            rep=row.rep or "",
            attachments=[],
            viewer_id=viewer_id,
            visibility=visibility,
            private=private,
        )  # fmt: skip
        for row in rows
    ]


def message_views(
    session: Session, emails: list[Email], viewer_id: int, visibility: str, private: dict[str, int]
) -> list[MessageView]:
    """Access level, rep name and attachments of each email, in three queries."""
    ids = [e.id for e in emails]
    own = own_email_ids(session, viewer_id, ids)
    users = list({e.user_id for e in emails if e.user_id})
    names = dict(session.connection().execute(USER_NAMES, {"ids": users}).all())
    files: dict[int, list[Attachment]] = {}
    for item in session.scalars(select(Attachment).where(Attachment.email_id.in_(ids))):
        files.setdefault(item.email_id, []).append(item)
    return [
        message_view(
            e,
            seen=e.id in own,
            rep=names.get(e.user_id, ""),
            attachments=files.get(e.id, []),
            viewer_id=viewer_id,
            visibility=visibility,
            private=private,
        )  # fmt: skip
        for e in emails
    ]


@dataclass
class TrackingStats:
    """How often a smart email was opened (or clicked), and when last."""

    count: int
    last: datetime


def tracking_summary(session: Session, email_ids: list[int]) -> dict[int, dict[str, TrackingStats]]:
    """Opens and clicks of the smart emails among these emails: one query."""
    rows = session.execute(
        select(OutgoingEmail.email_id, TrackingEvent.kind, func.count(), func.max(TrackingEvent.at))
        .join(TrackingEvent, TrackingEvent.outgoing_id == OutgoingEmail.id)
        .where(OutgoingEmail.email_id.in_(email_ids))
        .group_by(OutgoingEmail.email_id, TrackingEvent.kind)
    )
    summary: dict[int, dict[str, TrackingStats]] = {}
    for email_id, kind, count, last in rows:
        summary.setdefault(email_id, {})[kind] = TrackingStats(count, last)
    return summary

"""A lead's email timeline: threads newest first, and what the viewer may see of each email.

Each message's access comes from the one rule, `dashboard/leads/access.py`; messages the
viewer may not see at all (`Access.NONE`) are not listed. Queries per page are fixed in number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, exists, func, select
from sqlmodel import Session

from dashboard.leads.access import Access, Relation, Viewer, best, level_of, relation_of
from dashboard.leads.access_queries import private_threads, seen_by, seen_ids
from dashboard.leads.files import ListedFile, files_of
from dashboard.models import Attachment, Email, EmailLead, OutgoingEmail, TrackingEvent, User

THREADS_PER_PAGE = 30
# What a collapsed thread shows (subject, participants, date, access).
HEAD_COLUMNS = (
    Email.id, Email.thread_key, Email.subject, Email.date, Email.sender, Email.to_addrs,
    Email.cc_addrs, Email.user_id, Email.direction, Email.origin,
)  # fmt: skip

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
USER_NAMES = select(User.id, User.name).where(User.id.in_(bindparam("ids", expanding=True)))


@dataclass(slots=True)
class MessageView:
    """One email as the viewer may see it."""

    email: Email
    access: Access
    rep: str = ""
    attachments: list[ListedFile] = field(default_factory=list)
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
    access: Access = field(init=False)  # the best access the viewer has to any of its emails
    subject: str = field(init=False)  # of its first email whose subject the viewer may see
    participants: list[str] = field(init=False)  # addresses in those emails

    def __post_init__(self) -> None:
        readable = [m for m in self.messages if m.access.shows_subject]
        self.access = best(m.access for m in self.messages)
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


def thread_page(session: Session, lead_id: int, page: int) -> tuple[list[Row[Any]], bool]:
    """(thread_key, count, last date) of one page of the lead's threads, newest first."""
    page_of = {"lead_id": lead_id, "limit": THREADS_PER_PAGE + 1, "offset": page * THREADS_PER_PAGE}
    rows = list(session.connection().execute(THREAD_PAGE, page_of).all())
    return rows[:THREADS_PER_PAGE], len(rows) > THREADS_PER_PAGE


def lead_threads(
    session: Session,
    lead_id: int,
    *,
    viewer: Viewer,
    visibility: str,
    page: int = 0,
    keys: list[str] | None = None,
    with_bodies: bool = False,
) -> tuple[list[ThreadView], bool]:
    """The lead's threads (a page, or the given keys) with each message's access level.

    The thread list needs no bodies or attachments: they load only for an expanded thread.
    """
    more = False
    if keys is None:
        heads, more = thread_page(session, lead_id, page)
        keys = [head[0] for head in heads]  # (thread_key, count, last date)
    params = {"keys": keys, "lead_id": lead_id}
    private = private_threads(session, keys)
    if with_bodies:
        emails = list(session.scalars(THREAD_EMAILS, params))
        views = message_views(session, emails, viewer, visibility, private)
    else:  # collapsed threads: plain rows of the few columns shown, no ORM objects
        params["viewer_id"] = viewer.id
        rows = session.connection().execute(THREAD_HEADS, params).all()
        views = head_views(rows, viewer, visibility, private)
    threads = {thread.key: thread for thread in thread_views(views, private, viewer)}
    return [threads[k] for k in keys if k in threads], more


def thread_views(
    views: list[MessageView], private: dict[str, int], viewer: Viewer
) -> list[ThreadView]:
    """Messages grouped by thread, in the order their threads first appear."""
    by_key: dict[str, list[MessageView]] = {}
    for view in views:
        by_key.setdefault(view.email.thread_key, []).append(view)
    return [
        ThreadView(
            key,
            len(messages),
            messages[-1].email.date,
            messages,
            key in private,
            private.get(key) == viewer.id,
        )
        for key, messages in by_key.items()
    ]


def message_view(
    email: Email | Row[Any],
    *,
    seen: bool,
    rep: str,
    attachments: list[ListedFile],
    viewer: Viewer,
    visibility: str,
    private: dict[str, int],
) -> MessageView:
    """One email as the viewer may see it; `seen`: synced from the viewer's mailbox."""
    private_by = private.get(email.thread_key)
    relation = relation_of(viewer.id, rep_id=email.user_id, seen=seen, private_by=private_by)
    access = level_of(viewer, relation, visibility)  # email_access, keeping the relation
    return MessageView(email, access, rep, attachments, relation is Relation.OWN)


def head_views(
    rows: list[Row[Any]], viewer: Viewer, visibility: str, private: dict[str, int]
) -> list[MessageView]:
    """Listed MessageViews of THREAD_HEADS rows, which already say "seen" and the rep."""
    views = (
        message_view(
            row,
            seen=row.seen,
            rep=row.rep or "",
            attachments=[],
            viewer=viewer,
            visibility=visibility,
            private=private,
        )
        for row in rows
    )
    return [view for view in views if view.access.listed]


def message_views(
    session: Session, emails: list[Email], viewer: Viewer, visibility: str, private: dict[str, int]
) -> list[MessageView]:
    """Listed emails with access level, rep name and attachments, in three queries."""
    ids = [e.id for e in emails]
    seen = seen_ids(session, viewer.id, ids)
    users = list({e.user_id for e in emails if e.user_id})
    names = dict(session.connection().execute(USER_NAMES, {"ids": users}).all())
    files: dict[int, list[Attachment]] = {}
    for item in session.scalars(select(Attachment).where(Attachment.email_id.in_(ids))):
        files.setdefault(item.email_id, []).append(item)
    views = (
        message_view(
            e,
            seen=e.id in seen,
            rep=names.get(e.user_id, ""),
            attachments=files_of(e.body_html, files.get(e.id, [])),
            viewer=viewer,
            visibility=visibility,
            private=private,
        )
        for e in emails
    )
    return [view for view in views if view.access.listed]


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

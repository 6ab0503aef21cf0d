"""Many emails, fast, for the retention purge's load test and benchmark (bench/purge_bench.py).

`fill()` writes, with executemany in one transaction on the raw SQLite connection (the FTS5
triggers index every subject and body as they go), a mailbox for a user, leads with one
address each, and emails: `old` of them dated 400 to 1,100 days ago (beyond a 12-month
retention), `recent` of them within the last 300 days. Each email is linked to a lead (5% to
two), seen in the mailbox, and one in five has an attachment row; bodies are pseudo-words
(varied tokens for the full-text index) of about `body_bytes`. `ledger` skip-ledger rows,
half of them old, each with an indexed outsider address.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from dashboard.db.engine import write_session
from dashboard.sync.store.leads import refresh_stats

SYLLABLES = ("ta", "ri", "lo", "ven", "da", "pro", "pos", "cli", "en", "te", "or", "ça",
             "men", "to", "na", "gó", "cio", "pra", "zo", "mar", "que", "sul", "bra")  # fmt: skip
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


@dataclass
class BulkMail:
    """What `fill` wrote."""

    mailbox_id: int
    lead_ids: range
    old: int
    recent: int
    ledger_old: int
    ledger_recent: int


def stamp(value: datetime) -> str:
    """A UTC time as the database stores it."""
    return value.astimezone(UTC).strftime(STAMP)


def words(rng: random.Random, size: int) -> str:
    """Pseudo-Portuguese text of about `size` characters."""
    vocabulary = ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(3000)]
    out, length = [], 0
    while length < size:
        word = rng.choice(vocabulary)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def fill(
    engine: Engine,
    user_id: int,
    *,
    old: int,
    recent: int,
    leads: int = 1000,
    ledger: int = 0,
    body_bytes: int = 500,
    seed: int = 7,
) -> BulkMail:
    """Write the mailbox, leads, emails and ledger rows described in the module docstring."""
    rng, now = random.Random(seed), datetime.now(UTC)
    texts = [words(rng, body_bytes) for _ in range(200)]  # bodies are drawn from these
    raw = engine.raw_connection()
    try:
        conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        conn.execute("BEGIN IMMEDIATE")
        mailbox_id = add_mailbox(conn, user_id, now)
        first_lead = add_leads(conn, leads, now)
        lead_ids = range(first_lead, first_lead + leads)
        dates = [now - timedelta(days=rng.uniform(400, 1100)) for _ in range(old)]
        dates += [now - timedelta(days=rng.uniform(0, 300)) for _ in range(recent)]
        add_emails(conn, rng, dates, texts, mailbox_id, lead_ids, user_id, now)
        add_ledger(conn, rng, ledger, mailbox_id, now)
        conn.execute("COMMIT")
    finally:
        raw.close()
    with write_session(engine) as session:
        refresh_stats(session, lead_ids)
    return BulkMail(mailbox_id, lead_ids, old, recent, ledger // 2, ledger - ledger // 2)


def add_mailbox(conn: sqlite3.Connection, user_id: int, now: datetime) -> int:
    """A mailbox with no secret (never synced)."""
    cursor = conn.execute(
        "INSERT INTO mailbox (user_id, provider, address, username, imap_host, imap_port,"
        " imap_security, folders, available_folders, capabilities, status, created_at, failures)"
        " VALUES (?, 'other', ?, ?, '127.0.0.1', 993, 'tls', '[\"INBOX\"]', '[\"INBOX\"]', '[]',"
        " 'connected', ?, 0)",
        (user_id, f"bulk{user_id}@acme.test", f"bulk{user_id}@acme.test", stamp(now)),
    )
    return int(cursor.lastrowid or 0)


def add_leads(conn: sqlite3.Connection, count: int, now: datetime) -> int:
    """`count` leads with one address each; returns the first lead's id."""
    start = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM lead").fetchone()[0])
    conn.executemany(
        "INSERT INTO lead (id, name, company_name, phone, source, state, created_at,"
        " email_count, search_text) VALUES (?, ?, '', '', 'sync', 'active', ?, 0, ?)",
        ((start + i, f"Lead {i}", stamp(now), f"lead {i}") for i in range(count)),
    )
    conn.executemany(
        "INSERT INTO leadaddress (lead_id, address, created_at) VALUES (?, ?, ?)",
        ((start + i, f"lead{start + i}@cliente{i % 97}.test", stamp(now)) for i in range(count)),
    )
    return start


def add_emails(
    conn: sqlite3.Connection,
    rng: random.Random,
    dates: list[datetime],
    texts: list[str],
    mailbox_id: int,
    lead_ids: range,
    user_id: int,
    now: datetime,
) -> None:
    """The emails, their lead links, sightings and attachment rows."""
    start = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM email").fetchone()[0])
    emails, links, sightings, attachments = [], [], [], []
    for offset, when in enumerate(dates):
        email_id, lead = start + offset, rng.choice(lead_ids)
        has_attachment = rng.random() < 0.2
        emails.append((
            email_id, f"<bulk{email_id}@mail.test>", f"lead{lead}@cliente.test",
            f"thread-{email_id // 4}", f"Assunto {rng.choice(texts)[:40]}", stamp(when),
            "in" if email_id % 2 else "out", rng.choice(texts), has_attachment, user_id,
            stamp(now),
        ))  # fmt: skip
        links.append((email_id, lead))
        if rng.random() < 0.05:
            links.append((email_id, lead_ids[(lead - lead_ids[0] + 1) % len(lead_ids)]))
        sightings.append((email_id, mailbox_id, "INBOX", 1, email_id))
        if has_attachment:
            attachments.append((email_id, f"proposta{email_id}.pdf", "application/pdf", 40000))
    conn.executemany(
        "INSERT INTO email (id, message_id, sender, synthetic_id, thread_key, subject, date,"
        ' from_name, to_addrs, cc_addrs, bcc_addrs, "references", direction, body_text,'
        " body_html, size, has_attachments, problems, origin, user_id, created_at)"
        " VALUES (?, ?, ?, 0, ?, ?, ?, '', '[]', '[]', '[]', '[]', ?, ?, '', 2000, ?, '[]',"
        " 'sync', ?, ?)",
        emails,
    )
    conn.executemany("INSERT OR IGNORE INTO emaillead (email_id, lead_id) VALUES (?, ?)", links)
    conn.executemany(
        "INSERT INTO sighting (email_id, mailbox_id, folder, uidvalidity, uid)"
        " VALUES (?, ?, ?, ?, ?)",
        sightings,
    )
    conn.executemany(
        "INSERT INTO attachment (email_id, filename, content_type, size, section, encoding,"
        " inline) VALUES (?, ?, ?, ?, '2', 'base64', 0)",
        attachments,
    )


def add_ledger(
    conn: sqlite3.Connection, rng: random.Random, count: int, mailbox_id: int, now: datetime
) -> None:
    """ "No lead" ledger rows, the first half old, each with its outsider indexed."""
    start = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM skippedmessage").fetchone()[0])
    rows, addresses = [], []
    for offset in range(count):
        row_id, old = start + offset, offset < count // 2
        when = now - timedelta(days=rng.uniform(400, 1100) if old else rng.uniform(0, 300))
        address = f"fora{row_id}@externo.test"
        rows.append((row_id, mailbox_id, 1_000_000 + row_id, stamp(when), json.dumps([address]),
                     stamp(now)))  # fmt: skip
        addresses.append((row_id, address))
    conn.executemany(
        "INSERT INTO skippedmessage (id, mailbox_id, folder, uidvalidity, uid, message_id, date,"
        " subject, sender, reason, detail, addresses, relink, created_at)"
        " VALUES (?, ?, 'INBOX', 1, ?, '', ?, '', '', 'no_lead', '', ?, 0, ?)",
        rows,
    )
    conn.executemany("INSERT INTO skippedaddress (skipped_id, address) VALUES (?, ?)", addresses)

"""lead addresses in canonical form: lowercased, "+tag" dropped (dashboard/mail/addresses.py)

Revision ID: 0007
Revises: 0006

No schema change. The sync has always looked leads up by the canonical address, while the
lead form stored what was typed, so a lead typed as "joao+crm@x.com" never matched its
mail. This revision rewrites the rows; the app writes only canonical addresses from now on.

1. leadaddress. Rows are grouped by canonical form. In each group one row is kept and
   rewritten: the row already in canonical form (its lead already owns the address), else
   the oldest row. Every other row of the group is dropped when its lead is the kept row's
   lead (a duplicate) or when its lead keeps another address. A lead whose only address it
   is keeps the row as it was, tagged: no lead is ever left without an address, and the
   two leads of that person are left for a person to merge on the lead page.
   Email links (emaillead) are not touched by dropping a row: no link is lost.
2. Emails the sync stored for a rewritten address but could not link (it was looking for
   the canonical form) are linked to the lead that now owns it: every stored email whose
   sender, To, Cc or Bcc has that canonical form, as the sync links by participants.
   Company addresses are left alone, as the sync never links them. Lead summaries of the
   leads that gain links are recomputed.
3. Skip-ledger rows ("no lead", "automated") naming a rewritten address are flagged for
   relinking, as adding the address by hand does: the next round fetches and links them.
4. lead.search_text is recomputed for every lead whose addresses changed.
5. dismissedaddress rows take the canonical form; of rows that collide the oldest stays.

Downgrade keeps the rows as they are: the dropped tags are not recorded anywhere.
"""

import json
import unicodedata
from collections import Counter

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RELINKABLE = ("no_lead", "automated")

LEAD_STATS_SQL = """
UPDATE lead SET
  email_count = (SELECT count(*) FROM emaillead el WHERE el.lead_id = lead.id),
  first_contact_at = (SELECT min(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                      WHERE el.lead_id = lead.id),
  last_contact_at = (SELECT max(e.date) FROM email e JOIN emaillead el ON el.email_id = e.id
                     WHERE el.lead_id = lead.id),
  last_direction = (SELECT e.direction FROM email e JOIN emaillead el ON el.email_id = e.id
                    WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1),
  last_contact_user_id = (SELECT e.user_id FROM email e JOIN emaillead el ON el.email_id = e.id
                          WHERE el.lead_id = lead.id ORDER BY e.date DESC, e.id DESC LIMIT 1)
WHERE lead.id IN (SELECT value FROM json_each(?))
"""


def canonical(address: str) -> str:
    """The app's canonical_address for a stored (bare) address, frozen with this revision."""
    local, _, domain = (address or "").strip().lower().partition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}" if domain else ""


def fold(text: str) -> str:
    """Lowercase without accents (the app's search-text rule, frozen with this revision)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def plan_addresses(rows: list[tuple[int, int, str]]) -> tuple[dict[int, str], list[int]]:
    """Rewrites (row id -> canonical address) and drops (row ids) of the leadaddress rows."""
    groups: dict[str, list[tuple[int, int, str]]] = {}
    for row in rows:  # oldest first
        groups.setdefault(canonical(row[2]), []).append(row)
    remaining = Counter(lead_id for _id, lead_id, _address in rows)
    rewrites: dict[int, str] = {}
    drops: list[int] = []
    for key, members in groups.items():
        if not key:
            continue  # not an address at all: nothing to recognise it by
        keeper = next((m for m in members if m[2] == key), members[0])
        if keeper[2] != key:
            rewrites[keeper[0]] = key
        for row_id, lead_id, _address in members:
            if row_id != keeper[0] and (lead_id == keeper[1] or remaining[lead_id] > 1):
                drops.append(row_id)
                remaining[lead_id] -= 1
    return rewrites, drops


def company_keys(bind) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    """The company's domains and its users' canonical addresses (never linked to leads)."""
    domains: set[str] = set()
    for (raw,) in bind.exec_driver_sql("SELECT domains FROM company"):
        domains.update(d.strip().lower().removeprefix("@") for d in json.loads(raw or "[]"))
    people = bind.exec_driver_sql(
        'SELECT email FROM "user" UNION ALL SELECT address FROM useraddress'
    )
    return domains, {canonical(a) for (a,) in people}


def link_stored_emails(bind, owners: dict[str, int]) -> set[int]:  # type: ignore[no-untyped-def]
    """Link the emails that name a rewritten address to its lead; the leads that gained any."""
    domains, users = company_keys(bind)
    owners = {k: v for k, v in owners.items() if k.rpartition("@")[2] not in domains}
    owners = {k: v for k, v in owners.items() if k not in users}
    if not owners:
        return set()
    needles = sorted({"@" + key.rpartition("@")[2] for key in owners})
    participants = "lower(sender || ' ' || to_addrs || ' ' || cc_addrs || ' ' || bcc_addrs)"
    # A cheap filter by domain in SQL (one pass over the table), the exact match in Python.
    where = " OR ".join(f"instr({participants}, ?) > 0" for _ in needles)
    links: set[tuple[int, int]] = set()
    for email_id, sender, to, cc, bcc in bind.exec_driver_sql(
        # Only "?" placeholders are formatted into these statements, never a value.
        f"SELECT id, sender, to_addrs, cc_addrs, bcc_addrs FROM email WHERE {where}",  # noqa: S608
        tuple(needles),
    ):
        named = {canonical(sender), *(canonical(a) for g in (to, cc, bcc) for a in json.loads(g))}
        links.update((email_id, owners[key]) for key in named & owners.keys())
    if links:
        bind.exec_driver_sql(
            "INSERT OR IGNORE INTO emaillead (email_id, lead_id) VALUES (?, ?)", sorted(links)
        )
    gained = {lead_id for _email_id, lead_id in links}
    if gained:
        bind.exec_driver_sql(LEAD_STATS_SQL, (json.dumps(sorted(gained)),))
    return gained


def flag_relinks(bind, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Flag the ledger rows that name these addresses, as adding them by hand does."""
    marks = ", ".join("?" for _ in keys)
    reasons = ", ".join("?" for _ in RELINKABLE)
    bind.exec_driver_sql(
        f"UPDATE skippedmessage SET relink = 1 WHERE reason IN ({reasons}) AND id IN "  # noqa: S608
        f"(SELECT skipped_id FROM skippedaddress WHERE address IN ({marks}))",
        (*RELINKABLE, *keys),
    )


def refresh_search_text(bind, lead_ids: set[int]) -> None:  # type: ignore[no-untyped-def]
    """Fold name, company and addresses (oldest first) into the search text of these leads."""
    for lead_id in sorted(lead_ids):
        name, company = bind.exec_driver_sql(
            "SELECT name, company_name FROM lead WHERE id = ?", (lead_id,)
        ).one()
        addresses = [
            a
            for (a,) in bind.exec_driver_sql(
                "SELECT address FROM leadaddress WHERE lead_id = ? ORDER BY id", (lead_id,)
            )
        ]
        text = fold(" ".join([name or "", company or "", *addresses]))
        bind.exec_driver_sql("UPDATE lead SET search_text = ? WHERE id = ?", (text, lead_id))


def canonical_dismissals(bind) -> None:  # type: ignore[no-untyped-def]
    """Dismissed addresses in canonical form; of colliding rows the oldest stays."""
    rows = bind.exec_driver_sql(
        "SELECT address FROM dismissedaddress ORDER BY created_at, address"
    ).fetchall()
    taken = {a for (a,) in rows if canonical(a) == a}
    for (address,) in rows:
        key = canonical(address)
        if not key or key == address:
            continue
        if key in taken:
            bind.exec_driver_sql("DELETE FROM dismissedaddress WHERE address = ?", (address,))
        else:
            bind.exec_driver_sql(
                "UPDATE dismissedaddress SET address = ? WHERE address = ?", (key, address)
            )
            taken.add(key)


def upgrade() -> None:
    bind = op.get_bind()
    rows = [
        (row_id, lead_id, address)
        for row_id, lead_id, address in bind.exec_driver_sql(
            "SELECT id, lead_id, address FROM leadaddress ORDER BY id"
        )
    ]
    rewrites, drops = plan_addresses(rows)
    if drops:
        bind.exec_driver_sql("DELETE FROM leadaddress WHERE id = ?", [(i,) for i in drops])
    if rewrites:
        bind.exec_driver_sql(
            "UPDATE leadaddress SET address = ? WHERE id = ?",
            [(key, row_id) for row_id, key in rewrites.items()],
        )
    owner_of = {row_id: lead_id for row_id, lead_id, _address in rows}
    owners = {key: owner_of[row_id] for row_id, key in rewrites.items()}
    if owners:
        link_stored_emails(bind, owners)
        flag_relinks(bind, sorted(owners))
    refresh_search_text(bind, {owner_of[i] for i in [*rewrites, *drops]})
    canonical_dismissals(bind)


def downgrade() -> None:
    pass  # the canonical rows are valid at 0006 too; the dropped tags cannot be restored

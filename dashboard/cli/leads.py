"""`flask --app dashboard leads add|export|erase`: a lead by script (an import, a CRM
hand-over), made exactly as the "new lead" page makes it; a lead's data exported as a ZIP or
erased at the person's request (LGPD), as the lead page's admin actions do."""

from __future__ import annotations

import os
import tempfile
from functools import partial
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import Session, select

from dashboard.accounts import audit
from dashboard.accounts.service import AccountError
from dashboard.cli.common import engine, fail
from dashboard.db.engine import read_session, write_session
from dashboard.db.flask import secret_box
from dashboard.db.scrub import scrub
from dashboard.emails.attachments import download
from dashboard.emails.export import export_lead
from dashboard.leads import service as leads
from dashboard.leads.erasure import ErasureError, erase_lead, lead_to_erase
from dashboard.models import Lead, User, utcnow

leads_cli = AppGroup("leads", help="Manage leads.")


@leads_cli.command("add")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--name", default="", help="Defaults to the first address's local part.")
@click.option("--company", default="")
@click.option("--phone", default="")
@click.option("--owner", "owner_email", help="The owning user's email (none by default).")
def leads_add(
    addresses: tuple[str, ...], name: str, company: str, phone: str, owner_email: str | None
) -> None:
    """Add a lead with one or more addresses."""
    try:
        with write_session(engine()) as session:
            owner_id = None
            if owner_email:
                owner_id = session.scalar(
                    select(User.id).where(User.email == owner_email.strip().lower())
                )
                if owner_id is None:
                    raise AccountError(f"no user {owner_email}")
            lead = leads.create_lead(
                session,
                name=name,
                addresses=list(addresses),
                company=company,
                phone=phone,
                owner_id=owner_id,
            )
            lead_id, lead_name = lead.id, lead.name
    except AccountError as error:
        fail(error)
    click.echo(f"Lead {lead_id} added: {lead_name}.")


def find_lead(session: Session, lead_or_address: str) -> Lead:
    """A lead named by its number or by one of its addresses."""
    found = (
        session.get(Lead, int(lead_or_address))
        if lead_or_address.isdigit()
        else leads.lead_with_address(session, lead_or_address)
    )
    if found is None:
        raise AccountError(f"no lead {lead_or_address}")
    return found


@leads_cli.command("export")
@click.argument("lead_or_address")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def leads_export(lead_or_address: str, out_path: Path) -> None:
    """Export a lead's data (every email, attachments fetched now) as a ZIP."""
    fetch_options = {
        "viewer_id": 0,
        "box": secret_box(),
        "ca_file": current_app.config.get("IMAP_CA_FILE"),
    }
    try:
        with read_session(engine()) as session:
            lead = find_lead(session, lead_or_address)
            # Written beside the target, then renamed: never half a ZIP under the asked name.
            handle, partial_path = tempfile.mkstemp(dir=out_path.parent or ".", suffix=".part")
            with os.fdopen(handle, "wb") as out:
                summary = export_lead(
                    session,
                    lead,
                    out,
                    viewer=None,
                    fetch=partial(download, session, **fetch_options),
                )
            os.replace(partial_path, out_path)
            lead_id = lead.id
        with write_session(engine()) as session:
            audit.record(session, None, "lead.export", {"lead": lead_id, "emails": summary.emails})
    except AccountError as error:
        fail(error)
    click.echo(
        f"Lead {lead_id} exported to {out_path}: {summary.emails} emails, "
        f"{summary.attachments} attachments ({summary.unavailable} unavailable)."
    )


@leads_cli.command("erase")
@click.argument("address")
@click.option("--yes", is_flag=True, help="Erase without asking (the data cannot come back).")
def leads_erase(address: str, yes: bool) -> None:
    """Erase the data of the lead with this address (LGPD): see the lead page's erasure."""
    try:
        with write_session(engine()) as session:
            lead = lead_to_erase(session, address)
            if not yes:
                click.confirm(f"Erase lead {lead.id} and its emails for good?", abort=True)
            plan = erase_lead(session, lead, actor=None, now=utcnow())
    except (ErasureError, AccountError) as error:
        fail(error)
    complete = scrub(engine())
    click.echo(
        f"Lead {plan.lead_id} erased: {plan.emails} emails deleted, "
        f"{plan.shared_emails} kept for other leads."
    )
    if not complete:
        click.echo("Note: a reader kept the WAL busy; the next checkpoint empties it.", err=True)

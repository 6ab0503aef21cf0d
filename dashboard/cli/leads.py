"""`flask --app dashboard leads add`: a lead by script (an import, a CRM hand-over), made
exactly as the "new lead" page makes it."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlmodel import select

from dashboard.accounts.service import AccountError
from dashboard.cli.common import engine, fail
from dashboard.db.engine import write_session
from dashboard.leads import service as leads
from dashboard.models import User

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

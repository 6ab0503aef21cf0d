"""`flask --app dashboard company show|set`: the company profile and sync settings."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from dashboard.accounts import service as accounts
from dashboard.accounts.company import apply_company_changes, current_values, validate_sync_settings
from dashboard.cli.common import engine, fail
from dashboard.db.engine import read_session, write_session
from dashboard.states import AutoCreate, Visibility

company_cli = AppGroup("company", help="Company profile and sync settings.")


@company_cli.command("show")
def company_show() -> None:
    """Print the company profile and sync settings as JSON."""
    with read_session(engine()) as session:
        company = accounts.get_company(session)
        if company is None:
            fail(accounts.AccountError("run `flask --app dashboard setup` first"))
        click.echo(json.dumps(current_values(company), indent=2, ensure_ascii=False))


@company_cli.command("set")
@click.option("--name")
@click.option("--domain", "domains", multiple=True, help="Replaces the domain list.")
@click.option("--internal-only", type=click.Choice(["skip", "sync"]))
@click.option("--never-log", multiple=True, help="Replaces the never-log list.")
@click.option("--visibility", type=click.Choice([v.value for v in Visibility]))
@click.option("--auto-create", type=click.Choice([a.value for a in AutoCreate]))
@click.option("--import-days")
@click.option("--interval-minutes")
@click.option("--retention-months", help="Months emails are kept; '' keeps them forever.")
@click.option("--idle-connections", help="IMAP IDLE connections at most (0: no real time).")
@click.option("--stale-days", help="Days before a lead shows 'awaiting reply'.")
@click.option("--tracking", type=click.Choice(["on", "off"]), help="Smart-email tracking.")
@click.option(
    "--local-servers",
    type=click.Choice(["allow", "refuse"]),
    help="Mail servers on this machine or the local network.",
)
def company_set(
    name: str | None,
    domains: tuple[str, ...],
    internal_only: str | None,
    never_log: tuple[str, ...],
    visibility: str | None,
    auto_create: str | None,
    import_days: str | None,
    interval_minutes: str | None,
    retention_months: str | None,
    idle_connections: str | None,
    stale_days: str | None,
    tracking: str | None,
    local_servers: str | None,
) -> None:
    """Change company settings, validated exactly like the page."""
    raw = {
        "visibility": visibility,
        "auto_create": auto_create,
        "import_days": import_days,
        "interval_minutes": interval_minutes,
        "retention_months": retention_months,
        "idle_connections": idle_connections,
        "stale_days": stale_days,
        "tracking": None if tracking is None else tracking == "on",
        "allow_local_servers": None if local_servers is None else local_servers == "allow",
        "never_log": list(never_log) or None,
        "skip_internal": None if internal_only is None else internal_only == "skip",
    }
    try:
        changes = validate_sync_settings({k: v for k, v in raw.items() if v is not None})
        if name is not None:
            changes["name"] = name.strip() or fail(accounts.AccountError("empty name"))
        if domains:
            changes["domains"] = accounts.normalize_domains(list(domains))
        with write_session(engine()) as session:
            company = accounts.get_company(session)
            if company is None:
                raise accounts.AccountError("run `flask --app dashboard setup` first")
            changed = apply_company_changes(session, company, changes, actor=None)
    except accounts.AccountError as error:
        fail(error)
    click.echo(f"Changed: {', '.join(changed) or 'nothing'}.")

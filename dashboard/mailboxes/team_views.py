""" "Caixas de e-mail da equipe": the admins' console of every teammate's mailbox.

The mailbox views of "Sobre a sincronização" are mounted again under
/settings/team-mailboxes/<user_id>/, about that teammate's mailbox (see entry.py); this
blueprint adds the console table, the skip ledger with the problem notes, and the server
count behind the health line. Everything here answers 404 to anyone but an admin.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, g, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session, secret_box
from dashboard.mailboxes import console, health
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes.entry import admins_only, mailbox_owner, mailbox_url, pick_owner
from dashboard.mailboxes.ledger import LedgerFilter, ledger_rows, page_number, problem_emails
from dashboard.mailboxes.providers import PROVIDERS
from dashboard.mailboxes.sync_views import health_cache, health_context
from dashboard.mailboxes.views import bp as mailbox_bp
from dashboard.mailboxes.views import explain_mailbox
from dashboard.models import Mailbox
from dashboard.states import SkipReason
from dashboard.web.dates import day_bounds, parse_day
from dashboard.web.extensions import htmx
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page, require_fresh_login
from dashboard.web.request_gate import turn_released

bp = Blueprint("team", __name__, url_prefix="/settings/team-mailboxes")
bp.before_request(require_fresh_login)
bp.before_request(admins_only)
bp.url_value_preprocessor(pick_owner)
bp.register_blueprint(mailbox_bp, url_prefix="/<int:user_id>")


@bp.before_request
def mark_nav() -> None:
    """Highlight "Caixas de e-mail da equipe" in the settings panel."""
    g.nav_active = "team"


def kept_count(mailbox: Mailbox, first_round: datetime | None) -> int | None:
    """The server count kept for a mailbox, if an admin asked for one lately."""
    if "import_days" not in g:  # once per page, not once per row
        g.import_days = health.import_days(get_session())
    days = g.import_days
    since = health.counted_since(days, first_round)
    return health.known_count(mailbox, since, health_cache())


@bp.get("/")
def index() -> ResponseReturnValue:
    """Every teammate's mailbox, unhealthy first unless another column is asked for."""
    sort = request.args.get("sort", "health")
    sort = sort if sort in console.SORTS else "health"
    descending = request.args.get("dir") == "desc"
    rows = console.team_rows(get_session(), kept_count)
    return render_page(
        "mailboxes/team.html",
        "mailboxes/team.html",
        rows=console.sorted_rows(rows, sort, descending),
        sort=sort,
        descending=descending,
        providers=PROVIDERS,
        explain_mailbox=explain_mailbox,
        is_countable=health.countable,
        action=ActionForm(),
    )


def ledger_filter() -> LedgerFilter:
    """The filter typed on the ledger page: a known reason, a first and a last day."""
    reason = request.args.get("reason", "")
    first = parse_day(request.args.get("since", ""))
    last = parse_day(request.args.get("until", ""))
    return LedgerFilter(
        reason if reason in set(SkipReason) else "",
        day_bounds(first)[0] if first else None,
        day_bounds(last)[1] if last else None,
    )


@bp.get("/<int:user_id>/ledger")
def ledger() -> ResponseReturnValue:
    """The mailbox's skip ledger (filtered by reason and day, paged) and the problem notes
    of its stored emails."""
    owner = mailbox_owner()
    mailbox = mailboxes.mailbox_of(get_session(), owner.id)
    if mailbox is None:
        return redirect(mailbox_url("index"))
    db = get_session()
    return render_page(
        "mailboxes/ledger.html",
        "mailboxes/ledger.html",
        owner=owner,
        mailbox=mailbox,
        reasons=list(SkipReason),
        chosen={key: request.args.get(key, "") for key in ("reason", "since", "until")},
        rows=ledger_rows(db, mailbox.id, ledger_filter(), page_number(request.args.get("page"))),
        problems=problem_emails(db, mailbox.id, page_number(request.args.get("notes_page"))),
    )


@bp.post("/<int:user_id>/health")
def count() -> ResponseReturnValue:
    """Ask the server how many messages the synced folders hold (the health line)."""
    mailbox = mailboxes.mailbox_of(get_session(), mailbox_owner().id)
    if mailbox is None or not ActionForm().validate_on_submit():
        return redirect(mailbox_url("index"))
    db = get_session()
    since = console.first_day(db, mailbox, health.import_days(db))
    with turn_released():  # other pages run while the IMAP server counts
        health.count_now(
            db,
            mailbox,
            since,
            health_cache(),
            box=secret_box(),
            ca_file=current_app.config.get("IMAP_CA_FILE"),
        )
    if not htmx:
        return Response(status=303, headers={"Location": mailbox_url("index")})
    return render_page(
        "mailboxes/_health.html", "mailboxes/_health.html", **health_context(mailbox)
    )

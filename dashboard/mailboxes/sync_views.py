"""Sync status on "Sobre a sincronização": progress, "Sincronizar agora", re-scan, why-not-here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, g, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from dashboard.accounts.service import get_company
from dashboard.db.flask import get_session, secret_box
from dashboard.mailboxes import console, health
from dashboard.mailboxes import estimate as estimates
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes import status as sync_status
from dashboard.mailboxes.entry import for_team, mailbox_owner, mailbox_url
from dashboard.mailboxes.forms import RescanForm
from dashboard.mailboxes.messages import explain_stored
from dashboard.mailboxes.why import WhySearch, why_not_here
from dashboard.models import Mailbox, utcnow
from dashboard.states import MailboxStatus
from dashboard.sync.rules import retention_horizon, window_start
from dashboard.sync.scheduler import request_sync, wake
from dashboard.web.dates import day_bounds, format_day, parse_day
from dashboard.web.extensions import htmx
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page
from dashboard.web.request_gate import turn_released

# Nested in the "mailboxes" blueprint, whose hooks (fresh login, nav) run first.
bp = Blueprint("sync", __name__, url_prefix="/sync")
STOP_POLLING = 286  # htmx stops a polling element that gets this status


def imap_options() -> dict:
    """CA file and time budget for verifications, from the boot configuration."""
    return {
        "ca_file": current_app.config.get("IMAP_CA_FILE"),
        "timeout": float(current_app.config["IMAP_TIMEOUT"]),
    }


def explainer(mailbox: Mailbox) -> Callable[[str], str]:
    """Turn an error code of this mailbox into its translated cause (for the history)."""
    seconds = imap_options()["timeout"]
    return lambda code: explain_stored(mailbox, code, seconds).message


def estimate_cache() -> estimates.EstimateCache:
    """The app's kept estimates (one per app: tests run many apps in one process)."""
    return current_app.extensions.setdefault("leadsync.estimates", estimates.EstimateCache())


def health_cache() -> estimates.EstimateCache:
    """The app's kept server counts for the health line (apart from the estimates: their
    keys differ, and one would push the other out)."""
    return current_app.extensions.setdefault("leadsync.health", estimates.EstimateCache())


def health_context(mailbox: Mailbox) -> dict:
    """The health line of a mailbox: accounted for against the kept server count."""
    db = get_session()
    since = console.first_day(db, mailbox, health.import_days(db))
    on_server = health.known_count(mailbox, since, health_cache())
    return {
        "mailbox": mailbox,
        "health": console.health_of(db, mailbox, on_server),
        "countable": health.countable(mailbox),
        "action": ActionForm(),
    }


def this_mailbox() -> Mailbox:
    """The connected mailbox this request is about (the viewer's own, or a teammate's for
    an admin), or 404."""
    mailbox = mailboxes.mailbox_of(get_session(), mailbox_owner().id)
    if mailbox is None or not mailbox.connected:
        abort(404)
    return mailbox


def busy(mailbox: Mailbox) -> bool:
    """True while a round is running or pending for this mailbox."""
    return mailbox.status == MailboxStatus.SYNCING or bool(
        mailbox.next_sync_at and mailbox.next_sync_at <= datetime.now(UTC)
    )


def sync_context(mailbox: Mailbox) -> dict:
    """Everything the sync status partial shows."""
    db = get_session()
    return {
        "mailbox": mailbox,
        "progress": sync_status.progress(db, mailbox.id),
        "stored": sync_status.stored_count(db, mailbox.id),
        "cadence": sync_status.cadence_minutes(db, mailbox),
        "skipped": sync_status.skipped_counts(db, mailbox.id),
        "runs": sync_status.history(db, mailbox.id),
        "busy": busy(mailbox),  # the partial polls itself while true
        "explain_error": explainer(mailbox),
        "action": ActionForm(),
        "rescan_form": RescanForm(formdata=None),
    }


def estimate_context(mailbox: Mailbox, stored: int) -> dict:
    """Whether the page shows the first sync's estimate, and the answer kept for it (the
    page loads it when there is none yet)."""
    if not estimates.wanted(mailbox, stored):
        return {"show_estimate": False}
    entry = estimates.known_estimate(get_session(), mailbox, estimate_cache())
    return {"show_estimate": True, "estimate_entry": entry}


@bp.get("/status")
def status() -> ResponseReturnValue:
    """The status partial; polled by htmx while syncing, which stops when the round ends."""
    mailbox = this_mailbox()
    body, code = render_page(
        "mailboxes/_sync.html", "mailboxes/_sync.html", **sync_context(mailbox)
    )
    if htmx and request.args.get("poll") and not busy(mailbox):
        return body, STOP_POLLING
    return body, code


@bp.post("/now")
def now() -> Response:
    """Move this mailbox's next sync forward ("Sincronizar agora"); it runs in the background."""
    mailbox = this_mailbox()
    if ActionForm().validate_on_submit():
        db = get_session()
        request_sync(db, mailbox.id)
        db.commit()
        wake(current_app)
        flash(_("Sync requested. It starts in a moment."), "success")
    return redirect(mailbox_url("index"))


@bp.post("/rescan")
def rescan() -> Response:
    """Ask the next round to re-scan the mailbox from a day (dedupe keeps it harmless)."""
    mailbox, form, now = this_mailbox(), RescanForm(), utcnow()
    if not form.validate_on_submit():
        flash(_("Choose a valid day to re-scan from."), "error")
        return redirect(mailbox_url("index"))
    if form.since.data > now.date():
        flash(_("Choose a day that has passed to re-scan from."), "error")
        return redirect(mailbox_url("index"))
    db = get_session()
    company = get_company(db)
    horizon = retention_horizon(company.retention_months if company else None, now)
    day = window_start(form.since.data, horizon)
    request_sync(db, mailbox.id, rescan_since=datetime.combine(day, datetime.min.time(), UTC))
    db.commit()
    wake(current_app)
    if day != form.since.data:  # the sync would pass over what the purge deletes anyway
        flash(
            _(
                "The company keeps emails for %(months)s months, so the re-scan starts on "
                "%(day)s instead.",
                months=company.retention_months if company else "",
                day=format_day(day),
            ),
            "info",
        )
    else:
        flash(_("Re-scan from %(day)s requested.", day=format_day(day)), "success")
    return redirect(mailbox_url("index"))


@bp.get("/estimate")
def estimate() -> ResponseReturnValue:
    """The first sync's estimate, counted on the server (HTMX loads it after the page)."""
    mailbox = this_mailbox()
    if not htmx:
        return redirect(mailbox_url("index"))
    with turn_released():  # other pages run while the IMAP server counts
        answer = estimates.count_estimate(
            get_session(),
            mailbox,
            estimate_cache(),
            box=secret_box(),
            ca_file=current_app.config.get("IMAP_CA_FILE"),
        )
    return render_page("mailboxes/_estimate.html", "mailboxes/_estimate.html", estimate=answer)


def why_search(query: str) -> WhySearch:
    """Read what was typed: a day in the viewer's format (or ISO) is searched as that day."""
    day = parse_day(query)
    return WhySearch(query.strip().lower(), day_bounds(day) if day else None)


@bp.get("/why")
def why() -> ResponseReturnValue:
    """Answer "why is this email not here?" by address, subject, day or folder."""
    g.nav_active = "team" if for_team() else "mailbox"
    mailbox, query = this_mailbox(), request.args.get("q", "")
    search = why_search(query)
    return render_page(
        "mailboxes/why.html",
        "mailboxes/_why_results.html",
        query=query,
        search=search,
        answer=why_not_here(get_session(), mailbox.id, search, include_stored=not for_team()),
        mailbox=mailbox,
        owner=mailbox_owner(),
        for_team=for_team(),
    )

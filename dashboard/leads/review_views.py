"""The review queue: suggested leads (policy "suggest") with the emails that brought them, a
filter with its total, and decisions one at a time, on ticked rows, on everything matching
the filter, or on every suggestion of one domain.

Every user who may open the queue may accept any suggestion in it. Dismissing deletes the
suggestion, so it follows the lead rule (`may_destroy_lead`): a rep dismisses suggestions
nobody owns and their own (those their mailbox brought), never a teammate's; admins any. A
bulk dismissal leaves the teammates' suggestions it covers and says how many. A bulk action
reaches no further than the suggestions the filter matches (dashboard/leads/selection.py),
never an active lead.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlmodel import Session
from werkzeug.wrappers import Response

from dashboard.accounts.service import get_company
from dashboard.db.flask import get_session
from dashboard.leads import review
from dashboard.leads.access import may_destroy_lead
from dashboard.leads.access_queries import destroyable_by, private_threads, viewer_of
from dashboard.leads.queries import addresses_by_lead
from dashboard.leads.selection import (
    PAGE_SIZE,
    ReviewFilter,
    Selection,
    clean_domain,
    page_count,
    page_number,
)
from dashboard.leads.timeline import MessageView, message_views, thread_views
from dashboard.mail.addresses import domain_of
from dashboard.models import Email, EmailLead, Lead
from dashboard.states import LeadState
from dashboard.web.forms import ActionForm
from dashboard.web.pages import redirect_page, render_page

bp = Blueprint("review", __name__)

DOMAIN_CHOICES = 50  # the domain filter lists the domains with most suggestions


@bp.get("/review")
def queue() -> tuple[str, int]:
    """One page of the suggestions matching the filter, with the total and the domains."""
    db, flt = get_session(), ReviewFilter.from_args(request.args)
    total = review.count_matching(db, flt)
    page = page_number(request.args.get("page"), total)
    suggested = review.page_of(db, flt, page)
    ids = [lead.id for lead in suggested]
    addresses = addresses_by_lead(db, ids)
    domains = review.domain_counts(db)
    viewer = viewer_of(current_user)
    return render_page(
        "leads/review.html",
        "leads/_review_queue.html",
        suggested=suggested,
        evidence=evidence_of(db, ids),
        addresses=addresses,
        lead_domains={i: sorted({domain_of(a) for a in addresses.get(i, [])}) for i in ids},
        domains=domains,
        domain_choices=sorted(domains.items(), key=lambda d: (-d[1], d[0]))[:DOMAIN_CHOICES],
        filter=flt,
        total=total,
        page=page,
        pages=page_count(total),
        first=(page - 1) * PAGE_SIZE + 1,
        upto=review.newest_id(db),
        dismissable={lead.id for lead in suggested if may_destroy_lead(viewer, lead.owner_id)},
    )


def evidence_of(db: Session, ids: list[int]) -> dict[int, list]:
    """Each suggestion's three newest threads the viewer may see (the access rule decides)."""
    rows = db.execute(
        EVIDENCE.where(EmailLead.lead_id.in_(ids)).order_by(Email.date, Email.id)
    ).all()
    emails = [e for _, e in rows]
    private = private_threads(db, list({e.thread_key for e in emails}))
    viewer = viewer_of(current_user)
    visibility = get_company(db).visibility
    views = {v.email.id: v for v in message_views(db, emails, viewer, visibility, private)}
    listed: dict[int, list[MessageView]] = {}  # lead id -> the emails it may see, oldest first
    for lead_id, e in rows:
        if e.id in views:
            listed.setdefault(lead_id, []).append(views[e.id])
    return {
        lead_id: sorted(
            thread_views(listed.get(lead_id, []), private, viewer),
            key=lambda t: t.last_date,
            reverse=True,
        )[:3]
        for lead_id in ids
    }


EVIDENCE = select(EmailLead.lead_id, Email).join(Email, Email.id == EmailLead.email_id)


def decided(action: str, count: int, domain: str = "") -> str:
    """What happened, in words: "42 suggestions accepted"."""
    shown = format_decimal(count)
    if count == 0:
        return _("No suggestion matched any more: nothing changed.")
    if action == "accept":
        return ngettext(
            "%(count)s suggestion accepted.", "%(count)s suggestions accepted.", count, count=shown
        )
    if domain:
        return ngettext(
            "%(count)s suggestion from @%(domain)s dismissed.",
            "%(count)s suggestions from @%(domain)s dismissed.",
            count,
            count=shown,
            domain=domain,
        )
    return ngettext(
        "%(count)s suggestion dismissed.", "%(count)s suggestions dismissed.", count, count=shown
    )


def apply(action: str, flt: ReviewFilter, selection: Selection) -> tuple[int, int]:
    """Accept or dismiss the suggestions this selection covers under the filter; commit.
    Returns (how many were decided, how many were left: teammates' suggestions a rep may not
    dismiss)."""
    db = get_session()
    ids = review.covered_ids(db, flt, selection)
    if action == "accept":
        done = review.accept(db, ids, current_user.id)
        db.commit()
        return done, 0
    allowed = review.covered_ids(db, flt, selection, destroyable_by(viewer_of(current_user)))
    done = review.dismiss(db, allowed, current_user.id)
    db.commit()
    return done, len(ids) - len(allowed)


def left_out(count: int) -> str:
    """Why some covered suggestions were not dismissed."""
    return ngettext(
        "%(count)s suggestion of another rep was left: only its owner or an admin may dismiss it.",
        "%(count)s suggestions of other reps were left: only their owners or an admin may "
        "dismiss them.",
        count,
        count=format_decimal(count),
    )


@bp.post("/review/bulk")
def bulk() -> Response:
    """Accept or dismiss the ticked suggestions, or all that match the filter."""
    form = request.form
    action = form.get("action")
    if not ActionForm().validate_on_submit() or action not in ("accept", "dismiss"):
        abort(400)
    flt = ReviewFilter.from_args(form)
    selection = Selection.from_form(
        form.getlist("lead"), form.getlist("scope"), form.getlist("page_lead"), form.get("upto")
    )
    if selection.empty:
        flash(_("Select at least one suggestion."), "error")
    else:
        done, left = apply(action, flt, selection)
        flash(decided(action, done), "success")
        if left:
            flash(left_out(left), "info")
    return redirect_page(url_for("leads.review.queue", **flt.as_args()))


@bp.post("/review/dismiss-domain")
def dismiss_domain() -> Response:
    """Dismiss every suggestion of one domain (those waiting when the page was shown)."""
    domain = clean_domain(request.form.get("domain", ""))
    if not ActionForm().validate_on_submit() or not domain:
        abort(400)
    selection = Selection.from_form([], ["matching"], [], request.form.get("upto"))
    done, left = apply("dismiss", ReviewFilter(domain=domain), selection)
    flash(decided("dismiss", done, domain), "success")
    if left:
        flash(left_out(left), "info")
    # Back to the queue as it was shown, unless it showed only that domain (now empty).
    shown = ReviewFilter.from_args(
        {"q": request.form.get("q", ""), "domain": request.form.get("shown_domain", "")}
    )
    if shown.domain == domain:
        shown = ReviewFilter(q=shown.q)
    return redirect_page(url_for("leads.review.queue", **shown.as_args()))


@bp.post("/<int:lead_id>/<any(accept, dismiss):decision>")
def decide(lead_id: int, decision: str) -> Response:
    """Accept or dismiss one suggested lead in one click."""
    db = get_session()
    lead = db.get(Lead, lead_id) or abort(404)
    if lead.state != LeadState.SUGGESTED or not ActionForm().validate_on_submit():
        abort(400)
    if decision == "dismiss" and not may_destroy_lead(viewer_of(current_user), lead.owner_id):
        abort(403)  # a teammate's suggestion: listed, accepted by anyone, dismissed by them
    ids = [lead.id]
    (review.accept if decision == "accept" else review.dismiss)(db, ids, current_user.id)
    db.commit()
    return redirect_page(url_for("leads.review.queue"))

"""Leads: the list reps search all day, the lead page with its timeline, and lead editing."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, select
from sqlmodel import Session
from werkzeug.wrappers import Response

from dashboard.accounts.service import AccountError, get_company
from dashboard.db.flask import get_session
from dashboard.leads import service as lead_service
from dashboard.leads.access import may_destroy_lead, may_handle_personal_data
from dashboard.leads.access_queries import viewer_of
from dashboard.leads.erasure_views import bp as erasure_bp
from dashboard.leads.forms import LeadForm, MergeForm
from dashboard.leads.queries import (
    SORTS,
    LeadFilters,
    badge,
    list_leads,
    waiting_counts,
)
from dashboard.leads.review_views import bp as review_bp
from dashboard.leads.timeline import (
    USER_NAMES,
    ThreadView,
    lead_threads,
    tracking_summary,
)
from dashboard.models import (
    Email,
    EmailLead,
    Lead,
    OutgoingEmail,
    PrivateThread,
    User,
    utcnow,
)
from dashboard.states import OutgoingState, Visibility
from dashboard.web.forms import ActionForm, show_error
from dashboard.web.home import home_panel
from dashboard.web.pages import redirect_page, render_page

bp = Blueprint("leads", __name__, url_prefix="/leads")
bp.register_blueprint(review_bp)
bp.register_blueprint(erasure_bp)
bp.before_request(login_required(lambda: None))


def filters_from_request() -> LeadFilters:
    """The list's filters as they appear in the URL (shareable, back button works)."""
    args = request.args
    return LeadFilters(
        q=args.get("q", "")[:200],
        status=args.get("status", ""),
        owner_id=current_user.id if args.get("owner") == "me" else None,
        source=args.get("source", ""),
        sort=args.get("sort") if args.get("sort") in SORTS else "last_contact",
        after=args.get("after", ""),
    )


@home_panel(bp, order=10)
def my_leads_panel() -> str:
    """The home page's "my leads": those to answer and those awaiting a reply, with links to
    the list filtered the same way."""
    db = get_session()
    stale_days = get_company(db).stale_days
    counts = waiting_counts(db, owner_id=current_user.id, now=utcnow(), stale_days=stale_days)
    return render_template("leads/_home_panel.html", counts=counts, stale_days=stale_days)


@bp.get("/")
def index() -> tuple[str, int]:
    """The lead list; HTMX searches get only the results."""
    db, company = get_session(), get_company(get_session())
    filters = filters_from_request()
    rows, next_cursor = list_leads(
        db,
        filters,
        viewer=viewer_of(current_user),
        visibility=company.visibility,
        stale_days=company.stale_days,
        now=utcnow(),
    )
    return render_page(
        "leads/index.html",
        "leads/_results.html",
        rows=rows,
        filters=filters,
        next_cursor=next_cursor,
        args=request.args,
        suggestions=lead_service.suggestion_count(db),
    )


def owner_choices() -> list[tuple[int, str]]:
    """Active users who can own a lead (0 = nobody)."""
    users = get_session().scalars(select(User).where(User.active).order_by(User.name))
    return [(0, "—"), *((u.id, u.name) for u in users)]


def lead_or_404(lead_id: int) -> Lead:
    """Load a lead or answer 404."""
    return get_session().get(Lead, lead_id) or abort(404)


def destroyable(lead: Lead) -> Lead:
    """The lead, if the viewer may delete or merge it; 403 otherwise (every rep sees every
    lead: only its owner, anyone when it has none, or an admin may destroy it)."""
    if not may_destroy_lead(viewer_of(current_user), lead.owner_id):
        abort(403)
    return lead


@bp.route("/new", methods=["GET", "POST"])
def new() -> Response | tuple[str, int]:
    """Create a lead by hand."""
    form = LeadForm()
    form.owner.choices = owner_choices()
    if not form.is_submitted():
        form.owner.data = current_user.id
    if form.validate_on_submit():
        db = get_session()
        try:
            lead = lead_service.create_lead(
                db,
                name=form.name.data,
                addresses=form.addresses.data,
                company=form.company.data,
                phone=form.phone.data,
                owner_id=form.owner.data or None,
            )
        except AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("Lead created."), "success")
            return redirect_page(url_for("leads.show", lead_id=lead.id))
    return render_page("leads/form.html", status=422 if form.errors else 200, form=form, lead=None)


@bp.route("/<int:lead_id>/edit", methods=["GET", "POST"])
def edit(lead_id: int) -> Response | tuple[str, int]:
    """Edit a lead's name, addresses, company, phone and owner."""
    db, lead = get_session(), lead_or_404(lead_id)
    form = LeadForm(obj=lead)
    form.owner.choices = owner_choices()
    if not form.is_submitted():
        form.addresses.data = "\n".join(lead_service.addresses_of(db, lead.id))
        form.company.data, form.owner.data = lead.company_name, lead.owner_id or 0
    if form.validate_on_submit():
        try:
            if (form.owner.data or None) != lead.owner_id and not may_destroy_lead(
                viewer_of(current_user), lead.owner_id
            ):  # else taking a teammate's lead would be the way round the delete rule
                raise AccountError(
                    _("Only the lead's owner or an admin may give it to someone else."), "owner"
                )
            lead_service.update_lead(
                db,
                lead,
                name=form.name.data,
                company=form.company.data,
                phone=form.phone.data,
                owner_id=form.owner.data or None,
                addresses=form.addresses.data,
            )
        except AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(
                _("Lead saved. Past emails of new addresses are linked on the next sync."),
                "success",
            )
            return redirect_page(url_for("leads.show", lead_id=lead.id))
    return render_page("leads/form.html", status=422 if form.errors else 200, form=form, lead=lead)


@bp.get("/<int:lead_id>")
def show(lead_id: int) -> tuple[str, int]:
    """The lead page: header and the first page of its timeline."""
    db, lead = get_session(), lead_or_404(lead_id)
    company = get_company(db)
    threads, more = lead_threads(
        db, lead.id, viewer=viewer_of(current_user), visibility=company.visibility
    )
    users = list({lead.owner_id, lead.last_contact_user_id} - {None})
    names = dict(db.connection().execute(USER_NAMES, {"ids": users}).all())
    opened = opened_thread(db, lead, company.visibility, request.args.get("email", type=int))
    return render_page(
        "leads/show.html",
        lead=lead,
        threads=threads,
        opened=opened,
        tracking=tracking_summary(db, [m.email.id for m in opened.messages]) if opened else {},
        now=utcnow(),
        more=more,
        page=0,
        addresses=lead_service.addresses_of(db, lead.id),
        names=names,
        badge=badge(lead, utcnow(), company.stale_days),
        action=ActionForm(),
        merge_form=MergeForm(formdata=None),
        may_destroy=may_destroy_lead(viewer_of(current_user), lead.owner_id),
        may_handle_data=may_handle_personal_data(viewer_of(current_user)),
        outgoing=recent_outgoing(db, lead.id),
    )


def opened_thread(
    db: Session, lead: Lead, visibility: str, email_id: int | None
) -> ThreadView | None:
    """The thread of `?email=<id>` (an email of this lead), expanded as the viewer may see it:
    where the link of a sent smart email lands. Any other id opens nothing."""
    key = email_id and db.scalar(
        select(Email.thread_key)
        .join(EmailLead, EmailLead.email_id == Email.id)
        .where(Email.id == email_id, EmailLead.lead_id == lead.id)
    )
    if not key:
        return None
    found, _more = lead_threads(
        db, lead.id, viewer=viewer_of(current_user), visibility=visibility, keys=[key],
        with_bodies=True,
    )  # fmt: skip
    return found[0] if found else None


def recent_outgoing(db: Session, lead_id: int) -> list[OutgoingEmail]:
    """The viewer's smart emails to this lead that are sending or failed (sent ones are on the
    timeline)."""
    return list(db.scalars(UNSENT_OUTGOING, {"lead_id": lead_id, "user_id": current_user.id}))


# Built once: asked on every lead page.
UNSENT_OUTGOING = (
    select(OutgoingEmail)
    .where(
        OutgoingEmail.lead_id == bindparam("lead_id"),
        OutgoingEmail.user_id == bindparam("user_id"),
        OutgoingEmail.state != OutgoingState.SENT,
    )
    .order_by(OutgoingEmail.id.desc())
    .limit(10)
)


@bp.get("/<int:lead_id>/threads")
def threads(lead_id: int) -> tuple[str, int]:
    """More threads (HTMX "load more"), or one thread expanded (?key=...)."""
    db, lead = get_session(), lead_or_404(lead_id)
    visibility = get_company(db).visibility
    key = request.args.get("key")
    if key:
        found, _more = lead_threads(
            db,
            lead.id,
            viewer=viewer_of(current_user),
            visibility=visibility,
            keys=[key],
            with_bodies=True,
        )
        if not found:
            abort(404)
        return render_page(
            "leads/_thread_messages.html",
            "leads/_thread_messages.html",
            lead=lead,
            thread=found[0],
            action=ActionForm(),
            tracking=tracking_summary(db, [m.email.id for m in found[0].messages]),
            now=utcnow(),
        )
    page = max(0, request.args.get("page", 0, type=int))
    found, more = lead_threads(
        db, lead.id, viewer=viewer_of(current_user), visibility=visibility, page=page
    )
    return render_page(
        "leads/_threads.html", "leads/_threads.html", lead=lead, threads=found, more=more, page=page
    )


@bp.post("/<int:lead_id>/private")
def toggle_private(lead_id: int) -> Response:
    """Mark one of your threads private (teammates see only date, direction, rep) or public."""
    db, lead = get_session(), lead_or_404(lead_id)
    key = request.form.get("key", "")
    if not ActionForm().validate_on_submit() or not key:
        abort(400)
    found, _ = lead_threads(
        db, lead.id, viewer=viewer_of(current_user), visibility=Visibility.METADATA, keys=[key]
    )
    if not found or not found[0].mine or (found[0].private and not found[0].private_mine):
        abort(403)  # only a rep whose own mail is in the thread may hide it
    existing = db.get(PrivateThread, key)
    if existing:
        db.delete(existing)
    else:
        db.add(PrivateThread(thread_key=key, user_id=current_user.id))
    db.commit()
    return redirect(url_for("leads.show", lead_id=lead.id))


@bp.post("/<int:lead_id>/delete")
def delete(lead_id: int) -> Response:
    """Delete a lead (its emails stay only when another lead links them)."""
    db, lead = get_session(), destroyable(lead_or_404(lead_id))
    if ActionForm().validate_on_submit():
        lead_service.delete_lead(db, lead)
        db.commit()
        flash(_("Lead deleted."), "success")
    return redirect(url_for("leads.index"))


@bp.post("/<int:lead_id>/merge")
def merge(lead_id: int) -> Response:
    """Merge another lead (named by one of its addresses) into this one: the viewer must be
    allowed to destroy both (the other one disappears, this one takes its emails)."""
    db, keep = get_session(), destroyable(lead_or_404(lead_id))
    form = MergeForm()
    if form.validate_on_submit():
        other = lead_service.lead_with_address(db, form.other.data)
        if other is not None:
            destroyable(other)
        try:
            if other is None:
                raise AccountError(
                    _("No lead has the address %(address)s.", address=form.other.data.strip())
                )
            lead_service.merge_leads(db, keep, other)
        except AccountError as error:
            db.rollback()
            flash(str(error), "error")
        else:
            db.commit()
            flash(_("Leads merged."), "success")
    return redirect(url_for("leads.show", lead_id=keep.id))

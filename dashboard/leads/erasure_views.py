"""A lead's data erased at the person's request (LGPD): a confirmation page stating what goes,
with counts, then the erasure. Admins only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import format_decimal, ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from dashboard.db.flask import get_engine, get_session
from dashboard.db.scrub import scrub
from dashboard.leads.access import may_handle_personal_data
from dashboard.leads.access_queries import viewer_of
from dashboard.leads.erasure import erase_lead, erasure_plan
from dashboard.models import Lead, utcnow
from dashboard.web.forms import ActionForm
from dashboard.web.pages import render_page

bp = Blueprint("erasure", __name__)


def erasable(lead_id: int) -> Lead:
    """The lead, for an admin; 403 for anyone else, 404 when there is no such lead."""
    if not may_handle_personal_data(viewer_of(current_user)):
        abort(403)
    return get_session().get(Lead, lead_id) or abort(404)


@bp.get("/<int:lead_id>/erase")
def confirm(lead_id: int) -> tuple[str, int]:
    """What erasing this lead's data takes away, and the button that does it."""
    lead = erasable(lead_id)
    plan = erasure_plan(get_session(), lead)
    return render_page("leads/erase.html", lead=lead, plan=plan, action=ActionForm())


@bp.post("/<int:lead_id>/erase")
def erase(lead_id: int) -> Response:
    """Erase the lead's data, then scrub the freed bytes from the database file."""
    db, lead = get_session(), erasable(lead_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    plan = erase_lead(db, lead, actor=current_user, now=utcnow())
    db.commit()
    scrub(get_engine())
    flash(
        ngettext(
            "The lead's data was erased: %(count)s email deleted.",
            "The lead's data was erased: %(count)s emails deleted.",
            plan.emails,
            count=format_decimal(plan.emails),
        ),
        "success",
    )
    return redirect(url_for("leads.index"))

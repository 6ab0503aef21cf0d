"""A lead's data exported (LGPD): admins only, audited, sent as a ZIP spooled to a temporary
file (a lead with thousands of emails is never held in memory)."""

from __future__ import annotations

import tempfile
from functools import partial

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from dashboard.accounts import audit
from dashboard.db.engine import read_session
from dashboard.db.flask import get_engine, get_session, secret_box
from dashboard.emails.attachments import download
from dashboard.emails.export import export_file_name, export_lead
from dashboard.leads.access import may_handle_personal_data
from dashboard.leads.access_queries import viewer_of
from dashboard.models import Lead, utcnow
from dashboard.web.forms import ActionForm
from dashboard.web.request_gate import turn_released

bp = Blueprint("export", __name__)


@bp.post("/leads/<int:lead_id>/export")
@login_required
def lead_export(lead_id: int) -> Response:
    """Build the lead's ZIP (attachments fetched from the mailboxes now) and send it."""
    if not may_handle_personal_data(viewer_of(current_user)):
        abort(403)
    db = get_session()
    lead = db.get(Lead, lead_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    db.commit()  # no write lock held while mail servers answer: the export only reads
    spool = tempfile.TemporaryFile()  # noqa: SIM115  # send_file closes it
    with read_session(get_engine()) as reader:
        fetch = partial(
            download, reader, viewer_id=current_user.id, box=secret_box(),
            ca_file=current_app.config.get("IMAP_CA_FILE"),
        )  # fmt: skip
        lead = reader.get(Lead, lead_id) or abort(404)
        with turn_released():  # other pages run while the IMAP servers answer
            summary = export_lead(reader, lead, spool, viewer=viewer_of(current_user), fetch=fetch)
    # Who exported which lead and when; never the content.
    audit.record(db, current_user, "lead.export", {"lead": lead.id, "emails": summary.emails})
    db.commit()
    spool.seek(0)
    response = send_file(
        spool, mimetype="application/zip", as_attachment=True,
        download_name=export_file_name(lead, utcnow()),
    )  # fmt: skip
    response.headers["Cache-Control"] = "private, no-store"
    return response

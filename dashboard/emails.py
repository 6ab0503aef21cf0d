"""Email resources outside the lead pages: attachment downloads."""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from dashboard import attachments
from dashboard.accounts import get_company
from dashboard.db import get_session
from dashboard.models import Attachment, Email
from dashboard.request_gate import turn_released
from dashboard.security import secret_box
from dashboard.visibility import can_read_body
from dashboard.web import render_page

bp = Blueprint("emails", __name__)
NEVER_INLINE = (
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
)


def download_type(content_type: str) -> str:
    """The served type: markup that a browser could render becomes opaque bytes."""
    kind = (content_type or "").lower()
    if kind in NEVER_INLINE or kind.endswith("+xml") or "/" not in kind:
        return "application/octet-stream"
    return kind


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Response | tuple[str, int]:
    """Fetch the attachment from the mail server now and send it as a download."""
    db = get_session()
    item = db.get(Attachment, attachment_id) or abort(404)
    email = db.get(Email, item.email_id) or abort(404)
    visibility = get_company(db).visibility
    from dashboard.email_body import body_visible

    if not body_visible(db, current_user, email) or not can_read_body(
        db,
        user_id=current_user.id,
        email_id=email.id,
        email_user_id=email.user_id,
        visibility=visibility,
    ):
        abort(403)
    try:
        with turn_released():  # other pages run while the IMAP server answers
            data = attachments.download(
                db,
                item,
                viewer_id=current_user.id,
                box=secret_box(),
                ca_file=current_app.config.get("IMAP_CA_FILE"),
            )
    except attachments.AttachmentGone:
        return render_page("emails/attachment_gone.html", status=410, attachment=item)
    response = send_file(
        io.BytesIO(data),
        mimetype=download_type(item.content_type),
        as_attachment=True,
        download_name=item.filename or "attachment",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response

"""An email as the dashboard serves it: its body as its own sandboxed document, the iframe
partial that shows it, its inline images and its attachments.

Email markup never enters the HTMX-driven page: it is served here, sanitized, as a
separate document with its own CSP (no scripts, no requests except images) and framed
by a `sandbox` iframe. The CSP `sandbox` directive repeats the iframe's sandbox so the
body stays inert even when its URL is opened directly in a tab.

Framed, the body is same-origin (`allow-same-origin`, never `allow-scripts`) so that the
lead page's own script can read its height and size the frame to the email. Nothing in the
email can use that origin: without allow-scripts and with `script-src 'none'` no script of
the email runs at all, forms are refused (`form-action 'none'`, no allow-forms), and the
only requests it can make are images (`img-src`). Opened directly in a tab (not as a
frame) the document keeps an opaque origin.

Every route here serves only what the access rule (`dashboard/leads/access.py`) lets the
viewer read in full, exactly as the timeline decides whether to show the frame.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session, select
from werkzeug.wrappers import Response

from dashboard.db.flask import get_session, secret_box
from dashboard.emails import attachments
from dashboard.emails.attachments import AttachmentGone, download
from dashboard.emails.export_views import bp as export_bp
from dashboard.emails.sanitize import body_document, has_remote_images, sanitize_html, text_to_html
from dashboard.leads.access import Viewer
from dashboard.leads.access_queries import access_to, viewer_of
from dashboard.leads.files import name_of
from dashboard.mail.files import RASTER_TYPES
from dashboard.models import Attachment, Email, User
from dashboard.web.pages import render_page
from dashboard.web.request_gate import turn_released

bp = Blueprint("emails", __name__)
bp.register_blueprint(export_bp)

SANDBOX = "sandbox allow-popups allow-popups-to-escape-sandbox"
FRAMED_SANDBOX = f"{SANDBOX} allow-same-origin"


def body_policy(images: bool, framed: bool = False) -> str:
    """The body document's CSP: nothing but our inline styles and (maybe remote) images.

    Framed by our page, the sandbox keeps the origin (for the page to measure the body);
    anywhere else it is opaque. Either way no script runs: `script-src 'none'`, no
    allow-scripts."""
    img_src = "'self' data: https: http:" if images else "'self' data:"
    return (
        f"default-src 'none'; script-src 'none'; img-src {img_src}; "
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors 'self'; {FRAMED_SANDBOX if framed else SANDBOX}"
    )


def loaded_in_a_frame() -> bool:
    """True when the browser says this request loads an iframe (Fetch Metadata).

    A page cannot forge it for a top-level load, and only our own pages may frame the body
    (`frame-ancestors 'self'`, X-Frame-Options SAMEORIGIN)."""
    return request.headers.get("Sec-Fetch-Dest") == "iframe"


def readable_email(session: Session, viewer: Viewer, email_id: int) -> Email:
    """The email whose body the viewer may read: 404 when it is missing or not even listed
    for them, 403 when they may see less than its body."""
    email = session.get(Email, email_id) or abort(404)
    access = access_to(session, viewer, email)
    if not access.listed:
        abort(404)
    if not access.shows_body:
        abort(403)
    return email


INLINE_MAX_AGE = 3600


def inline_signer() -> URLSafeTimedSerializer:
    """Signs inline-image URLs: the sandboxed frame sends no cookies with its image requests."""
    return URLSafeTimedSerializer(current_app.secret_key, salt="leadsync-inline-image")


def inline_image_urls(session: Session, email_id: int) -> dict[str, str]:
    """Content-ID -> signed, short-lived URL of each raster image a cid: reference may name."""
    rows = session.exec(
        select(Attachment).where(
            Attachment.email_id == email_id, Attachment.content_id.is_not(None)
        )
    )
    return {
        item.content_id: url_for(
            "emails.inline_image",
            token=inline_signer().dumps([item.id, current_user.id]),
        )
        for item in rows
        if item.content_id and item.content_type.lower() in RASTER_TYPES
    }


@bp.get("/emails/inline/<token>")
def inline_image(token: str) -> Response:
    """An inline image of a body the token's viewer may read (raster types only)."""
    try:
        attachment_id, viewer_id = inline_signer().loads(token, max_age=INLINE_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        abort(404)
    session = get_session()
    item = session.get(Attachment, attachment_id)
    viewer = session.get(User, viewer_id)
    email = session.get(Email, item.email_id) if item else None
    # The token outlives the session that made it: the rule is asked again, for its viewer
    # (a deactivated one sees nothing), and every refusal looks like a missing image.
    if (
        not (item and viewer and email)
        or item.content_type.lower() not in RASTER_TYPES
        or not access_to(session, viewer_of(viewer), email).shows_body
    ):
        abort(404)
    try:
        with turn_released():  # other pages run while the IMAP server answers
            data = download(
                session,
                item,
                viewer_id=viewer.id,
                box=secret_box(),
                ca_file=current_app.config.get("IMAP_CA_FILE"),
            )
    except AttachmentGone:
        abort(404)
    response = Response(data, mimetype=item.content_type.lower())
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = f"private, max-age={INLINE_MAX_AGE}"
    return response


def inner_html(email: Email, images: bool) -> str:
    """The sanitized HTML part, or the plain-text part made into HTML."""
    if email.body_html.strip():
        inline = inline_image_urls(get_session(), email.id)
        return sanitize_html(email.body_html, allow_remote_images=images, inline_images=inline)
    return text_to_html(email.body_text, summary=_("Show quoted text"))


def wants_images() -> bool:
    """True when this request asked for remote images (images=1)."""
    return request.args.get("images") == "1"


@bp.get("/emails/<int:email_id>/body")
@login_required
def body(email_id: int) -> Response:
    """The body document the iframe loads."""
    email = readable_email(get_session(), viewer_of(current_user), email_id)
    images = wants_images()
    response = Response(body_document(inner_html(email, images)), mimetype="text/html")
    response.headers["Content-Security-Policy"] = body_policy(images, loaded_in_a_frame())
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Vary"] = "Sec-Fetch-Dest"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/emails/<int:email_id>/frame")
@login_required
def frame(email_id: int) -> str:
    """The iframe partial alone, for "Show images" to swap in."""
    email = readable_email(get_session(), viewer_of(current_user), email_id)
    return render_template("emails/_body_frame.html", email=email, images=wants_images())


@bp.app_template_global()
def remote_images_blocked(email: Email, images: bool) -> bool:
    """For the partial: does this body have remote images the reader has not allowed yet?"""
    return not images and bool(email.body_html) and has_remote_images(email.body_html)


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


def download_name(session: Session, email: Email, item: Attachment) -> str:
    """The name the lead page lists the file under (an image shown inline keeps its own)."""
    siblings = list(session.exec(select(Attachment).where(Attachment.email_id == email.id)))
    return name_of(item, email.body_html, siblings)


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Response | tuple[str, int]:
    """Fetch the attachment from the mail server now and send it as a download."""
    db = get_session()
    item = db.get(Attachment, attachment_id) or abort(404)
    email = readable_email(db, viewer_of(current_user), item.email_id)
    name = download_name(db, email, item)
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
        return render_page("emails/attachment_gone.html", status=410, name=name)
    response = send_file(
        io.BytesIO(data),
        mimetype=download_type(item.content_type),
        as_attachment=True,
        download_name=name,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response

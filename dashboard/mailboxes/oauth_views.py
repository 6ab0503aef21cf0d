"""The way to the provider's consent page and back ("Conectar com Google/Microsoft").

Nested in the "mailboxes" blueprint, so an admin starts a teammate's connection from the
team mount as from their own (entry.py). The provider sends everyone back to one address,
the callback under /settings/mailbox (the redirect URI the admin registered): the session's
pending consent says whose mailbox it is, and only the user who started it may finish it.

The provider redirects there with a GET, and GET requests never write (db/flask.py): the
callback page posts the answer on at once (htmx on load; a button without JavaScript) to
`finish`, which has the CSRF token as well as the state (RFC 6749 10.12) to check.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from dashboard.accounts.oauth_apps import redirect_uri
from dashboard.accounts.service import AccountError
from dashboard.db.flask import get_session, secret_box
from dashboard.mail.imap_client import ImapError
from dashboard.mailboxes import oauth
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes.entry import mailbox_owner, mailbox_url
from dashboard.mailboxes.messages import explain, explain_consent, explain_smtp
from dashboard.mailboxes.providers import PROVIDERS
from dashboard.mailboxes.sync_views import imap_options
from dashboard.sync.scheduler import oauth_config, request_sync, wake
from dashboard.web.extensions import htmx
from dashboard.web.forms import ActionForm
from dashboard.web.pages import redirect_page
from dashboard.web.request_gate import turn_released

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
PENDING = "oauth_pending"  # the session key of the consent under way


def callback_uri() -> str:
    """The redirect URI this install registered with the providers."""
    return redirect_uri(current_app.config.get("PUBLIC_URL"), request.url_root)


def start_consent(provider: str, address: str) -> ResponseReturnValue:
    """Send the user to the provider's consent page (AccountError when it cannot start)."""
    url, pending = oauth.begin(
        get_session(), provider=provider, address=address, owner=mailbox_owner(),
        actor=current_user, redirect_uri=callback_uri(), box=secret_box(),
        config=oauth_config(current_app),
    )  # fmt: skip
    session[PENDING] = pending.as_dict()
    if htmx:
        return redirect_page(url)  # HX-Redirect: htmx navigates there
    # A form's POST may not redirect to another site (CSP form-action 'self'): a link may.
    name = PROVIDERS[provider].name
    return render_template("mailboxes/oauth_leave.html", url=url, provider=name)


@bp.post("/reconnect")
def reconnect() -> ResponseReturnValue:
    """One click for a mailbox whose grant was revoked: the consent again, same address."""
    mailbox = mailboxes.mailbox_of(get_session(), mailbox_owner().id)
    if mailbox is None or not oauth.is_oauth(mailbox.provider):
        return redirect(mailbox_url("index"))
    if not ActionForm().validate_on_submit():
        return redirect(mailbox_url("index"))
    try:
        return start_consent(mailbox.provider, mailbox.address)
    except AccountError as error:
        flash(str(error), "error")
        return redirect_page(mailbox_url("index"))


def page_of(owner_id: int | None) -> str:
    """The mailbox page the consent was for: the viewer's own, or a teammate's (admins)."""
    if owner_id is None or owner_id == current_user.id:
        return url_for("mailboxes.index")
    return url_for("team.mailboxes.index", user_id=owner_id)


def failure_message(error: Exception, provider: str) -> str:
    """What to tell the user when the way back did not end connected."""
    seconds = imap_options()["timeout"]
    if isinstance(error, oauth.ConsentError):
        return explain_consent(error.code, current_user.is_admin).message
    if isinstance(error, ImapError):
        where = {"host": error.host, "port": error.port, "provider": provider}
        return explain(error.code, seconds=seconds, **where).message
    assert isinstance(error, mailboxes.SmtpCheckError)
    where = {"host": error.host, "port": error.port, "provider": provider}
    return explain_smtp(error.code, seconds=seconds, **where).message


ANSWER_FIELDS = ("state", "code", "error")


@bp.get("/callback")
def callback() -> ResponseReturnValue:
    """Back from the provider: a page that hands the answer on to `finish` (a POST)."""
    answer = {k: request.args.get(k, "") for k in ANSWER_FIELDS}
    return render_template("mailboxes/oauth_return.html", answer=answer, action=ActionForm())


@bp.post("/finish")
def finish() -> ResponseReturnValue:
    """Check the answer, exchange the code, verify for real, save; or say why not."""
    pending = oauth.PendingConnect.from_dict(session.pop(PENDING, None))
    db = get_session()
    if not ActionForm().validate_on_submit():
        flash(explain_consent("state", current_user.is_admin).message, "error")
        return redirect_page(page_of(pending.owner_id if pending else None))
    answer = {k: request.form.get(k, "") for k in ANSWER_FIELDS}
    try:
        with turn_released():  # other pages run while the provider and mail servers answer
            mailbox = oauth.finish(
                db, pending=pending, answer=answer, actor=current_user, box=secret_box(),
                config=oauth_config(current_app), **imap_options(),
            )  # fmt: skip
    except (oauth.ConsentError, ImapError, mailboxes.SmtpCheckError) as error:
        db.rollback()
        flash(failure_message(error, pending.provider if pending else ""), "error")
        return redirect_page(page_of(pending.owner_id if pending else None))
    request_sync(db, mailbox.id)  # the first round starts now, not an interval later
    db.commit()
    wake(current_app)
    flash(_("Mailbox connected. The first sync starts shortly."), "success")
    return redirect_page(page_of(mailbox.user_id))

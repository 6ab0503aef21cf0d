""" "Sobre a sincronização": each user connects, tests and disconnects their own mailbox."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Row, Select, bindparam, select
from werkzeug.wrappers import Response

from dashboard.accounts.oauth_apps import configured_providers
from dashboard.accounts.service import AccountError
from dashboard.db.flask import get_session, secret_box
from dashboard.mail.imap_client import ImapError
from dashboard.mail.net import XOAUTH2
from dashboard.mailboxes import history, oauth
from dashboard.mailboxes import service as mailboxes
from dashboard.mailboxes import status as sync_status
from dashboard.mailboxes.entry import for_team, mailbox_owner, mailbox_url, pick_owner
from dashboard.mailboxes.forms import (
    REMOVE,
    DisconnectForm,
    FoldersForm,
    MailboxForm,
    saved_connection_form,
)
from dashboard.mailboxes.messages import Explanation, explain, explain_smtp, explain_stored
from dashboard.mailboxes.oauth_views import bp as oauth_bp
from dashboard.mailboxes.oauth_views import start_consent
from dashboard.mailboxes.providers import PROVIDERS
from dashboard.mailboxes.sync_views import bp as sync_bp
from dashboard.mailboxes.sync_views import (
    estimate_context,
    health_context,
    imap_options,
    sync_context,
)
from dashboard.models import Mailbox, User
from dashboard.states import MailboxStatus
from dashboard.sync.scheduler import oauth_config, request_sync, wake
from dashboard.sync.tokens import TokenUnavailable, access_token
from dashboard.web.forms import ActionForm, show_error
from dashboard.web.home import home_panel
from dashboard.web.pages import redirect_page, render_page, require_fresh_login
from dashboard.web.request_gate import turn_released

bp = Blueprint("mailboxes", __name__, url_prefix="/settings/mailbox")
bp.register_blueprint(sync_bp)
bp.register_blueprint(oauth_bp)
bp.before_request(require_fresh_login)
bp.url_value_preprocessor(pick_owner)
bp.add_app_template_global(mailbox_url)


@bp.app_template_global()
def mailbox_alert() -> Row | None:
    """The viewer's mailbox when it stopped syncing and needs reconnecting, else None
    (the banner on every page)."""
    if not current_user.is_authenticated:
        return None
    query = broken_mailbox()
    return get_session().connection().execute(query, {"user_id": current_user.id}).first()


@cache
def broken_mailbox() -> Select:
    """The query behind mailbox_alert, built once: it runs on every page."""
    return select(Mailbox.address, Mailbox.auth).where(
        Mailbox.user_id == bindparam("user_id"),
        Mailbox.secret.is_not(None),
        Mailbox.status == MailboxStatus.NEEDS_RECONNECT,
    )


@home_panel(bp, order=20)
def mailbox_panel() -> str:
    """The home page's mailbox status (with the cause of an error, or a link to connect);
    for admins also the team's mailboxes that stopped syncing."""
    db = get_session()
    return render_template(
        "mailboxes/_home_panel.html",
        mailbox=mailboxes.mailbox_of(db, current_user.id),
        team=mailboxes.mailboxes_with_problems(db) if current_user.is_admin else None,
        explain_mailbox=explain_mailbox,
    )


@bp.before_request
def mark_nav() -> None:
    """Highlight "Sobre a sincronização" (or the team's mailboxes) in the settings panel."""
    g.nav_active = "team" if for_team() else "mailbox"


def request_from(form: MailboxForm) -> mailboxes.ConnectionRequest:
    """The connection request typed in the form."""
    return mailboxes.ConnectionRequest(
        provider=form.provider.data or "",
        address=form.address.data or "",
        password=form.password.data or "",
        username=form.login,
        imap_host=form.imap_host.data or "",
        imap_port=form.imap_port.data,
        imap_security=form.imap_security.data,
        smtp_host=form.smtp_host.data or "",
        smtp_port=form.smtp_port.data,
        smtp_security=form.smtp_security.data,
    )


def page_context(
    mailbox: Mailbox | None, form: MailboxForm | None = None, failure: Explanation | None = None
) -> dict:
    """Everything the page and its partials show."""
    if form is None:
        if mailbox and mailbox.connected:
            form = saved_connection_form(mailbox)
        else:
            form = MailboxForm(formdata=None)
    folders_form = FoldersForm(formdata=None)
    if mailbox:
        folders_form.folders.choices = [(f, f) for f in mailbox.available_folders]
        folders_form.folders.data = mailbox.folders
    sync = {}
    if mailbox and mailbox.connected:
        sync = sync_context(mailbox)
        sync.update(estimate_context(mailbox, sync["stored"]))
    if mailbox and for_team():
        sync.update(health_context(mailbox))
    return {
        "owner": mailbox_owner(),
        "for_team": for_team(),
        "connected_by": sync_status.connecter(get_session(), mailbox) if mailbox else None,
        "form": form,
        "mailbox": mailbox,
        "failure": failure,
        "providers": PROVIDERS,
        "oauth_ready": configured_providers(get_session()),
        "folders_form": folders_form,
        "action": ActionForm(),
        "explain_mailbox": explain_mailbox,
        **sync,
    }


def page(
    form: MailboxForm | None = None, status: int = 200, failure: Explanation | None = None
) -> tuple[str, int]:
    """Render the page (or the form partial for HTMX) for the mailbox's owner."""
    mailbox = mailboxes.mailbox_of(get_session(), mailbox_owner().id)
    return render_page(
        "mailboxes/index.html",
        "mailboxes/_connect_form.html",
        status=status,
        **page_context(mailbox, form, failure),
    )


def explain_mailbox(mailbox: Mailbox) -> Explanation:
    """The explanation of a stored mailbox's last error."""
    return explain_stored(mailbox, mailbox.last_error_code or "", imap_options()["timeout"])


@bp.route("/", methods=["GET", "POST"])
def index() -> ResponseReturnValue:
    """Show the connection and its form; saving verifies with the real server first."""
    form = MailboxForm()
    if not form.validate_on_submit():
        return page(form if form.is_submitted() else None, 422 if form.errors else 200)
    if oauth.is_oauth(form.provider.data or ""):
        try:
            return start_consent(form.provider.data or "", form.address.data or "")
        except AccountError as error:
            get_session().rollback()
            show_error(form, error)
            return page(form, 422)
    db = get_session()
    connection = request_from(form)
    owner = mailbox_owner()
    saved = mailboxes.mailbox_of(db, owner.id)
    if not connection.password.strip() and saved and saved.connected:
        connection.password = secret_box().decrypt(saved.secret)  # "••• saved": keep it
    try:
        with turn_released():  # other pages run while the IMAP and SMTP servers answer
            mailbox = mailboxes.connect_mailbox(
                db,
                user=owner,
                request=connection,
                box=secret_box(),
                actor=current_user,
                **imap_options(),
            )
    except AccountError as error:
        db.rollback()
        show_error(form, error)
        return page(form, 422)
    except (ImapError, mailboxes.SmtpCheckError) as error:
        explain_failure = explain if isinstance(error, ImapError) else explain_smtp
        failure = explain_failure(
            error.code,
            host=error.host,
            port=error.port,
            provider=form.provider.data,
            seconds=imap_options()["timeout"],
        )
        return page(form, 422, failure)
    request_sync(db, mailbox.id)  # the first round starts now, not an interval later
    db.commit()
    wake(current_app)
    flash(_("Mailbox connected. The first sync starts shortly."), "success")
    return redirect_page(mailbox_url("index"))


@bp.post("/test")
def test_connection() -> ResponseReturnValue:
    """Run the verification again with the saved password (HTMX: returns the status card)."""
    db = get_session()
    mailbox = mailboxes.mailbox_of(db, mailbox_owner().id)
    if mailbox is None or not mailbox.connected or not ActionForm().validate_on_submit():
        return redirect(mailbox_url("index"))
    with turn_released():  # other pages run while the IMAP server answers
        error = retest(mailbox)
    db.commit()
    return render_page(
        "mailboxes/index.html",
        "mailboxes/_status.html",
        tested=error is None,
        **page_context(mailbox),
    )


def retest(mailbox: Mailbox) -> ImapError | None:
    """Verify a stored mailbox again; an OAuth one with a fresh access token first."""
    db = get_session()
    token = None
    if mailbox.auth == XOAUTH2:
        db.commit()  # the token call waits on the network: no transaction held meanwhile
        try:
            token = access_token(
                current_app.extensions["leadsync.engine"], mailbox.id, secret_box(),
                oauth_config(current_app),
            )  # fmt: skip
        except TokenUnavailable as exc:
            db.refresh(mailbox)  # a revoked grant was recorded by access_token
            return ImapError(exc.code, exc.detail, host=mailbox.imap_host, port=mailbox.imap_port)
    return mailboxes.retest_mailbox(
        db, mailbox, box=secret_box(), access_token=token, **imap_options()
    )


def may_remove_history(viewer: User) -> bool:
    """Removing a mailbox's history deletes emails the whole team reads: admins only."""
    return viewer.is_admin


@bp.route("/disconnect", methods=["GET", "POST"])
def disconnect() -> ResponseReturnValue:
    """Ask, then disconnect: keep the synced history, or (admins) remove what LeadSync holds
    only because of this mailbox. A mailbox already disconnected can still lose its history."""
    db = get_session()
    mailbox = mailboxes.mailbox_of(db, mailbox_owner().id)
    allowed = may_remove_history(current_user)
    if mailbox is None or not (mailbox.connected or allowed):
        return redirect(mailbox_url("index"))
    form = DisconnectForm()
    removing = form.history.data == REMOVE
    if removing and not allowed:
        abort(403)
    if form.validate_on_submit() and (mailbox.connected or removing):
        removal = mailboxes.disconnect_mailbox(
            db, mailbox, current_user, remove_history=removing,
            remove_emptied_leads=removing and bool(form.remove_emptied_leads.data),
        )  # fmt: skip
        db.commit()
        if removal is None:
            flash(_("Mailbox disconnected. Emails already synced stay in LeadSync."), "success")
        else:
            flash(removed_message(removal), "success")
        return redirect(mailbox_url("index"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "mailboxes/disconnect.html",
        form=form,
        mailbox=mailbox,
        plan=history.preview(db, mailbox) if allowed else None,
        owner=mailbox_owner(),
        for_team=for_team(),
        error=form.is_submitted(),
    ), status


def removed_message(removal: history.HistoryRemoval) -> str:
    """The confirmation after removing a mailbox's history."""
    return ngettext(
        "Mailbox disconnected and its history removed: %(count)s email deleted.",
        "Mailbox disconnected and its history removed: %(count)s emails deleted.",
        removal.emails_only_here,
        count=format_decimal(removal.emails_only_here),
    )


@bp.post("/folders")
def folders() -> Response:
    """Choose extra folders to sync besides INBOX and Sent."""
    db = get_session()
    mailbox = mailboxes.mailbox_of(db, mailbox_owner().id)
    form = FoldersForm()
    if mailbox and form.validate_on_submit():
        mailboxes.set_folders(db, mailbox, form.folders.data or [])
        db.commit()
        flash(_("Folders saved."), "success")
    return redirect(mailbox_url("index"))

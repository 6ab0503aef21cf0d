"""Perfil da Empresa > "Login com Google e Microsoft": the step-by-step registration of
LeadSync with each provider (redirect URI and scopes to enter there) and the client ID and
secret the admin brings back. Admins only."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from dashboard.accounts import oauth_apps
from dashboard.accounts.forms import OAuthAppForm
from dashboard.accounts.security import admin_required
from dashboard.accounts.service import AccountError
from dashboard.db.flask import get_session, secret_box
from dashboard.mail.oauth import OAUTH_PROVIDERS
from dashboard.models import OAuthApp
from dashboard.web.forms import show_error
from dashboard.web.pages import render_page, require_fresh_login

bp = Blueprint("oauth", __name__, url_prefix="/settings/company/oauth")
bp.before_request(require_fresh_login)


@bp.before_request
def mark_nav() -> None:
    """Highlight "Perfil da Empresa" in the settings panel."""
    g.nav_active = "company"


def page(provider: str, form: OAuthAppForm, status: int = 200) -> tuple[str, int]:
    """The guide and the form of one provider."""
    app = get_session().get(OAuthApp, provider)
    return render_page(
        "accounts/settings/oauth_app.html",
        None,
        status=status,
        provider=OAUTH_PROVIDERS[provider],
        form=form,
        saved_app=app,
        redirect_uri=oauth_apps.redirect_uri(
            current_app.config.get("PUBLIC_URL"), request.url_root
        ),
        public_url_set=bool(current_app.config.get("PUBLIC_URL")),
    )


@bp.route("/<provider>", methods=["GET", "POST"])
@admin_required
def edit(provider: str) -> ResponseReturnValue:
    """Show how to register LeadSync with the provider; save its client ID and secret."""
    if provider not in OAUTH_PROVIDERS:
        abort(404)
    db = get_session()
    saved = db.get(OAuthApp, provider)
    form = OAuthAppForm()
    if not form.is_submitted():
        form.client_id.data = saved.client_id if saved else ""
        return page(provider, form)
    if not form.validate():
        return page(provider, form, 422)
    try:
        oauth_apps.save_app(
            db, provider=provider, client_id=form.client_id.data or "",
            client_secret=form.client_secret.data or "", box=secret_box(), actor=current_user,
        )  # fmt: skip
    except AccountError as error:
        db.rollback()
        show_error(form, error)
        return page(provider, form, 422)
    db.commit()
    form.saved = _(
        "Saved. Your team can now connect with %(provider)s.",
        provider=OAUTH_PROVIDERS[provider].name,
    )
    return page(provider, form)

"""Settings area: "Meu perfil" for everyone, "Perfil da Empresa" for admins."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, g, redirect, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from dashboard.accounts import audit
from dashboard.accounts import service as accounts
from dashboard.accounts.company import (
    LEAD_FIELDS,
    NETWORK_FIELDS,
    SYNC_FIELDS,
    apply_company_changes,
    never_log_notes,
    retention_outlook,
    validate_sync_settings,
)
from dashboard.accounts.forms import (
    CHOICE_LABELS,
    COMPANY_LABELS,
    USER_LABELS,
    AliasesForm,
    ChangePasswordForm,
    CompanyForm,
    LeadSettingsForm,
    NetworkSettingsForm,
    ProfileForm,
    SyncSettingsForm,
)
from dashboard.accounts.oauth_apps import configured_providers
from dashboard.accounts.security import admin_required, password_matches
from dashboard.db.flask import get_session
from dashboard.mail.oauth import OAUTH_PROVIDERS
from dashboard.models import Company, utcnow
from dashboard.sync.scheduler import reschedule_sync
from dashboard.web.dates import format_day
from dashboard.web.forms import show_error
from dashboard.web.i18n import select_timezone, timezone_choices
from dashboard.web.pages import render_page, require_fresh_login
from dashboard.web.sessions import login_started, sign_in

bp = Blueprint("settings", __name__, url_prefix="/settings")
bp.before_request(require_fresh_login)


@bp.get("/")
def index() -> Response:
    """Open the first item of the settings panel."""
    return redirect(url_for("accounts.settings.profile"))


def profile_form() -> ProfileForm:
    """The profile form filled with the current user's values."""
    form = ProfileForm(obj=current_user)
    form.timezone.choices = timezone_choices()
    if not form.is_submitted():
        form.language.data = current_user.language or str(g.get("locale", "pt_BR"))
        form.timezone.data = select_timezone()
    return form


def profile_page(
    partial: str | None = None, status: int = 200, **forms: FlaskForm
) -> tuple[str, int]:
    """Render "Meu perfil" with its three forms; `forms` replaces the submitted one."""
    g.nav_active = "profile"
    aliases = AliasesForm(formdata=None)
    aliases.aliases.data = "\n".join(accounts.aliases_of(get_session(), current_user.id))
    context = {
        "form": None,
        "password_form": ChangePasswordForm(formdata=None),
        "aliases_form": aliases,
        **forms,
    }
    context["form"] = context["form"] or profile_form()
    return render_page("accounts/settings/profile.html", partial, status=status, **context)


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> tuple[str, int]:
    """Edit one's own name, language and time zone."""
    form = profile_form()
    if form.validate_on_submit():
        db = get_session()
        current_user.name = form.name.data.strip()
        current_user.language, current_user.timezone = form.language.data, form.timezone.data
        current_user.signature = (form.signature.data or "").strip()
        db.add(current_user)
        db.commit()
        form.saved = _("Profile saved.")
    status = 422 if form.errors else 200
    return profile_page("accounts/settings/_profile_form.html", status, form=form)


@bp.post("/password")
def change_password() -> tuple[str, int]:
    """Change one's own password; every other session of the user ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not password_matches(current_user.password_hash, form.current.data):
            form.current.errors = [_("The current password is wrong.")]
        else:
            try:
                accounts.set_password(
                    current_user, form.password.data, current_app.config["PASSWORD_MIN_LENGTH"]
                )
            except accounts.AccountError as error:
                show_error(form, error)
            else:
                return password_changed()
    return profile_page("accounts/settings/_password_form.html", 422, password_form=form)


def password_changed() -> tuple[str, int]:
    """Save the new password and keep this browser logged in with the new token."""
    db = get_session()
    db.add(current_user)
    db.commit()
    # The cookie must carry the new token; the login keeps its age (the absolute lifetime).
    sign_in(current_user._get_current_object(), started=login_started())
    form = ChangePasswordForm(formdata=None)
    form.saved = _("Password changed. Other sessions were logged out.")
    return profile_page("accounts/settings/_password_form.html", password_form=form)


@bp.post("/profile/aliases")
def aliases() -> tuple[str, int]:
    """Save the other addresses the user sends from."""
    form, db = AliasesForm(), get_session()
    if form.validate():
        try:
            accounts.set_aliases(db, current_user, form.aliases.data or "")
        except accounts.AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            form.saved = _("Addresses saved.")
    status = 422 if form.errors or form.form_errors else 200
    return profile_page("accounts/settings/_aliases_form.html", status, aliases_form=form)


def retention_notice(record: Company) -> str:
    """What the saved retention means today, in words and numbers."""
    outlook = retention_outlook(get_session(), record, utcnow())
    if outlook is None:
        return _("Emails are kept forever.")
    count, day = outlook
    return ngettext(
        "%(count)s email from before %(day)s will be deleted at the next clean-up "
        "(once a day). Leads are kept.",
        "%(count)s emails from before %(day)s will be deleted at the next clean-up "
        "(once a day). Leads are kept.",
        count,
        count=format_decimal(count),
        day=format_day(day, "short"),
    )


def company_page(
    form: CompanyForm | None = None,
    sync_form: SyncSettingsForm | None = None,
    status: int = 200,
    partial: str | None = None,
    lead_form: LeadSettingsForm | None = None,
    network_form: NetworkSettingsForm | None = None,
) -> tuple[str, int]:
    """Render "Perfil da Empresa" with its forms and the audit log."""
    db = get_session()
    record = accounts.get_company(db)
    if form is None:
        form = CompanyForm(obj=record, formdata=None)
        form.domains.data = "\n".join(record.domains)
    if sync_form is None:
        sync_form = SyncSettingsForm(obj=record, formdata=None)
        sync_form.never_log.data = "\n".join(record.never_log)
    lead_form = lead_form or LeadSettingsForm(obj=record, formdata=None)
    network_form = network_form or NetworkSettingsForm(obj=record, formdata=None)
    return render_page(
        "accounts/settings/company.html",
        partial,
        status=status,
        form=form,
        sync_form=sync_form,
        lead_form=lead_form,
        network_form=network_form,
        retention_notice=retention_notice(record),
        events=audit.recent_sentences(db),
        never_log_notes=never_log_notes(db, record),
        audit_labels={"company": COMPANY_LABELS, "user": USER_LABELS},
        choice_labels=CHOICE_LABELS,
        oauth_providers=OAUTH_PROVIDERS,
        oauth_ready=configured_providers(db),
    )


def save_company(
    changes_from_form: Callable[[], dict], form: FlaskForm, partial: str, saved: str
) -> tuple[str, int]:
    """Validate a form's values with the shared rules, store them, and re-render its partial."""
    db = get_session()
    try:
        changes = changes_from_form()
    except accounts.AccountError as error:
        show_error(form, error)
    else:
        record = accounts.get_company(db)
        changed = apply_company_changes(db, record, changes, current_user)
        db.commit()
        if "interval_minutes" in changed:
            reschedule_sync(current_app, record.interval_minutes)
        form.saved = saved
    status = 422 if form.errors or form.form_errors else 200
    slot = {
        CompanyForm: "form",
        SyncSettingsForm: "sync_form",
        LeadSettingsForm: "lead_form",
        NetworkSettingsForm: "network_form",
    }
    forms = {slot[type(form)]: form}
    return company_page(status=status, partial=partial, **forms)


@bp.route("/company", methods=["GET", "POST"])
@admin_required
def company() -> tuple[str, int]:
    """Edit the company's name and email domains."""
    g.nav_active = "company"
    form = CompanyForm()
    if not form.is_submitted():
        return company_page()
    if not form.validate():
        return company_page(form=form, status=422, partial="accounts/settings/_company_form.html")
    return save_company(
        lambda: {
            "name": form.name.data.strip(),
            "domains": accounts.normalize_domains(form.domains.data),
        },
        form,
        "accounts/settings/_company_form.html",
        _("Company profile saved."),
    )


def save_settings_section(
    form: FlaskForm, fields: tuple[str, ...], form_name: str, partial: str, saved: str
) -> tuple[str, int]:
    """Validate one settings section of "Perfil da Empresa" and save its fields (the form
    re-rendered with its messages, 422, when a value is refused)."""
    g.nav_active = "company"
    if not form.validate():
        return company_page(**{form_name: form}, status=422, partial=partial)
    return save_company(
        lambda: validate_sync_settings({name: getattr(form, name).data for name in fields}),
        form,
        partial,
        saved,
    )


@bp.post("/company/sync")
@admin_required
def company_sync() -> tuple[str, int]:
    """Save the "Sincronização de e-mail" settings."""
    return save_settings_section(
        SyncSettingsForm(), SYNC_FIELDS, "sync_form", "accounts/settings/_sync_form.html",
        _("Settings saved. The next sync round uses them."),
    )  # fmt: skip


@bp.post("/company/leads")
@admin_required
def company_leads() -> tuple[str, int]:
    """Save the "Leads and smart emails" settings."""
    return save_settings_section(
        LeadSettingsForm(), LEAD_FIELDS, "lead_form",
        "accounts/settings/_lead_settings_form.html", _("Settings saved."),
    )  # fmt: skip


@bp.post("/company/network")
@admin_required
def company_network() -> tuple[str, int]:
    """Save the "Mail servers" setting: servers on the local network allowed or not."""
    return save_settings_section(
        NetworkSettingsForm(), NETWORK_FIELDS, "network_form",
        "accounts/settings/_network_form.html", _("Settings saved."),
    )  # fmt: skip

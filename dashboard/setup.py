"""First-run setup: creates the company and the first administrator, then disappears."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, url_for
from flask_babel import gettext as _
from flask_login import login_user
from werkzeug.wrappers import Response

from dashboard import accounts
from dashboard.db import get_session
from dashboard.forms import SetupForm, show_error
from dashboard.web import redirect_page, render_page, start_fresh_session

bp = Blueprint("setup", __name__)


@bp.route("/setup", methods=["GET", "POST"])
def first_run() -> Response | tuple[str, int]:
    """Show the setup form while no user exists; 404 afterwards."""
    db = get_session()
    if accounts.setup_done(db):
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            admin = accounts.run_setup(
                db,
                company=form.company.data,
                domains=form.domains.data,
                admin_email=form.email.data,
                admin_name=form.name.data,
                password=form.password.data,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"],
            )
        except accounts.AccountError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            current_app.extensions["leadsync.setup_done"] = True
            start_fresh_session()
            login_user(admin)
            flash(_("Welcome! Your company is ready. Add your team next."), "success")
            return redirect_page(url_for("users.index"))
    return render_page(
        "setup.html",
        "setup/_form.html",
        form=form,
        status=422 if form.errors or form.form_errors else 200,
    )

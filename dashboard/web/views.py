"""The landing page after login: the panels the features register (web/home.py)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

from dashboard.web.home import rendered_panels
from dashboard.web.pages import render_page

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def index() -> tuple[str, int]:
    """Show what needs the user now: their leads to answer, their mailbox, the team's."""
    return render_page("web/home.html", panels=rendered_panels())

"""The landing page after login."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

from dashboard.web.pages import render_page

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def index() -> tuple[str, int]:
    """Show the user's starting points."""
    return render_page("web/home.html")

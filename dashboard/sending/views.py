"""Smart emails' pages: the compose card, sent and failed emails with notifications,
templates, and the tracking endpoints that recipients' mail clients hit (no login: hence
children with their own hooks rather than one blueprint)."""

from __future__ import annotations

from flask import Blueprint

from dashboard.sending.compose_views import bp as compose_bp
from dashboard.sending.notifications_views import bp as notifications_bp
from dashboard.sending.outgoing_views import bp as outgoing_bp
from dashboard.sending.templates_views import bp as templates_bp
from dashboard.sending.tracking_views import bp as tracking_bp

bp = Blueprint("sending", __name__)
for child in (compose_bp, notifications_bp, outgoing_bp, templates_bp, tracking_bp):
    bp.register_blueprint(child)

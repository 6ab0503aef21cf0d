"""LeadSync: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

from dashboard import config as boot_config

if TYPE_CHECKING:
    from dashboard.sending.queue import SendQueue

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Defaults, then instance/config.py, then LEADSYNC_* variables, then the overrides."""
    app.config.from_object(boot_config.Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(boot_config.ENV_PREFIX)
    app.config.update(overrides or {})
    secure = app.config["SECURE_COOKIES"] or str(app.config.get("PUBLIC_URL") or "").startswith(
        "https://"
    )
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    # The remember-me cookie never outlives a login (dashboard/web/sessions.py).
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(hours=app.config["SESSION_MAX_HOURS"])


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, instance keys, database, extensions, blueprints."""
    instance = (config or {}).get("INSTANCE_PATH") or boot_config.instance_path_from_env()
    boot_config.ensure_private_dir(instance)
    app = Flask(
        __name__,
        instance_path=str(instance),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    load_config(app, config)
    app.secret_key, _ = boot_config.instance_keys(Path(app.instance_path))

    # Imported here, not at the top: `import dashboard.mail.parse` (the sync, the benchmarks)
    # must not pull in Flask and every blueprint.
    from dashboard.cli import register_commands
    from dashboard.db import flask as db
    from dashboard.sync.scheduler import build_scheduler
    from dashboard.web import extensions, origin, pages, proxy, request_gate, sessions

    request_gate.init_app(app)
    db.init_app(app)
    origin.init_app(app)  # before the CSRF check: a forged origin is told so
    extensions.init_app(app)
    sessions.init_app(app)
    pages.init_app(app)
    proxy.init_app(app)  # outermost middleware: the others see the forwarded values
    register_blueprints(app)
    register_commands(app)
    app.extensions["leadsync.scheduler"] = build_scheduler(app)  # started by run.py only
    app.extensions["leadsync.send_queue"] = build_send_queue(app)
    return app


def build_send_queue(app: Flask) -> SendQueue:
    """The pool that delivers smart emails off the request thread."""
    from dashboard.db.flask import LiveSecretBox
    from dashboard.sending.queue import SendQueue
    from dashboard.sync.scheduler import oauth_config

    return SendQueue(
        app.extensions["leadsync.engine"],
        LiveSecretBox(app),
        ca_file=app.config.get("IMAP_CA_FILE"),
        public_url=app.config.get("PUBLIC_URL"),
        secret_key=app.secret_key,
        oauth=oauth_config(app),
    )


def register_blueprints(app: Flask) -> None:
    """Attach every feature's blueprint: one per package, named as the package."""
    from dashboard.accounts.views import bp as accounts
    from dashboard.emails.views import bp as emails
    from dashboard.leads.views import bp as leads
    from dashboard.mailboxes.team_views import bp as team_mailboxes
    from dashboard.mailboxes.views import bp as mailboxes
    from dashboard.sending.views import bp as sending
    from dashboard.web.views import bp as web

    for blueprint in (accounts, web, mailboxes, emails, leads, sending):
        app.register_blueprint(blueprint)
    app.register_blueprint(team_mailboxes)  # the mailbox views again, about a teammate's

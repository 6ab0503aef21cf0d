""" "Conectar com Google" in a real browser: the tile, the consent page of a real authorization
server, the way back, connected; the scheduler's round syncs over IMAP XOAUTH2 and the email
shows on the lead page; a revoked grant, then one click and the consent again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from dashboard.db.engine import read_session
from dashboard.models import Mailbox
from dashboard.sync.scheduler import oauth_config
from tests.support.oauth import oauth_config as app_oauth_config
from tests.support.oauth import register_leadsync
from tests.support.pages import log_in, open_mailbox_page, watch_console
from tests.support.servers.dovecot import new_user
from tests.support.sync import make_lead, plain_email, sync

pytestmark = pytest.mark.browser


@pytest.fixture
def smtp(oauth_mail, make_smtp_server):  # type: ignore[no-untyped-def]
    return make_smtp_server(bearer_user=oauth_mail.oauth.active_user)


@pytest.fixture
def app_config(tmp_path, oauth_mail, smtp) -> dict:  # type: ignore[no-untyped-def]
    return app_oauth_config(tmp_path, oauth_mail, smtp)


def consent(page: Page, oauth_mail, address: str) -> None:  # type: ignore[no-untyped-def]
    """On the provider's consent page: the address was passed on as the hint; allow."""
    expect(page).to_have_url(re.compile(re.escape(oauth_mail.oauth.url) + "/authorize"))
    expect(page.locator("input[name=email]")).to_have_value(address)
    page.locator("button[value=allow]").click()


def test_a_rep_connects_with_google_syncs_and_reconnects_after_a_revocation(
    app, engine, live_server, page: Page, rep, oauth_mail
):
    base = live_server.url
    register_leadsync(app, oauth_mail, root=base)
    user = new_user(oauth_mail.dovecot)
    lead_id = make_lead(engine, "Lúcia Prado", "lucia@cliente.test")
    user.append("INBOX", plain_email("lucia@cliente.test", user.address, "Proposta aprovada"))
    problems = watch_console(page)
    log_in(page, base, rep.email)
    open_mailbox_page(page, base)
    form = page.locator("#mailbox-form")
    form.locator("input[name=provider][value=google]").check()
    expect(form.locator("[name=password]")).to_be_hidden()  # no password for OAuth tiles
    form.locator("[name=address]").fill(user.address)
    form.locator(".oauth-connect-google button[type=submit]").click()
    consent(page, oauth_mail, user.address)

    expect(page).to_have_url(f"{base}/settings/mailbox/", timeout=20_000)
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".oauth-sign-in")).to_contain_text("Google (OAuth)")
    with read_session(engine) as session:
        mailbox_id = session.exec(select(Mailbox.id).where(Mailbox.user_id == rep.id)).one()
    # The scheduler's part: the round the connection asked for.
    assert sync(app, mailbox_id, oauth=oauth_config(app)).error_code is None
    page.goto(f"{base}/leads/{lead_id}")
    expect(page.locator("main")).to_contain_text("Proposta aprovada")

    oauth_mail.oauth.revoke_grants(user.address)  # the user removed LeadSync's access
    assert sync(app, mailbox_id, oauth=oauth_config(app)).error_code == "oauth_revoked"
    open_mailbox_page(page, base)
    expect(page.locator(".banner")).to_be_visible()
    page.locator("#oauth-reconnect button").click()
    consent(page, oauth_mail, user.address)
    expect(page).to_have_url(f"{base}/settings/mailbox/", timeout=20_000)
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".banner")).to_have_count(0)
    expect(page.locator("#oauth-reconnect")).to_have_count(0)
    assert sync(app, mailbox_id, oauth=oauth_config(app)).error_code is None
    assert problems == []

"""The home page in a real browser: an admin's panels (my leads, my mailbox, the team's
mailboxes) fit a phone and a laptop without console errors; the counts open the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.engine import write_session
from dashboard.models import Mailbox
from dashboard.states import MailboxStatus
from tests.support.lead_data import lead_data
from tests.support.pages import log_in, watch_console

pytestmark = pytest.mark.browser


@pytest.fixture
def busy_admin(app, engine, admin, rep):  # type: ignore[no-untyped-def]
    """An admin with three leads to answer, and a rep whose mailbox needs reconnecting."""
    with lead_data(engine) as data:
        for _ in range(3):
            data.thread(data.lead(owner=admin), rep=admin, messages=2, directions=("out", "in"))
    secret = app.extensions["leadsync.secrets"].encrypt("app-password")
    with write_session(engine) as session:
        session.add(
            Mailbox(
                user_id=rep.id, provider="gmail", address="paulo@cliente-exemplo.com.br",
                username="paulo@cliente-exemplo.com.br", imap_host="imap.gmail.com",
                imap_port=993, imap_security="tls", secret=secret,
                status=MailboxStatus.NEEDS_RECONNECT, last_error_code="auth_failed",
            )
        )  # fmt: skip
    return admin


@pytest.mark.parametrize("width", [360, 1366])
def test_the_home_page_shows_what_needs_the_user_now(
    busy_admin, live_server, page: Page, tmp_path: Path, width: int
) -> None:  # type: ignore[no-untyped-def]
    problems = watch_console(page)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, busy_admin.email)
    expect(page.locator("#home-to-answer strong")).to_have_text("3")
    expect(page.locator("#home-connect")).to_be_visible()  # the admin's own mailbox
    expect(page.locator("#home-team li")).to_have_count(1)
    expect(page.locator("#home-team li")).to_contain_text("paulo@cliente-exemplo.com.br")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=tmp_path / f"home-{width}.png", full_page=True)
    page.locator("#home-to-answer").click()
    expect(page).to_have_url(f"{live_server.url}/leads/?owner=me&status=reply")
    assert problems == []

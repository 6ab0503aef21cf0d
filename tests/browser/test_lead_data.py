"""In a real browser: the admin exports a lead's data (a ZIP download), then erases it from
the confirmation page that states what goes; a rep finds neither action."""

from __future__ import annotations

import json
import zipfile

import pytest
from playwright.sync_api import Page, expect

from dashboard.db.engine import read_session
from dashboard.models import Lead
from tests.support.lead_data import lead_data
from tests.support.leads import ENGLISH
from tests.support.pages import log_in, watch_console

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config() -> dict:
    """English pages."""
    return dict(ENGLISH)


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    """An English-speaking browser (the pages follow it)."""
    return {**browser_context_args, "locale": "en-US", "accept_downloads": True}


def test_the_admin_exports_then_erases_a_leads_data(
    engine, live_server, page: Page, admin, rep, tmp_path
) -> None:
    with lead_data(engine) as data:
        lead = data.lead(name="Zélia Quixabeira", addresses=["zelia@quixabeira.test"])
        other = data.lead(name="Otto")
        data.email(lead, rep=rep)
        data.email([lead, other], rep=rep)
    errors = watch_console(page)
    log_in(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/leads/{lead.id}")
    page.get_by_text("Personal data (LGPD)").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export data").click()
    assert download.value.suggested_filename.startswith(f"lead-{lead.id}-dados-")
    saved = tmp_path / "export.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert json.loads(archive.read("lead.json"))["name"] == "Zélia Quixabeira"

    page.get_by_role("link", name="Erase this person’s data").click()
    counts = page.locator("#erase-counts")
    expect(counts).to_contain_text("1 email that involves no other lead")
    expect(page.locator("#erase-shared")).to_contain_text("1 email also involves another lead")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_text("The lead's data was erased: 1 email deleted.")).to_be_visible()
    with read_session(engine) as session:
        assert session.get(Lead, lead.id) is None
    assert errors == []


def test_a_rep_finds_no_data_actions(engine, live_server, page: Page, rep) -> None:
    with lead_data(engine) as data:
        lead = data.lead(name="Rita", owner=rep)
    log_in(page, live_server.url, rep.email)
    page.goto(f"{live_server.url}/leads/{lead.id}")
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.get_by_text("Personal data (LGPD)")).to_have_count(0)
    expect(page.get_by_role("button", name="Export data")).to_have_count(0)
    response = page.goto(f"{live_server.url}/leads/{lead.id}/erase")
    assert response is not None and response.status == 403

"""A rep's day in a real browser: my leads, a lead's timeline, a thread, search as you type."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.support import factories
from tests.support.lead_data import ago, lead_data
from tests.support.leads import ENGLISH

pytestmark = pytest.mark.browser

PHRASE = "contrato anual"


@pytest.fixture
def app_config() -> dict:
    """English available; the browser still asks for pt-BR, so assertions use structure."""
    return dict(ENGLISH)


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions of the page."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            found.append(f"{message.text} at {message.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    return found


@pytest.fixture
def day(engine, rep, admin):  # type: ignore[no-untyped-def]
    """The rep's leads and a teammate's, with mail."""
    teammate = factories.make_user(engine, role="rep", name="Tina Teammate")
    with lead_data(engine) as data:
        mine = data.lead(name="Marina Minha", addresses=["marina@client.test"], owner=rep)
        data.thread(
            mine,
            rep=rep,
            messages=2,
            subject="Proposta comercial",
            body_text=f"Segue a proposta do {PHRASE} com a sincronização inclusa.",
            start=ago(days=2),
        )
        other = data.lead(name="Otto Outro", addresses=["otto@other.test"], owner=teammate)
        data.thread(other, rep=teammate, messages=1, subject="Olá", start=ago(days=1))
        for i in range(3):
            data.lead(name=f"Filler {i}", owner=teammate)
    return {"mine": mine, "other": other}


def log_in(page: Page, base: str, email: str) -> None:
    """Use the real login page."""
    page.goto(f"{base}/login")
    form = page.locator("main form")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(factories.PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{base}/")


def lead_links(page: Page):  # type: ignore[no-untyped-def]
    """The lead names in the results table."""
    return page.locator("#leads-table tbody tr td:first-child a")


def test_a_reps_day(page: Page, live_server, rep, day, problems):
    base = live_server.url
    log_in(page, base, rep.email)

    page.locator(".mainnav a[href='/leads/']").click()
    expect(page).to_have_url(f"{base}/leads/")
    expect(lead_links(page)).to_have_count(5)

    # "My leads": the filter is applied by HTMX and pushed to the URL
    page.locator("select[name=owner]").select_option("me")
    expect(lead_links(page)).to_have_count(1)
    expect(lead_links(page)).to_have_text(["Marina Minha"])
    expect(page).to_have_url(re.compile(r"owner=me"))

    # open the lead, expand its thread
    lead_links(page).first.click()
    expect(page).to_have_url(f"{base}/leads/{day['mine'].id}")
    thread = page.locator("article.thread").first
    expect(thread.locator(".thread-subject")).to_have_text("Proposta comercial")
    expect(thread.locator(".message")).to_have_count(0)
    thread.locator(".thread-head").click()
    expect(thread.locator(".message")).to_have_count(2)
    expect(thread.locator(".message").first).to_contain_text("marina@client.test")
    body = thread.locator(".message").first.locator("pre.plain-body, iframe.email-body-frame")
    expect(body).to_have_count(1)
    if body.evaluate("node => node.tagName") == "PRE":  # body route not registered yet
        expect(body).to_contain_text(PHRASE)
    else:
        frame = thread.locator(".message").first.frame_locator("iframe.email-body-frame")
        expect(frame.locator("body")).to_contain_text(PHRASE)

    # back to the list: type an email phrase and see the lead found as you type
    page.locator(".mainnav a[href='/leads/']").click()
    expect(lead_links(page)).to_have_count(5)
    page.locator("#lead-q").press_sequentially("Contrato anu", delay=60)
    expect(lead_links(page)).to_have_text(["Marina Minha"])
    expect(page).to_have_url(re.compile(r"q=Contrato(\+|%20)anu"))

    page.locator("#lead-q").fill("")
    expect(lead_links(page)).to_have_count(5)
    page.locator("#lead-q").press_sequentially("sincronizacao", delay=30)  # accents folded
    expect(page).to_have_url(re.compile(r"q=sincronizacao"))
    expect(lead_links(page)).to_have_text(["Marina Minha"])

    # the back button returns to the earlier (empty) search and its results, in the whole
    # page: htmx restores history by re-fetching the URL (historyCacheSize is 0)
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"q=sincronizacao"))
    expect(lead_links(page)).to_have_count(5)
    expect(page.locator("#lead-q")).to_have_value("")

    assert problems == []

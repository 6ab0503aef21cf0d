"""The review queue in a real browser, at a laptop's width and a phone's: the total, filtering
by domain, selecting the page and then everything matching across pages, accepting, the
total following; dismissing a whole domain after a confirmation; never a sideways scroll."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect
from sqlalchemy import func, select

from dashboard.db.engine import read_session
from dashboard.models import Lead
from tests.support.factories import PASSWORD
from tests.support.lead_data import lead_data

pytestmark = pytest.mark.browser

SUPPLIER = "fornecedor.com.br"


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
def queue(engine, rep):  # type: ignore[no-untyped-def]
    """30 suggestions from a supplier (two pages of the queue) and 3 from a client's domain,
    with long names and addresses, as an import brings them."""
    with lead_data(engine) as data:
        for i in range(30):
            lead = data.lead(
                name=f"Departamento Comercial de Suprimentos Industriais {i}",
                addresses=[f"atendimento.comercial.suprimentos{i}@{SUPPLIER}"],
                source="sync",
                state="suggested",
            )
            data.email(lead, rep=rep, direction="in", subject=f"Tabela de preços atualizada {i}")
        for i in range(3):
            data.lead(addresses=[f"compras{i}@construtoraalfa.com.br"], state="suggested")


def states(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many leads are in each state."""
    with read_session(engine) as session:
        return dict(session.execute(select(Lead.state, func.count()).group_by(Lead.state)).all())


def fits_the_width(page: Page) -> None:
    """No sideways scroll: the document is no wider than the window."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"scrollWidth {widths[0]} > innerWidth {widths[1]}"


@pytest.mark.parametrize("width", [1366, 360])
def test_selecting_across_the_filter_and_accepting(
    page: Page, live_server, engine, rep, queue, problems, width
):
    page.set_viewport_size({"width": width, "height": 800})
    base = live_server.url
    page.goto(f"{base}/login")
    page.locator("main form [name=email]").fill(rep.email)
    page.locator("main form [name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{base}/leads/")
    page.locator("a[href='/leads/review']").click()

    total = page.locator("#review-total")
    expect(total).to_contain_text("33 sugestões aguardam revisão")
    expect(page.locator("section.suggestion")).to_have_count(25)
    fits_the_width(page)

    page.locator("#review-domain").select_option(SUPPLIER)  # HTMX swaps the queue
    expect(total).to_contain_text("30 sugestões correspondem ao filtro")
    expect(page).to_have_url(re.compile(rf"domain={re.escape(SUPPLIER)}"))
    fits_the_width(page)

    rows, count = page.locator("input.select-row"), page.locator("#selected-count")
    page.locator("#select-page").check()
    expect(count).to_have_text("25 selecionadas")
    assert all(rows.nth(i).is_checked() for i in range(25))
    rows.nth(3).uncheck()
    expect(page.locator("#select-page")).not_to_be_checked()
    expect(count).to_have_text("24 selecionadas")
    page.locator("#select-page").check()

    page.locator("#select-matching").check()  # the five on page 2 as well
    expect(count).to_have_text("30 selecionadas")
    expect(rows.first).to_be_disabled()
    page.get_by_role("button", name="Aceitar selecionadas").click()

    expect(page.locator(".flash")).to_have_text("30 sugestões aceitas.")
    expect(total).to_have_text("Nenhuma sugestão corresponde ao filtro")
    assert states(engine) == {"active": 30, "suggested": 3}
    fits_the_width(page)
    page.locator("a[href='/leads/']").first.click()  # the list's count follows too
    expect(page.locator("a[href='/leads/review'] .badge")).to_have_text("3")
    assert problems == []


def test_dismissing_a_domain_after_a_confirmation(
    page: Page, live_server, engine, rep, queue, problems
):
    page.set_viewport_size({"width": 360, "height": 800})
    base = live_server.url
    page.goto(f"{base}/login")
    page.locator("main form [name=email]").fill(rep.email)
    page.locator("main form [name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{base}/leads/review")

    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.get_by_role("button", name=f"Descartar todas de @{SUPPLIER}").first.click()
    expect(page.locator(".flash")).to_have_text(f"30 sugestões de @{SUPPLIER} descartadas.")
    assert asked and "30 sugestões" in asked[0]
    expect(page.locator("#review-total")).to_contain_text("3 sugestões aguardam revisão")
    assert states(engine) == {"suggested": 3}
    fits_the_width(page)
    assert problems == []

"""The lead page's threads in a real browser: a header folds its conversation again, and an
email body frame is as tall as its email (up to 70% of the window), without a console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.lead_data import ago, lead_data
from tests.support.pages import log_in, watch_console

pytestmark = pytest.mark.browser

OLD_FIXED_HEIGHT = 384  # 24rem: every frame's height before it followed its email
WINDOW = {"width": 1366, "height": 900}


def paragraphs(count: int) -> str:
    """An HTML body of `count` short paragraphs."""
    return "".join(f"<p>Parágrafo {n} da proposta.</p>" for n in range(count))


@pytest.fixture
def lead_page(engine, rep, live_server, page: Page) -> str:  # type: ignore[no-untyped-def]
    """A lead with a short, a medium and a very long email, each in its own thread (newest
    first: short, medium, long); the rep is logged in. Returns the lead page's URL."""
    with lead_data(engine) as data:
        lead = data.lead(name="Bruna Barros", owner=rep)
        for days, body in ((1, "<p>Oi!</p>"), (2, paragraphs(14)), (3, paragraphs(200))):
            data.thread(lead, rep=rep, messages=1, body_html=body, start=ago(days=days))
    page.set_viewport_size(WINDOW)
    log_in(page, live_server.url, rep.email)
    return f"{live_server.url}/leads/{lead.id}"


def open_thread(page: Page, index: int) -> Locator:
    """Expand a thread and wait for its body frame to be sized; return the frame."""
    page.locator(".thread-head").nth(index).click()
    frame = page.locator("article.thread").nth(index).locator("iframe.email-body-frame")
    expect(frame).to_have_class("email-body-frame fitted")
    return frame


def inner_scroll(frame: Locator) -> int:
    """How much taller the email is than the frame shows (> 0: it scrolls inside)."""
    return int(
        frame.evaluate(
            "f => f.contentDocument.documentElement.scrollHeight"
            " - f.contentDocument.documentElement.clientHeight"
        )
    )


def height(frame: Locator) -> float:
    """The frame's height on screen."""
    box = frame.bounding_box()
    assert box is not None
    return box["height"]


def test_a_second_click_folds_the_thread_and_aria_expanded_follows(lead_page: str, page: Page):
    problems = watch_console(page)
    loads: list[str] = []
    page.on(
        "request", lambda request: loads.append(request.url) if "/threads?" in request.url else None
    )
    page.goto(lead_page)
    head = page.locator(".thread-head").first
    message = page.locator("article.thread").first.locator(".message")
    expect(head).to_have_attribute("aria-expanded", "false")

    head.click()
    expect(message).to_be_visible()
    expect(head).to_have_attribute("aria-expanded", "true")

    head.click()
    expect(message).to_be_hidden()
    expect(head).to_have_attribute("aria-expanded", "false")

    head.click()
    expect(message).to_be_visible()
    expect(head).to_have_attribute("aria-expanded", "true")
    assert len(loads) == 1  # loaded once; folding and unfolding ask the server nothing
    assert problems == []


def test_the_body_frame_is_as_tall_as_its_email_up_to_70_percent_of_the_window(
    lead_page: str, page: Page
):
    problems = watch_console(page)
    page.goto(lead_page)
    short, medium, long = (open_thread(page, index) for index in range(3))

    assert height(short) < 150
    assert inner_scroll(short) == 0
    assert OLD_FIXED_HEIGHT < height(medium) < 0.7 * WINDOW["height"]
    assert inner_scroll(medium) == 0  # all of it shows, no scrollbar of its own
    assert height(long) == pytest.approx(0.7 * WINDOW["height"], abs=2)
    assert inner_scroll(long) > 0  # past the cap, the frame scrolls
    assert problems == []

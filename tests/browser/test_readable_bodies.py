"""In Chromium, every piece of text of a sanitized body can be read: light text on a dark band
whose image or gradient was removed still stands out from what is behind it, and the words
of an inline SVG are on screen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask, abort, render_template_string
from flask_login import login_required
from playwright.sync_api import Page, expect

from dashboard.db.engine import write_session
from dashboard.db.flask import get_session
from dashboard.models import Email
from tests.support import factories
from tests.support.pages import log_in

pytestmark = pytest.mark.browser

BANDS = {
    "Band shorthand": '<div style="background:#1a1a1a url(band.png) no-repeat;color:#fff">{}</div>',
    "Band gradient": '<div style="background:linear-gradient(#0b3d91,#001a4d);color:#fff">{}</div>',
    "Band rgb": '<p style="background:rgb(20, 20, 20);color:rgb(255,255,255)">{}</p>',
    "Band image only": '<p style="background-image:url(band.png);color:#ffffff">{}</p>',
    "Band nested": '<table style="background:url(hero.jpg)"><tr><td><h2 style="color:#fafafa">{}'
    "</h2></td></tr></table>",
    "Band bgcolor": '<table bgcolor="#222222"><tr><td style="color:#fff">{}</td></tr></table>',
    "Band font": '<td style="background:url(x.png)"><font color="white">{}</font></td>',
}
# Effective colours as the browser computed them: the text's colour and the first opaque
# background at or above it (the body's own white when there is none).
CONTRAST = """element => {
  const rgb = value => value.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map(c => {
    c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  let node = element, background = [255, 255, 255];
  while (node && node.nodeType === 1) {
    const paint = rgb(getComputedStyle(node).backgroundColor);
    if (paint.length < 4 || paint[3] > 0.5) { background = paint.slice(0, 3); break; }
    node = node.parentElement;
  }
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


FRAME_PAGE = """{% extends "base.html" %}{% block content %}
{% include "emails/_body_frame.html" %}{% endblock %}"""


@pytest.fixture
def app(app: Flask) -> Flask:
    """The test app with a page that frames one body as the lead page does."""

    @login_required
    def frame_page(email_id: int) -> str:
        email = get_session().get(Email, email_id) or abort(404)
        return render_template_string(FRAME_PAGE, email=email, images=False)

    app.add_url_rule("/test-frame/<int:email_id>", view_func=frame_page)
    return app


@pytest.fixture
def rep(engine):  # type: ignore[no-untyped-def]
    """A sales rep of a freshly set-up company."""
    factories.setup_company(engine)
    return factories.make_user(engine, role="rep")


def store_email(engine, user_id: int, html: str) -> int:  # type: ignore[no-untyped-def]
    """An email of the rep's own with this HTML body; its id."""
    n = factories.next_number()
    email = Email(
        message_id=f"<bands.{n}@client.test>", sender="lead@client.test",
        thread_key=f"bands-{n}", subject="Bands", date=datetime.now(UTC), direction="in",
        body_html=html, user_id=user_id,
    )  # fmt: skip
    with write_session(engine) as session:
        session.add(email)
        session.flush()
        return int(email.id)


def test_every_band_and_svg_text_can_be_read(live_server, page: Page, engine, rep) -> None:  # type: ignore[no-untyped-def]
    svg = '<svg width="120" height="30"><text x="0" y="20">Vendas +12%</text></svg>'
    html = "".join(band.format(text) for text, band in BANDS.items()) + svg
    email_id = store_email(engine, rep.id, html)
    log_in(page, live_server.url, rep.email)
    page.goto(f"{live_server.url}/test-frame/{email_id}")
    body = page.frame_locator("iframe.email-body-frame")
    for text in BANDS:
        element = body.get_by_text(text, exact=True)
        expect(element).to_be_visible()
        assert element.evaluate(CONTRAST) >= 3, text
    expect(body.get_by_text("Vendas +12%", exact=True)).to_be_visible()

"""Every page fits a 360 px phone and a 1366 px laptop, with no console error.

The pages come from the app's url_map: each GET route is either a page (opened here, with
the seeded ids it needs, by each role that may open it) or listed in NOT_PAGES with the
reason; a GET route in neither fails the coverage test, naming it. Screenshots of every
visit go to /tmp/phones-shots for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlmodel import select

from dashboard.accounts import audit
from dashboard.db.engine import write_session
from dashboard.models import (
    EmailTemplate,
    Lead,
    Mailbox,
    MailboxEvent,
    Notification,
    OutgoingEmail,
    User,
)
from dashboard.states import LeadState, OutgoingState
from tests.support import factories
from tests.support.lead_data import ago, lead_data
from tests.support.pages import log_in, watch_console

pytestmark = pytest.mark.browser

PHONE, LAPTOP = 360, 1366
SHOTS = Path("/tmp/phones-shots")
SLICE = 1000  # px of page per screenshot
LONG_ADDRESS = (
    "maria.fernanda.albuquerque.de.oliveira@construtoraalfaengenhariaeincorporacoes.com.br"
)
LONG_SUBJECT = (
    "Re: Proposta comercial revisada para o empreendimento Residencial Jardim das Palmeiras "
    "— segunda fase, com cronograma físico-financeiro atualizado"
)
LONG_HTML = "".join(
    f"<p>Parágrafo {n}: segue o detalhamento do orçamento, item por item, com prazos.</p>"
    for n in range(60)
)


@dataclass
class Seed:
    """The ids the pages need."""

    admin: User
    rep: User
    lead_id: int
    email_id: int
    attachment_id: int
    template_id: int
    outgoing_id: int


Url = Callable[[Seed], str]

# endpoint -> (roles that may open it, its URL for the seeded instance)
PAGES: dict[str, tuple[tuple[str, ...], Url]] = {
    "web.index": (("admin", "rep"), lambda s: "/"),
    "leads.index": (("admin", "rep"), lambda s: "/leads/"),
    "leads.show": (("admin", "rep"), lambda s: f"/leads/{s.lead_id}"),
    "leads.edit": (("admin", "rep"), lambda s: f"/leads/{s.lead_id}/edit"),
    "leads.erasure.confirm": (("admin",), lambda s: f"/leads/{s.lead_id}/erase"),
    "accounts.oauth.edit": (("admin",), lambda s: "/settings/company/oauth/microsoft"),
    "leads.new": (("admin", "rep"), lambda s: "/leads/new"),
    "leads.review.queue": (("admin", "rep"), lambda s: "/leads/review"),
    "sending.notifications.index": (("admin", "rep"), lambda s: "/notifications"),
    "sending.compose.compose_email": (("rep",), lambda s: f"/leads/{s.lead_id}/compose"),
    "accounts.settings.index": (("admin", "rep"), lambda s: "/settings/"),
    "accounts.settings.profile": (("admin", "rep"), lambda s: "/settings/profile"),
    "accounts.settings.company": (("admin",), lambda s: "/settings/company"),
    "accounts.users.index": (("admin",), lambda s: "/settings/users/"),
    "accounts.users.edit": (("admin",), lambda s: f"/settings/users/{s.rep.id}"),
    "mailboxes.index": (("admin", "rep"), lambda s: "/settings/mailbox/"),
    "mailboxes.sync.why": (("rep",), lambda s: "/settings/mailbox/sync/why?q=cliente"),
    "mailboxes.disconnect": (("rep",), lambda s: "/settings/mailbox/disconnect"),
    "team.index": (("admin",), lambda s: "/settings/team-mailboxes/"),
    "team.ledger": (("admin",), lambda s: f"/settings/team-mailboxes/{s.rep.id}/ledger"),
    "team.mailboxes.index": (("admin",), lambda s: f"/settings/team-mailboxes/{s.rep.id}/"),
    "team.mailboxes.disconnect": (
        ("admin",),
        lambda s: f"/settings/team-mailboxes/{s.rep.id}/disconnect",
    ),
    "team.mailboxes.sync.why": (
        ("admin",),
        lambda s: f"/settings/team-mailboxes/{s.rep.id}/sync/why?q=cliente",
    ),
    "sending.templates.index": (("admin", "rep"), lambda s: "/settings/templates/"),
    "sending.templates.edit": (("admin",), lambda s: f"/settings/templates/{s.template_id}"),
}
ANONYMOUS_PAGES = {"accounts.login": "/login", "accounts.first_run": "/setup"}

# endpoint -> why it is not a page of its own (with a URL when it answers a fragment)
NOT_PAGES: dict[str, tuple[str, Url | None]] = {
    "static": ("files", None),
    "emails.body": ("the framed email document, measured inside leads.show", None),
    "emails.inline_image": ("an image of an email body", None),
    "emails.attachment": ("a download", None),
    "mailboxes.oauth.callback": (
        "the way back from the provider, only with a consent pending in the session "
        "(walked by tests/browser/test_oauth_connect.py)",
        None,
    ),
    "team.mailboxes.oauth.callback": ("mailboxes.oauth.callback, for a teammate's", None),
    "sending.tracking.click": ("a redirect for a lead's click", None),
    "sending.tracking.open_pixel": ("a GIF", None),
    "mailboxes.sync.estimate": ("redirects without htmx; a fragment with it", None),
    "team.mailboxes.sync.estimate": ("mailboxes.sync.estimate, about a teammate's", None),
    "team.mailboxes.sync.status": ("mailboxes.sync.status, about a teammate's (admins)", None),
    "emails.frame": ("fragment", lambda s: f"/emails/{s.email_id}/frame"),
    "leads.threads": ("fragment", lambda s: f"/leads/{s.lead_id}/threads"),
    "sending.outgoing.status": ("fragment", lambda s: f"/outgoing/{s.outgoing_id}"),
    "sending.notifications.badge": ("fragment", lambda s: "/notifications/badge"),
    "mailboxes.sync.status": ("fragment", lambda s: "/settings/mailbox/sync/status"),
}


def get_endpoints(app: Flask) -> set[str]:
    """Every endpoint answering GET."""
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}


def test_every_get_route_is_a_checked_page_or_says_why_not(app: Flask):
    known = set(PAGES) | set(ANONYMOUS_PAGES) | set(NOT_PAGES)
    uncovered = sorted(get_endpoints(app) - known)
    assert uncovered == [], (
        f"GET routes the layout test does not open: {uncovered}. Add each to PAGES in "
        "tests/browser/test_layout.py (roles and a URL), or to NOT_PAGES with the reason."
    )
    assert sorted(known - get_endpoints(app)) == [], "routes listed here that no longer exist"


def seed(app: Flask, engine) -> Seed:  # type: ignore[no-untyped-def]
    """An instance in use: leads with long addresses and subjects, threads with short and long
    bodies, a connected mailbox, templates, smart emails, notifications, a suggestion, a
    change in the audit log."""
    admin = factories.setup_company(engine)
    rep = factories.make_user(engine, role="rep", name="Fernanda Albuquerque de Oliveira")
    with lead_data(engine) as data:
        lead = data.lead(
            name="Maria Fernanda Albuquerque de Oliveira",
            addresses=[LONG_ADDRESS, "mariafernanda.oliveira.pessoal@gmail.test"],
            company="Construtora Alfa Engenharia e Incorporações Ltda.",
            phone="+55 11 98765-4321",
            owner=rep,
        )
        (email, *_rest) = data.thread(
            lead, rep=rep, messages=3, subject=LONG_SUBJECT, body_html=LONG_HTML,
            start=ago(days=1), cc=["joao.pedro.cavalcanti@construtoraalfaengenharia.com.br"],
        )  # fmt: skip
        data.thread(lead, rep=rep, messages=1, subject="Oi", body_text="Curto.", start=ago(3))
        attachment_id = data.attachment(email, filename="orcamento-residencial-jardim.pdf")
        for n in range(6):
            other = data.lead(name=f"Cliente {n} Souza", company="Padaria Pão Quente", owner=rep)
            data.thread(other, rep=rep, messages=1, start=ago(days=n + 1))
        suggested = data.lead(name="Sugerido Silva", addresses=["sugerido@novo.test"])
        data.thread(suggested, rep=rep, messages=1, subject="Pedido de orçamento")
        data.no_lead_skip(rep, "alguem@cliente.test")
    secret = app.extensions["leadsync.secrets"].encrypt("app-password")
    with write_session(engine) as session:
        session.get(Lead, suggested.id).state = LeadState.SUGGESTED
        mailbox = session.exec(select(Mailbox).where(Mailbox.user_id == rep.id)).one()
        mailbox.secret, mailbox.last_success_at = secret, datetime.now(UTC)
        mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = "127.0.0.1", 465, "tls"
        session.add(MailboxEvent(user_id=rep.id, mailbox_id=mailbox.id, kind="verified"))
        template = EmailTemplate(name="Primeiro contato", subject="Olá", body="Olá {{ nome }}")
        session.add(template)
        session.add(EmailTemplate(user_id=rep.id, name="Meu modelo", body="Oi"))
        outgoing = []
        for state in (OutgoingState.SENT, OutgoingState.FAILED):
            item = OutgoingEmail(
                user_id=rep.id, lead_id=lead.id, message_id=f"<o{factories.next_number()}@t>",
                to_addrs=[LONG_ADDRESS], subject=LONG_SUBJECT, body="Olá", state=state,
                error_code="auth" if state == OutgoingState.FAILED else None,
            )  # fmt: skip
            session.add(item)
            outgoing.append(item)
        session.flush()
        audit.record(session, admin, "company.update", {"never_log": [[], [LONG_ADDRESS]]})
        for kind in ("open", "click", "reply"):
            session.add(Notification(user_id=rep.id, kind=kind, lead_id=lead.id))
        return Seed(
            admin=admin, rep=rep, lead_id=lead.id, email_id=email.id,
            attachment_id=attachment_id, template_id=template.id, outgoing_id=outgoing[0].id,
        )  # fmt: skip


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def open_threads(page: Page) -> None:
    """On a lead page, expand the first thread and wait until its body frames are sized."""
    page.locator(".thread-head").first.click()
    expect(page.locator(".thread-body .message").first).to_be_visible()
    frames = page.locator(".thread-body iframe.email-body-frame")
    for index in range(frames.count()):
        frames.nth(index).scroll_into_view_if_needed()  # lazy frames load near the screen
        expect(frames.nth(index)).to_have_class(re.compile(r"\bfitted\b"))
    page.evaluate("window.scrollTo(0, 0)")


def save_screenshots(page: Page, name: str) -> None:
    """The whole page, in slices a person can read (a phone page is a long strip)."""
    size = page.viewport_size or {"width": 0, "height": 0}
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    for number, top in enumerate(range(0, height, SLICE)):
        clip = {"x": 0, "y": top, "width": size["width"], "height": min(SLICE, height - top)}
        page.screenshot(path=str(SHOTS / f"{name}-{number}.png"), full_page=True, clip=clip)


def visit(page: Page, base: str, path: str, shot: str, problems: list[str]) -> list[str]:
    """Open a page, look at it, and say what is wrong with it at this width."""
    before = len(problems)
    response = page.goto(f"{base}{path}")
    page.wait_for_load_state("networkidle")
    found = []
    if response is None or response.status != 200:
        found.append(f"{path}: status {response.status if response else None}")
    if shot.endswith("leads.show"):
        open_threads(page)
    width = page.viewport_size["width"] if page.viewport_size else 0
    save_screenshots(page, f"{width}-{shot}")
    if (extra := overflow(page)) > 0:
        found.append(f"{path} at {width} px: {extra} px of horizontal scroll")
    found += [f"{path} at {width} px: {text}" for text in problems[before:]]
    return found


def test_every_page_fits_a_phone_and_a_laptop(app: Flask, engine, live_server, page: Page):  # type: ignore[no-untyped-def]
    SHOTS.mkdir(exist_ok=True)
    base, problems, failures = live_server.url, watch_console(page), []
    for width in (PHONE, LAPTOP):  # before setup: the first-run page
        page.set_viewport_size({"width": width, "height": 800})
        failures += visit(page, base, "/setup", "anonymous-accounts.first_run", problems)
    seeded = seed(app, engine)
    for width in (PHONE, LAPTOP):
        page.set_viewport_size({"width": width, "height": 800})
        failures += visit(page, base, "/login", "anonymous-accounts.login", problems)
    for role, user in (("admin", seeded.admin), ("rep", seeded.rep)):
        page.context.clear_cookies()
        log_in(page, base, user.email)
        for width in (PHONE, LAPTOP):
            page.set_viewport_size({"width": width, "height": 800})
            for endpoint, (roles, url) in PAGES.items():
                if role in roles:
                    failures += visit(page, base, url(seeded), f"{role}-{endpoint}", problems)
    assert failures == [], "\n".join(failures)


SMALL_TARGETS = """() => [...document.querySelectorAll(
    "main a, main button, main select, main input:not([type=hidden]), main textarea, main summary")]
  .filter((el) => el.getClientRects().length && !["checkbox", "radio"].includes(el.type))
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([el, box]) => box.height < 40 || box.width < 40)
  .map(([el, box]) => `${el.tagName.toLowerCase()} "${(el.textContent || el.name).trim()}"`
    + ` ${Math.round(box.width)}x${Math.round(box.height)}`)"""


def test_the_lead_page_and_compose_are_made_for_a_thumb(
    app: Flask, engine, live_server, page: Page
):  # type: ignore[no-untyped-def]
    """At phone width every control of the lead page (a thread open, its emails shown) and of
    the compose form is at least 40 x 40 px."""
    seeded = seed(app, engine)
    page.set_viewport_size({"width": PHONE, "height": 800})
    log_in(page, live_server.url, seeded.rep.email)
    page.goto(f"{live_server.url}/leads/{seeded.lead_id}")
    open_threads(page)
    assert page.evaluate(SMALL_TARGETS) == []
    page.locator(".lead-header button.primary").click()  # "Enviar e-mail": compose in the page
    expect(page.locator("#compose-form")).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == []
    page.goto(f"{live_server.url}/leads/{seeded.lead_id}/compose")
    assert page.evaluate(SMALL_TARGETS) == []


def test_fragments_stay_fragments(app: Flask, engine, live_server, page: Page):  # type: ignore[no-untyped-def]
    """A route listed as a fragment that starts answering a whole page must be opened above."""
    seeded = seed(app, engine)
    log_in(page, live_server.url, seeded.rep.email)
    for endpoint, (_reason, url) in NOT_PAGES.items():
        if url is None:
            continue
        response = page.request.get(f"{live_server.url}{url(seeded)}")
        assert response.status == 200, (endpoint, response.status)
        assert "<html" not in response.text(), f"{endpoint} is a page now: move it to PAGES"

"""Hostile email bodies in a real Chromium: no script runs, nothing leaves the app.

Each sample of tests/data/hostile/ is stored as an email and shown the way the lead page
will show it: the `_body_frame.html` partial inside base.html (htmx loaded). Three layers
are checked together: the sanitizer, the iframe sandbox and the body document's CSP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask, abort, render_template_string
from flask_login import login_required
from playwright.sync_api import ConsoleMessage, Dialog, Page, Request, expect

from dashboard.db.engine import write_session
from dashboard.db.flask import get_session
from dashboard.emails.views import body_policy
from dashboard.models import Email, PrivateThread
from tests.support import factories

pytestmark = pytest.mark.browser

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
SAMPLES = sorted(HOSTILE.glob("*.html"))
OUTSIDE = "http://127.0.0.1:9"  # what the samples call "another site"
FRAME_PAGE = """{% extends "base.html" %}{% block content %}
<h1>{{ email.subject }}</h1>{% include "emails/_body_frame.html" %}{% endblock %}"""
RAW_PAGE = """{% extends "base.html" %}{% block content %}
<iframe sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
  class="email-body-frame" src="{{ url_for('raw_body', email_id=email.id) }}"></iframe>
{% endblock %}"""
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@dataclass
class Outside:
    """A site outside the app on 127.0.0.1 that counts every request it gets."""

    origin: str
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def paths(self) -> list[str]:
        """The paths requested so far."""
        return [path for path, _ in self.hits]


@pytest.fixture
def outside() -> Iterator[Outside]:
    """Serve a 1x1 GIF for every path and remember who asked."""
    record: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            record.append((self.path, dict(self.headers)))
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.send_header("Content-Length", str(len(GIF)))
            self.end_headers()
            self.wfile.write(GIF)

        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Outside(origin=f"http://127.0.0.1:{server.server_address[1]}", hits=record)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def add_test_pages(app: Flask) -> None:
    """The lead page's way of showing a body, and (for the layer test) the raw sample."""

    @login_required
    def frame_page(email_id: int) -> str:
        email = get_session().get(Email, email_id) or abort(404)
        return render_template_string(FRAME_PAGE, email=email, images=False)

    @login_required
    def raw_page(email_id: int) -> str:
        email = get_session().get(Email, email_id) or abort(404)
        return render_template_string(RAW_PAGE, email=email)

    @login_required
    def raw_body(email_id: int):  # type: ignore[no-untyped-def]
        email = get_session().get(Email, email_id) or abort(404)
        policy = body_policy(False, framed=True)  # as the lead page frames a body
        headers = {"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}
        return email.body_html, 200, headers

    app.add_url_rule("/test-frame/<int:email_id>", view_func=frame_page)
    app.add_url_rule("/test-raw/<int:email_id>", view_func=raw_page)
    app.add_url_rule("/test-raw/<int:email_id>/body", view_func=raw_body)


@pytest.fixture
def app(app: Flask) -> Flask:
    """The test app with the test pages, added before its first request."""
    add_test_pages(app)
    return app


@dataclass
class Watch:
    """Everything the page does that a hostile body must not cause."""

    base: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def on_dialog(self, dialog: Dialog) -> None:
        """Record and dismiss alert/confirm/prompt."""
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(self, request: Request) -> None:
        """Record every URL the page or its frames asked for."""
        self.requests.append(request.url)

    def on_request_failed(self, request: Request) -> None:
        """Record why a request did not complete (a CSP block, for one)."""
        self.failed[request.url] = request.failure or ""

    def on_console(self, message: ConsoleMessage) -> None:
        """Record console text with the URL of the document that logged it."""
        self.console.append((message.text, message.location.get("url", "")))

    def reset(self) -> None:
        """Start a new sample."""
        self.dialogs.clear()
        self.requests.clear()
        self.console.clear()
        self.failed.clear()

    def outside_requests(self) -> list[str]:
        """Requests to any host but the app's."""
        host = urlsplit(self.base).netloc
        return [url for url in self.requests if urlsplit(url).netloc != host]

    def page_csp_violations(self, page_path: str) -> list[str]:
        """CSP reports of the embedding page (the iframe's own CSP blocking is expected)."""
        return [
            text
            for text, url in self.console
            if "Content Security Policy" in text and urlsplit(url).path == page_path
        ]

    def blocked_scripts(self) -> list[str]:
        """Chromium's note that the sandbox stopped a script: the sanitizer let one through."""
        return [text for text, _ in self.console if "Blocked script execution" in text]


@pytest.fixture
def watch(live_server, page: Page) -> Watch:  # type: ignore[no-untyped-def]
    """Listen to dialogs, requests and console messages of the page and all its frames."""
    watched = Watch(base=live_server.url)
    page.on("dialog", watched.on_dialog)
    page.on("request", watched.on_request)
    page.on("console", watched.on_console)
    page.on("requestfailed", watched.on_request_failed)
    return watched


@pytest.fixture
def rep(engine):  # type: ignore[no-untyped-def]
    """A sales rep of a freshly set-up company."""
    factories.setup_company(engine)
    return factories.make_user(engine, role="rep")


def store_email(engine, *, user_id: int, name: str, html: str) -> int:  # type: ignore[no-untyped-def]
    """Insert an email in the rep's mailbox with this HTML body; return its id."""
    n = factories.next_number()
    email = Email(
        message_id=f"<{name}.{n}@hostile.test>",
        sender="attacker@hostile.test",
        thread_key=f"{name}-{n}",
        subject=name,
        date=datetime.now(UTC),
        direction="in",
        body_html=html,
        user_id=user_id,
    )
    with write_session(engine) as session:
        session.add(email)
        session.flush()
        return int(email.id)


def store_samples(engine, rep, outside: Outside) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Every hostile sample as an email whose "other site" is the counting server."""
    return {
        path.stem: store_email(
            engine,
            user_id=rep.id,
            name=path.stem,
            html=path.read_text().replace(OUTSIDE, outside.origin),
        )
        for path in SAMPLES
    }


def log_in(page: Page, base: str, email: str) -> None:
    """Use the real login page."""
    page.goto(f"{base}/login")
    form = page.locator("main form")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(factories.PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{base}/")


def show(page: Page, url: str) -> None:
    """Open a page and wait until its body frame has loaded and the network is quiet."""
    page.goto(url)
    expect(page.frame_locator("iframe.email-body-frame").locator("html")).to_be_attached()
    page.wait_for_load_state("networkidle")


def nothing_pwned(page: Page) -> bool:
    """No frame of the app, the page included, got the marker the samples try to set."""
    base = page.url.split("/", 3)[:3]
    for frame in page.frames:
        if frame.url.split("/", 3)[:3] != base:
            continue  # a frame a raw sample tried to open never got a document to ask
        try:
            if frame.evaluate("() => window.__pwned"):
                return False
        except Exception:  # noqa: BLE001, S112 - an opaque sandboxed frame may refuse; skip it
            continue
    return True


def report(failures: dict[str, list[str]]) -> str:
    """One line per problem, named by sample."""
    return "\n".join(f"{name}: {problem}" for name, found in failures.items() for problem in found)


def problems_of(page: Page, watch: Watch, outside: Outside, page_path: str) -> list[str]:
    """What went wrong while one sample was on screen."""
    found = [f"dialog: {text}" for text in watch.dialogs]
    found += [f"outside request: {url}" for url in watch.outside_requests()]
    found += [f"outside hit: {path}" for path in outside.paths()]
    found += [f"page CSP: {text}" for text in watch.page_csp_violations(page_path)]
    if not nothing_pwned(page):
        found.append("window.__pwned was set")
    return found


def app_paths(watch: Watch, email_id: int) -> set[str]:
    """The app paths a page asked for, with this email's id generalized."""
    own = [url for url in watch.requests if url not in watch.outside_requests()]
    return {urlsplit(url).path.replace(f"/{email_id}", "/<id>") for url in own}


def baseline_paths(page: Page, base: str, engine, rep, watch: Watch) -> set[str]:  # type: ignore[no-untyped-def]
    """What the page itself requests (styles, scripts, its own htmx loads) for a plain body."""
    email_id = store_email(engine, user_id=rep.id, name="plain", html="<p>Olá</p>")
    watch.reset()
    show(page, f"{base}/test-frame/{email_id}")
    return app_paths(watch, email_id)


def test_hostile_bodies_run_no_script_and_request_nothing_outside(
    live_server, page: Page, rep, engine, outside: Outside, watch: Watch
):
    assert len(SAMPLES) >= 30
    ids = store_samples(engine, rep, outside)
    log_in(page, live_server.url, rep.email)
    expected_paths = baseline_paths(page, live_server.url, engine, rep, watch)
    assert "/emails/<id>/body" in expected_paths
    failures: dict[str, list[str]] = {}
    for name, email_id in ids.items():
        watch.reset()
        show(page, f"{live_server.url}/test-frame/{email_id}")
        problems = problems_of(page, watch, outside, f"/test-frame/{email_id}")
        problems += [f"sandbox stopped a script: {text}" for text in watch.blocked_scripts()]
        extra = app_paths(watch, email_id) - expected_paths
        problems += [f"unexpected app request: {path}" for path in sorted(extra)]
        if problems:
            failures[name] = problems
    assert failures == {}, report(failures)


def test_sandbox_and_csp_alone_stop_the_raw_samples(
    live_server, page: Page, rep, engine, outside: Outside, watch: Watch
):
    """Defence in depth: even unsanitized, a sample in the sandboxed, CSP-bound frame is inert,
    though the frame is same-origin (so the page can measure it): it never gets allow-scripts.

    Chromium announces requests it then refuses (CSP, cross-origin <use>, file: from http:):
    each must have failed, and the counting server must have seen none.
    """
    ids = store_samples(engine, rep, outside)
    log_in(page, live_server.url, rep.email)
    failures: dict[str, list[str]] = {}
    for name, email_id in ids.items():
        watch.reset()
        show(page, f"{live_server.url}/test-raw/{email_id}")
        problems = [
            problem
            for problem in problems_of(page, watch, outside, f"/test-raw/{email_id}")
            if not problem.startswith("outside request")
        ]
        problems += [
            f"outside request completed: {url}"
            for url in watch.outside_requests()
            if url not in watch.failed
        ]
        if problems:
            failures[name] = problems
    assert failures == {}, report(failures)


def test_show_images_loads_the_tracking_pixel_only_after_the_click(
    live_server, page: Page, rep, engine, outside: Outside, watch: Watch
):
    html = (HOSTILE / "tracking_pixel.html").read_text().replace(OUTSIDE, outside.origin)
    email_id = store_email(engine, user_id=rep.id, name="pixel", html=html)
    log_in(page, live_server.url, rep.email)
    show(page, f"{live_server.url}/test-frame/{email_id}")
    frame = page.frame_locator("iframe.email-body-frame")
    expect(frame.locator("p")).to_have_text("Olá! Confira nossa oferta.")
    assert outside.hits == [] and watch.outside_requests() == []

    with page.expect_response(f"{outside.origin}/pixel.gif"):
        page.locator(".email-images-blocked button").click()
    expect(page.locator("iframe.email-body-frame")).to_have_attribute(
        "src", f"/emails/{email_id}/body?images=1"
    )
    expect(page.locator(".email-images-blocked")).to_have_count(0)
    expect(frame.locator("img")).to_have_attribute("src", f"{outside.origin}/pixel.gif")
    assert outside.paths() == ["/pixel.gif"]
    assert "Referer" not in outside.hits[0][1]
    assert watch.outside_requests() == [f"{outside.origin}/pixel.gif"]
    assert watch.dialogs == [] and nothing_pwned(page)


def test_body_opened_directly_in_a_tab_stays_sandboxed(
    live_server, page: Page, rep, engine, outside: Outside, watch: Watch
):
    html = "<p>ok</p>" + (HOSTILE / "script_plain.html").read_text()
    email_id = store_email(engine, user_id=rep.id, name="direct", html=html)
    log_in(page, live_server.url, rep.email)
    response = page.goto(f"{live_server.url}/emails/{email_id}/body")
    assert response is not None and response.status == 200
    headers = response.headers
    assert headers["content-security-policy"] == body_policy(False)
    assert (
        "sandbox allow-popups allow-popups-to-escape-sandbox" in headers["content-security-policy"]
    )
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "private, no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert page.evaluate("() => window.origin") == "null"  # an opaque, sandboxed origin
    assert watch.dialogs == [] and nothing_pwned(page)


def test_private_thread_body_is_refused_to_a_teammate(
    live_server, page: Page, rep, engine, outside: Outside
):
    teammate = factories.make_user(engine, role="rep")
    email_id = store_email(engine, user_id=rep.id, name="private", html="<p>segredo</p>")
    with write_session(engine) as session:
        thread_key = session.get(Email, email_id).thread_key
        session.add(PrivateThread(thread_key=thread_key, user_id=rep.id))
    log_in(page, live_server.url, rep.email)
    assert page.request.get(f"{live_server.url}/emails/{email_id}/body").status == 200
    page.context.clear_cookies()
    log_in(page, live_server.url, teammate.email)
    assert page.request.get(f"{live_server.url}/emails/{email_id}/body").status == 403
    assert page.request.get(f"{live_server.url}/emails/{email_id}/frame").status == 403
    assert page.request.get(f"{live_server.url}/emails/999999/body").status == 404


def test_a_link_opens_a_new_unsandboxed_tab_without_opener_or_referrer(
    live_server, page: Page, rep, engine, outside: Outside, watch: Watch
):
    html = f'<p><a href="{outside.origin}/landing">Ver proposta</a></p>'
    email_id = store_email(engine, user_id=rep.id, name="link", html=html)
    log_in(page, live_server.url, rep.email)
    show(page, f"{live_server.url}/test-frame/{email_id}")
    with page.expect_popup() as popup_info:
        page.frame_locator("iframe.email-body-frame").locator("a").click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == f"{outside.origin}/landing"
    assert popup.evaluate("() => [window.opener, window.origin]") == [None, outside.origin]
    assert outside.paths()[0] == "/landing" and "Referer" not in outside.hits[0][1]
    assert set(outside.paths()) <= {"/landing", "/favicon.ico"}  # the new tab's own icon
    assert page.url == f"{live_server.url}/test-frame/{email_id}"  # the app page stayed put

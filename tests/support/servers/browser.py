"""A real browser (Debian's Chromium through Playwright) against the app served by waitress."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from waitress import create_server

CHROMIUM = "/usr/bin/chromium"
# Without these flags Chromium keeps phoning home, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class LiveServer:
    """The app served by waitress in a thread, as `make run` serves it."""

    app: Flask
    url: str


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Make pytest-playwright launch Debian's Chromium instead of a downloaded build."""
    if not shutil.which(CHROMIUM):
        pytest.fail("Browser tests need Debian's chromium: apt-get install -y chromium")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    """Portuguese (Brazil) browser by default, like our users."""
    return {**browser_context_args, "locale": "pt-BR"}


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """Serve the test's app on a free loopback port for the duration of the test."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield LiveServer(app=app, url=f"http://127.0.0.1:{server.effective_port}")
    server.close()
    thread.join(timeout=5)

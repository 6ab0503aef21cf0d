"""The request gate: at most N requests run at once, first come first served; static files
and views waiting on the network do not hold a turn."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from dashboard.web.request_gate import FairTurns, RequestGate, turn_released


def test_turns_are_handed_over_in_arrival_order() -> None:
    turns, order = FairTurns(1), []
    turns.acquire()
    waiters = []
    for number in range(5):
        waiter = threading.Thread(target=lambda n=number: (turns.acquire(), order.append(n)))
        waiter.start()
        waiters.append(waiter)
        time.sleep(0.05)  # each one queues behind the previous
    for _ in range(5):
        turns.release()
        time.sleep(0.02)
    for waiter in waiters:
        waiter.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_a_released_turn_cannot_be_taken_by_a_newcomer() -> None:
    turns, got = FairTurns(1), []
    turns.acquire()
    first = threading.Thread(target=lambda: (turns.acquire(), got.append("waiter")))
    first.start()
    time.sleep(0.05)
    turns.release()  # goes straight to the waiter
    first.join(5)
    newcomer = threading.Thread(target=lambda: (turns.acquire(), got.append("newcomer")))
    newcomer.start()
    newcomer.join(0.2)
    assert got == ["waiter"] and newcomer.is_alive()
    turns.release()
    newcomer.join(5)
    assert got == ["waiter", "newcomer"]


def run_requests(app, paths: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Call the WSGI app once per path, all at the same time."""

    def call(path: str) -> None:
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
        list(app(environ, lambda *_: None))

    threads = [threading.Thread(target=call, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def test_at_most_n_requests_run_at_once_static_files_skip_the_queue() -> None:
    lock, running, peak = threading.Lock(), {"page": 0, "static": 0}, {"page": 0, "static": 0}

    def slow_app(environ, start_response):  # type: ignore[no-untyped-def]
        kind = "static" if environ["PATH_INFO"].startswith("/static/") else "page"
        with lock:
            running[kind] += 1
            peak[kind] = max(peak[kind], running[kind])
        time.sleep(0.05)
        with lock:
            running[kind] -= 1
        start_response("200 OK", [])
        return [b"ok"]

    gate = RequestGate(slow_app, 2, "/static")
    run_requests(gate, ["/leads/"] * 8 + ["/static/app.css"] * 4)
    assert peak["page"] == 2
    assert peak["static"] == 4  # never queued behind pages
    assert gate.turns._free == 2  # every turn came back


def test_an_error_gives_the_turn_back() -> None:
    def broken_app(environ, start_response):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    gate = RequestGate(broken_app, 1, "/static")
    for _ in range(3):
        with pytest.raises(RuntimeError):
            gate({"PATH_INFO": "/x"}, lambda *_: None)
    assert gate.turns._free == 1


def test_a_view_waiting_on_the_network_lets_other_requests_run() -> None:
    app = Flask(__name__)
    imap_answered, other_ran = threading.Event(), threading.Event()

    @app.get("/download")
    def download() -> str:
        with turn_released():  # like an attachment fetched from the IMAP server
            assert imap_answered.wait(5)
        return "file"

    @app.get("/leads")
    def leads() -> str:
        other_ran.set()
        return "list"

    app.wsgi_app = RequestGate(app.wsgi_app, 1, "/static")  # type: ignore[method-assign]
    client = app.test_client()
    downloading = threading.Thread(target=lambda: client.get("/download"))
    downloading.start()
    time.sleep(0.1)
    assert client.get("/leads").data == b"list"  # did not wait for the download
    imap_answered.set()
    downloading.join(5)
    assert other_ran.is_set()
    assert app.wsgi_app.turns._free == 1  # type: ignore[attr-defined]


def test_the_app_installs_the_gate_with_the_configured_turns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dashboard import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path / "a"), "WEB_TURNS": 3})
    gate = app.wsgi_app
    while not isinstance(gate, RequestGate):
        gate = gate.wsgi_app
    assert gate.turns._free == 3
    off = create_app({"INSTANCE_PATH": str(tmp_path / "b"), "WEB_TURNS": 0})
    layer, layers = off.wsgi_app, []
    while hasattr(layer, "wsgi_app"):
        layers.append(layer)
        layer = layer.wsgi_app
    assert not any(isinstance(item, RequestGate) for item in layers)

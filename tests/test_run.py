"""run.py: the dashboard with its sync (a supervised child process), stopped cleanly by SIGTERM;
the web and sync roles on their own."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A run.py process, its port, instance folder and log file."""

    process: subprocess.Popen
    port: int
    instance: Path
    log: Path

    def output(self) -> str:
        """Everything the process logged so far."""
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> http.client.HTTPResponse:
        """GET a path without following redirects."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    def wait_until_serving(self, timeout: float = 30) -> http.client.HTTPResponse:
        """Poll / until the server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"run.py exited with {self.process.returncode}:\n{self.output()}")
            try:
                return self.get("/")
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"run.py did not answer within {timeout} s:\n{self.output()}")

    def wait_for(self, text: str, timeout: float = 30, count: int = 1) -> None:
        """Wait until the log holds `text` (at least `count` times)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.output().count(text) < count:
            time.sleep(0.1)
        assert self.output().count(text) >= count, f"no {text!r} in:\n{self.output()}"

    def stop(self, timeout: float = 10) -> int:
        """Send SIGTERM and return the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """Start run.py with a temporary instance; killed at the end if still running."""
    started: list[Server] = []

    def start(args: list[str], port: int, extra_env: dict[str, str] | None = None) -> Server:
        instance = tmp_path / "instance"
        log = tmp_path / f"run{len(started) or ''}.log"  # several servers may share an instance
        env = {**os.environ, "LEADSYNC_INSTANCE": str(instance), **(extra_env or {})}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(process, port, instance, log)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)


def test_run_serves_the_dashboard_and_stops_cleanly_on_sigterm(start_server):
    port = free_port()
    server = start_server(["--port", str(port)], port)
    response = server.wait_until_serving()
    assert response.status == 302
    assert response.getheader("Location").endswith("/setup")
    assert server.get("/setup").status == 200
    server.wait_for("Scheduler started")
    assert server.output().count("Scheduler started") == 1  # in the sync child, once
    assert "INFO [sync] apscheduler.scheduler: Scheduler started" in server.output()

    assert stat.S_IMODE(server.instance.stat().st_mode) == 0o700
    for name in ("secret_key", "fernet.key", "leadsync.db"):
        assert stat.S_IMODE((server.instance / name).stat().st_mode) == 0o600, name

    assert server.stop() == 0
    assert "scheduler stopped" in server.output()


def test_run_honours_leadsync_port(start_server):
    port = free_port()
    server = start_server([], port, {"LEADSYNC_PORT": str(port)})
    assert server.wait_until_serving().status == 302
    assert f":{port}" in server.output()
    assert server.stop() == 0


def test_the_scheduler_in_run_py_syncs_a_connected_mailbox_on_its_own(
    start_server, tmp_path, dovecot_server, mailbox_user
):  # type: ignore[no-untyped-def]
    """No button, no CLI: the scheduler started by run.py syncs at start-up."""
    from email.message import EmailMessage

    from dashboard import create_app
    from tests.support import factories
    from tests.support.mailboxes import connect_form

    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance), "IMAP_CA_FILE": dovecot_server.ca_file})
    factories.setup_company(app.extensions["leadsync.engine"])
    factories.make_user(app.extensions["leadsync.engine"], email=mailbox_user.address)
    form = connect_form(mailbox_user)
    cli = app.test_cli_runner().invoke(
        args=[
            "accounts",
            "add",
            "--owner",
            mailbox_user.address,
            "--provider",
            "other",
            "--address",
            mailbox_user.address,
            "--host",
            form["imap_host"],
            "--port",
            str(form["imap_port"]),
            "--security",
            "tls",
            "--password-stdin",
        ],
        input=mailbox_user.password + "\n",
    )
    assert cli.exit_code == 0, cli.output
    app.extensions["leadsync.engine"].dispose()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        mailbox_user.address,
        "prospect@client.test",
        "Proposta",
    )
    message["Message-ID"] = "<run-py-test@acme.test>"
    message.set_content("Olá")
    mailbox_user.append("[Gmail]/E-mails enviados", message.as_bytes())

    port = free_port()
    server = start_server(
        ["--port", str(port)], port, {"LEADSYNC_IMAP_CA_FILE": dovecot_server.ca_file}
    )
    server.wait_until_serving()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "synced " + mailbox_user.address not in server.output():
        time.sleep(0.2)
    assert server.stop() == 0
    assert f"synced {mailbox_user.address}: " in server.output(), server.output()
    assert "'stored': 1" in server.output()


def cookies_over_a_tls_proxy(server: Server) -> list[str]:
    """The Set-Cookie headers of a page asked for as a TLS-ending proxy forwards it."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/setup", headers={"X-Forwarded-Proto": "https"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return [value for name, value in response.getheaders() if name.lower() == "set-cookie"]


@pytest.mark.parametrize(("trusted", "secure"), [("1", True), ("0", False)])
def test_run_passes_the_trusted_proxies_headers_on_and_no_others(start_server, trusted, secure):
    """waitress drops X-Forwarded-* by default; with trusted proxies they reach ProxyFix."""
    port = free_port()
    server = start_server(["--port", str(port)], port, {"LEADSYNC_TRUSTED_PROXIES": trusted})
    server.wait_until_serving()
    cookies = cookies_over_a_tls_proxy(server)
    assert cookies
    assert all(("Secure" in cookie) is secure for cookie in cookies)
    assert server.stop() == 0

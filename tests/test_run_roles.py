"""run.py --role web|sync|all: real processes, a real Dovecot, the instance shared on disk.

`web` serves and never syncs; `sync` syncs and listens on no port; `all` runs the sync in a
supervised child: "Sincronizar agora" reaches it through the database, SIGTERM stops both,
a killed child is restarted, a killed parent takes its child with it. Two `web` processes on
one instance share sessions and CSRF tokens (what a reverse proxy in front of them needs).
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from dashboard.models import SyncRun
from tests.support import factories
from tests.support.sync import bulk_messages, connect, fresh_app, make_lead, multiappend
from tests.test_run import Server, free_port
from tests.test_run import start_server as run_py

start_server = run_py  # the fixture that starts run.py and kills what is left at the end

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def connected(tmp_path, migrated_db, dovecot_server, mailbox_user):  # type: ignore[no-untyped-def]
    """An instance with the company set up and `mailbox_user`'s mailbox connected, holding
    a few messages from a lead; the app that prepared it lets go of the database."""
    app = fresh_app(tmp_path, migrated_db, dovecot_server.ca_file)
    engine = app.extensions["leadsync.engine"]
    factories.setup_company(engine)
    mailbox_id = connect(app, mailbox_user)
    make_lead(engine, "Cliente", "cliente@client.test")
    multiappend(
        mailbox_user, "INBOX", bulk_messages(mailbox_user.address, "cliente@client.test", 4, "a")
    )
    engine.dispose()
    return app, mailbox_id


def env_for(dovecot_server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Trust the test CA; IDLE off, so only the round and "Sincronizar agora" sync and the
    counts below are theirs (tests/sync/test_idle_run.py runs run.py with IDLE on)."""
    return {"LEADSYNC_IMAP_CA_FILE": dovecot_server.ca_file, "LEADSYNC_IDLE": "false"}


def sync_runs(app) -> int:  # type: ignore[no-untyped-def]
    """How many sync runs the shared database records."""
    engine = app.extensions["leadsync.engine"]
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(SyncRun))
    engine.dispose()
    return int(count or 0)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on (its socket inodes matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def child_pids(server: Server) -> list[int]:
    """The sync children `all` started, in order, from its log."""
    return [int(p) for p in re.findall(r"sync process started \(pid (\d+)\)", server.output())]


def logged_in(port: int, email: str) -> requests.Session:
    """A browser-like session logged in through the real form of the server on `port`."""
    web = requests.Session()
    page = web.get(f"http://127.0.0.1:{port}/login", timeout=10)
    token = CSRF_INPUT.search(page.text).group(1)
    answer = web.post(
        f"http://127.0.0.1:{port}/login",
        data={"email": email, "password": factories.PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:2000]
    return web


def test_role_web_serves_pages_and_never_syncs(start_server, connected, dovecot_server):  # type: ignore[no-untyped-def]
    app, _ = connected
    port = free_port()
    server = start_server(["--role", "web", "--port", str(port)], port, env_for(dovecot_server))
    assert server.wait_until_serving().status == 302
    time.sleep(4)  # `all` would have synced by now (see the test below)
    assert server.get("/login").status == 200
    assert server.stop() == 0
    assert "Scheduler started" not in server.output()
    assert "synced " not in server.output()
    assert sync_runs(app) == 0


def test_role_sync_syncs_and_listens_on_no_port(
    start_server, connected, dovecot_server, mailbox_user
):  # type: ignore[no-untyped-def]
    app, _ = connected
    port = free_port()
    server = start_server(["--role", "sync", "--port", str(port)], port, env_for(dovecot_server))
    server.wait_for(f"synced {mailbox_user.address}: ")
    assert listening_ports(server.process.pid) == set()
    with pytest.raises(OSError):
        server.get("/")
    assert server.stop() == 0
    assert "'stored': 2" in server.output()
    assert "scheduler stopped" in server.output()
    assert sync_runs(app) == 1


def test_all_syncs_in_a_child_and_sync_now_on_a_page_reaches_it(
    start_server, connected, dovecot_server, mailbox_user
):  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server(["--port", str(port)], port, env_for(dovecot_server))
    server.wait_until_serving()
    server.wait_for(f"synced {mailbox_user.address}: ")  # the first round, at start
    [child] = child_pids(server)
    assert listening_ports(child) == set()  # the child syncs; the parent serves
    assert port in listening_ports(server.process.pid)
    assert f"INFO [sync] dashboard.sync.scheduler: synced {mailbox_user.address}" in server.output()

    multiappend(
        mailbox_user, "INBOX", bulk_messages(mailbox_user.address, "cliente@client.test", 2, "b")
    )
    web = logged_in(port, mailbox_user.address)
    page = web.get(f"http://127.0.0.1:{port}/settings/mailbox/", timeout=10)
    token = CSRF_INPUT.search(page.text).group(1)
    pressed = time.monotonic()
    answer = web.post(
        f"http://127.0.0.1:{port}/settings/mailbox/sync/now",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    server.wait_for(f"synced {mailbox_user.address}: ", timeout=10, count=2)
    assert time.monotonic() - pressed < 5  # the interval is 5 minutes: the press did it
    assert "'stored': 1" in server.output().rsplit(f"synced {mailbox_user.address}", 1)[1]
    assert server.stop() == 0


def test_sigterm_stops_the_web_and_its_sync_child_within_seconds_even_mid_import(  # type: ignore[no-untyped-def]
    start_server, connected, dovecot_server, mailbox_user
):
    multiappend(
        mailbox_user,
        "INBOX",
        bulk_messages(mailbox_user.address, "cliente@client.test", 6000, "big"),
    )
    port = free_port()
    server = start_server(["--port", str(port)], port, env_for(dovecot_server))
    server.wait_until_serving()
    server.wait_for("sync process started")
    [child] = child_pids(server)
    server.wait_for('Running job "sync_round')  # the import is under way
    time.sleep(1.5)
    stopping = time.monotonic()
    assert server.stop(timeout=15) == 0
    assert time.monotonic() - stopping < 8
    assert not alive(child)
    assert "scheduler stopped" in server.output()
    assert "did not stop" not in server.output()  # it ended its batch, it was not killed
    assert f"sync of {mailbox_user.address} stopped: LeadSync is stopping" in server.output()


def test_a_killed_sync_child_is_restarted(start_server, connected, dovecot_server):  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server(["--port", str(port)], port, env_for(dovecot_server))
    server.wait_until_serving()
    server.wait_for("Scheduler started")
    [first] = child_pids(server)
    os.kill(first, signal.SIGKILL)
    server.wait_for("sync process started", timeout=15, count=2)
    second = child_pids(server)[1]
    assert second != first and alive(second)
    assert f"sync process {first} exited with status -9; restarting it" in server.output()
    server.wait_for("Scheduler started", count=2)
    assert server.get("/login").status == 200  # the pages never stopped
    assert server.stop() == 0
    assert not alive(second)


def test_the_sync_child_dies_with_a_killed_parent(start_server, connected, dovecot_server):  # type: ignore[no-untyped-def]
    port = free_port()
    server = start_server(["--port", str(port)], port, env_for(dovecot_server))
    server.wait_until_serving()
    server.wait_for("Scheduler started")
    [child] = child_pids(server)
    server.process.kill()
    server.process.wait(timeout=5)
    assert wait_until(lambda: not alive(child), timeout=8), "the sync child outlived its parent"


def test_two_web_processes_on_one_instance_share_sessions_and_csrf(
    start_server, connected, dovecot_server, mailbox_user
):  # type: ignore[no-untyped-def]
    one, two = free_port(), free_port()
    first = start_server(["--role", "web", "--port", str(one)], one, env_for(dovecot_server))
    second = start_server(["--role", "web", "--port", str(two)], two, env_for(dovecot_server))
    first.wait_until_serving()
    second.wait_until_serving()
    web = logged_in(one, mailbox_user.address)  # logged in on one...
    page = web.get(f"http://127.0.0.1:{two}/settings/mailbox/", timeout=10)
    assert page.status_code == 200 and mailbox_user.address in page.text  # ...known on two
    token = CSRF_INPUT.search(page.text).group(1)
    answer = web.post(  # a token from two, posted to one, and the other way round
        f"http://127.0.0.1:{one}/settings/mailbox/sync/now",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    token = CSRF_INPUT.search(web.get(f"http://127.0.0.1:{one}/settings/mailbox/").text).group(1)
    answer = web.post(
        f"http://127.0.0.1:{two}/settings/mailbox/sync/now",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/settings/mailbox/")
    flashed = web.get(f"http://127.0.0.1:{two}/settings/mailbox/", timeout=10).text
    assert "Sincronização solicitada" in flashed or "Sync requested" in flashed
    assert first.stop() == 0 and second.stop() == 0

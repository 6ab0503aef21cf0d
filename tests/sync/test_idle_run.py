"""run.py runs IDLE with its scheduler: a reply arrives in seconds with a 60-minute interval,
and SIGTERM ends every IDLE within a second or two."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard import create_app
from dashboard.db.engine import make_engine, read_session
from dashboard.models import Email
from tests.support import factories
from tests.support.idle import wait_until
from tests.support.servers.dovecot import new_user
from tests.support.sync import connect, make_lead, plain_email, set_company

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def instance_with_mailboxes(tmp_path, dovecot_server):  # type: ignore[no-untyped-def]
    """An instance folder with a company, a lead and three connected mailboxes."""
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance), "IMAP_CA_FILE": dovecot_server.ca_file})
    engine = app.extensions["leadsync.engine"]
    factories.setup_company(engine)
    users = [new_user(dovecot_server) for _ in range(3)]
    for user in users:
        connect(app, user)
    set_company(engine, interval_minutes=60)
    make_lead(engine, "Joana", "joana@client.test")
    engine.dispose()
    return instance, users


def test_run_py_idles_delivers_in_seconds_and_sigterm_ends_every_idle_quickly(
    tmp_path, dovecot_server, instance_with_mailboxes
):  # type: ignore[no-untyped-def]
    instance, users = instance_with_mailboxes
    log_path = tmp_path / "run.log"
    env = {**os.environ, "LEADSYNC_INSTANCE": str(instance),
           "LEADSYNC_IMAP_CA_FILE": dovecot_server.ca_file}  # fmt: skip
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--port", str(free_port())],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    engine = make_engine(f"sqlite:///{instance / 'leadsync.db'}")
    try:
        output = log_path.read_text
        wait_until(lambda: all(f"IDLE on {u.address}" in output() for u in users), 30)
        wait_until(lambda: output().count("synced ") >= 3, 30)  # the start-up round is done
        mail = plain_email("joana@client.test", users[0].address, subject="Resposta rápida")
        users[0].append("INBOX", mail)

        def arrived() -> bool:
            with read_session(engine) as session:
                return session.scalar(select(Email.id).where(Email.subject == "Resposta rápida"))

        assert wait_until(arrived, 5) < 5
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - stopped < 4.0, output()
        ended = re.search(r"IDLE stopped: (\d+) connection\(s\) ended in ([\d.]+) s", output())
        assert ended, output()
        assert (int(ended.group(1)), float(ended.group(2)) < 2.0) == (3, True)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        engine.dispose()

"""IMAP IDLE benchmark (issue 16): delivery latency and the cost of idling mailboxes.

Run: .venv/bin/python bench/idle_bench.py [--mailboxes 50] [--appends 50] [--seconds 60]

Starts a throwaway Dovecot over TLS (tests/support/servers/dovecot.py), a LeadSync instance
with N connected mailboxes (interval 60 minutes, so only IDLE can deliver in time), then a
child process that runs only the IDLE supervisor (dashboard/sync/idle.py) as run.py's
scheduler would. Measured in one run:

  cost     RSS of the child before the supervisor starts (app loaded) and once every
           mailbox idles (and its first INBOX sync is done); the child's CPU (utime+stime
           from /proc) over --seconds of idling, as % of one core; and, over the same
           window, the CPU everything else on the machine used ("foreign CPU", Dovecot
           included; the machine is shared).
  latency  --appends messages from a lead APPENDed to INBOX, round robin over the
           mailboxes, one at a time: seconds from the APPEND's answer to the email row
           being in the database (polled every 10 ms): median and p95.

Prints a table and writes bench/out/idle-*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path[:0] = [str(ROOT)]

from sqlalchemy import func, select  # noqa: E402

from dashboard import create_app  # noqa: E402
from dashboard.db.engine import make_engine, read_session  # noqa: E402
from dashboard.db.flask import secret_box  # noqa: E402
from dashboard.models import Email, Mailbox  # noqa: E402
from dashboard.sync.idle import IdleConfig, IdleSupervisor  # noqa: E402
from dashboard.sync.runner import RunOptions  # noqa: E402
from tests.support import factories  # noqa: E402
from tests.support.servers.dovecot import new_user, start_dovecot  # noqa: E402
from tests.support.sync import connect, make_lead, plain_email, set_company  # noqa: E402

LEAD = "joana@client.test"
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


def child_main(instance: str, ca_file: str) -> None:
    """The measured process: the app loaded, then only the IDLE supervisor."""
    app = create_app({"INSTANCE_PATH": instance, "IMAP_CA_FILE": ca_file})
    engine = app.extensions["leadsync.engine"]
    options = RunOptions(ca_file=ca_file, connections=1)
    supervisor = IdleSupervisor(engine, secret_box(app), options, IdleConfig())
    with read_session(engine) as session:
        count = session.scalar(select(func.count(Mailbox.id))) or 0
    before = rss_mb()
    supervisor.start()
    while True:
        with read_session(engine) as session:
            idling = session.scalar(
                select(func.count(Mailbox.id)).where(Mailbox.idle_since.is_not(None))
            )
        if idling == count and supervisor.stats.syncs >= count:
            break
        time.sleep(0.1)
    print(json.dumps({"rss_before": before, "rss_idle": rss_mb(), "mailboxes": count}), flush=True)
    signal.sigwait({signal.SIGTERM})
    supervisor.stop()


def build_instance(directory: Path, server, mailboxes: int) -> tuple[Path, list]:  # type: ignore[no-untyped-def]
    """An instance with a company, a lead and `mailboxes` connected Dovecot users."""
    instance = directory / "instance"
    app = create_app({"INSTANCE_PATH": str(instance), "IMAP_CA_FILE": server.ca_file})
    engine = app.extensions["leadsync.engine"]
    factories.setup_company(engine)
    users = [new_user(server) for _ in range(mailboxes)]
    for user in users:
        connect(app, user)
    set_company(engine, interval_minutes=60, idle_connections=max(50, mailboxes))
    make_lead(engine, "Joana", LEAD)
    engine.dispose()
    return instance, users


def latencies(engine, users: list, appends: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds from each APPEND's answer to its email row (one at a time)."""
    results = []
    for i in range(appends):
        user, subject = users[i % len(users)], f"IDLE bench {i}"
        user.append("INBOX", plain_email(LEAD, user.address, subject=subject))
        sent = time.monotonic()
        while True:
            with read_session(engine) as session:
                if session.scalar(select(Email.id).where(Email.subject == subject)):
                    break
            if time.monotonic() - sent > 30:
                raise RuntimeError(f"{subject} did not arrive in 30 s")
            time.sleep(0.01)
        results.append(time.monotonic() - sent)
    return results


def measure(args: argparse.Namespace) -> dict:
    """One run: cost of idling, then delivery latency."""
    server = start_dovecot(max_userip_connections=10)
    try:
        with tempfile.TemporaryDirectory(prefix="idle-bench-") as tmp:
            instance, users = build_instance(Path(tmp), server, args.mailboxes)
            child = subprocess.Popen(
                [sys.executable, __file__, "--child", str(instance), server.ca_file],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                ready = json.loads(child.stdout.readline())  # type: ignore[union-attr]
                cpu0, busy0, clock0 = cpu_seconds(child.pid), machine_busy(), time.monotonic()
                time.sleep(args.seconds)
                own = cpu_seconds(child.pid) - cpu0
                busy, wall = machine_busy() - busy0, time.monotonic() - clock0
                rss_after = rss_mb(child.pid)
                engine = make_engine(f"sqlite:///{instance / 'leadsync.db'}")
                lat = latencies(engine, users, args.appends)
                engine.dispose()
            finally:
                child.send_signal(signal.SIGTERM)
                child.wait(timeout=30)
    finally:
        server.stop()
    lat.sort()
    return {
        "mailboxes": ready["mailboxes"],
        "idle_seconds": round(wall, 1),
        "cpu_percent_of_a_core": round(100 * own / wall, 3),
        "foreign_cpu_percent": round(100 * max(busy - own, 0) / wall, 1),
        "rss_before_mb": round(ready["rss_before"], 1),
        "rss_idle_mb": round(ready["rss_idle"], 1),
        "rss_after_window_mb": round(rss_after, 1),
        "rss_extra_mb": round(max(ready["rss_idle"], rss_after) - ready["rss_before"], 1),
        "latency_median_s": round(statistics.median(lat), 3),
        "latency_p95_s": round(lat[max(0, round(0.95 * len(lat)) - 1)], 3),
        "latency_max_s": round(lat[-1], 3),
        "appends": len(lat),
    }


def main() -> None:
    """Parse the arguments, run, print and save."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        child_main(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mailboxes", type=int, default=50)
    parser.add_argument("--appends", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    result = measure(args)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"idle-{stamp}.json").write_text(json.dumps(result, indent=2))
    for name, value in result.items():
        print(f"{name:24} {value}")


if __name__ == "__main__":
    main()

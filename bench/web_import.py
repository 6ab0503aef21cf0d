"""Web during an import (issue 15 target 2): pages and writes at c=8 while run.py imports a
10,000-message mailbox from a real Dovecot; the sync in the web process vs in a child.

Run: .venv/bin/python bench/web_bench.py --during-import [--seconds 20 --concurrency 8
     --modes thread,child --messages 10000]

For each mode, in one run (the modes alternate when --rounds > 1):
1. A fresh copy of the web benchmark's cached instance (bench/webdata.py: 20,000 leads,
   300,000 emails), migrated, with rep1's mailbox pointed at a throwaway Dovecot holding
   the generated mailbox (bench/mailgen.py, cached under bench/out/, never regenerated
   here), not due yet; a smart email with tracking and 2,000 notifications for rep1.
2. `run.py` serves it: `--in-process-sync` (thread: the scheduler in the web process, as
   before) or the default (child: the sync in its own process).
3. A load generator (second process, 8 keep-alive threads, closed loop, logged in as
   rep1) cycles: list, lead page, search (x4), then a lead edit (POST), a notification
   marked read (POST) and a tracking-pixel hit (GET that writes). `--seconds` of that idle
   (after a warm-up), then it presses "Sincronizar agora" on the mailbox page and keeps the
   load up until the import is over.
4. Another fresh copy imports the same mailbox with no load (the first round at start).

Reported per mode: idle and during-import p95 of the reads (and their ratio, target <= 2x),
max request time (target: none over 1 s), max write time (<= 1 s), errors, and the import's
seconds under load vs idle (SyncRun.seconds, target <= 1.3x); the CPU of the server's
processes and of everything else on the machine during each phase ("foreign CPU").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import mailgen
import sync_bench
import web_bench

ROOT = web_bench.ROOT
OUT = web_bench.OUT
PASSWORD = sync_bench.PASSWORD
READS = ("list", "lead", "search")
WRITES = ("edit", "read", "pixel")
CYCLE = [*READS * 4, *WRITES]  # 12 reads, 3 writes per turn of a client
IMPORT_TIMEOUT = 900.0


# --- the load generator (`web_bench.py --drive-import <json>`) ------------------------------


def scrape_token(conn: http.client.HTTPConnection, cookie: str, path: str) -> tuple[str, str]:
    """The CSRF token of a page's form, and the session cookie (the page may have put the
    token's raw value into the session: the new cookie then carries it)."""
    conn.request("GET", path, headers={"Cookie": cookie, "User-Agent": web_bench.USER_AGENT})
    response = conn.getresponse()
    page = response.read().decode(errors="replace")
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if response.status != 200 or not found:
        raise SystemExit(f"{path}: status {response.status}, no CSRF token")
    renewed = response.getheader("Set-Cookie", "").split(";", 1)[0]
    return found.group(1), renewed or cookie


def drive_import_main(argv: list[str]) -> None:
    """Log in; load for `idle` seconds; press sync now; load until the stop file appears."""
    config = json.loads(argv[0])
    host, port, setup = config["host"], config["port"], config["setup"]
    cookie = web_bench.login(host, port, config["email"], config["password"])
    conn = http.client.HTTPConnection(host, port, timeout=60)
    token, cookie = scrape_token(conn, cookie, f"/leads/{setup['edit']['lead_id']}/edit")
    edit_form = urllib.parse.urlencode({**setup["edit"]["form"], "csrf_token": token})
    requests = {
        "list": ("GET", "/leads/", None, True),
        "lead": ("GET", f"/leads/{config['big']}", None, True),
        "search": ("GET", f"/leads/?q={urllib.parse.quote(config['word'])}", None, True),
        "edit": ("POST", f"/leads/{setup['edit']['lead_id']}/edit", edit_form, True),
        "read": ("POST", "/notifications/{n}/read", f"csrf_token={token}", True),
        "pixel": ("GET", f"/t/o/{setup['pixel']}.gif", None, False),  # a mail client: no cookie
    }
    phase = {"name": "warmup", "stop": False}
    samples: dict[str, dict[str, list[float]]] = {"idle": {}, "import": {}}
    errors: dict[str, dict[str, int]] = {"idle": {}, "import": {}}
    lock = threading.Lock()
    notes = iter(range(setup["notifications"][0], setup["notifications"][1]))

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        turn = n  # each client starts elsewhere in the cycle
        while not phase["stop"]:
            kind = CYCLE[turn % len(CYCLE)]
            turn += 1
            method, path, body, logged_in = requests[kind]
            if kind == "read":
                with lock:
                    path = path.format(n=next(notes, setup["notifications"][0]))
            headers = {"User-Agent": web_bench.USER_AGENT}
            if logged_in:
                headers["Cookie"] = cookie
            if body is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            name, started = phase["name"], time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 400
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=120)
            elapsed = time.perf_counter() - started
            if name in samples and phase["name"] == name:
                with lock:
                    if ok:
                        samples[name].setdefault(kind, []).append(elapsed)
                    else:
                        errors[name][kind] = errors[name].get(kind, 0) + 1
        conn.close()

    workers = [threading.Thread(target=client, args=(n,)) for n in range(config["concurrency"])]
    for worker in workers:
        worker.start()
    time.sleep(config["warmup"])
    cpu: dict[str, dict] = {}
    phase["name"], clock, snap = (
        "idle",
        time.perf_counter(),
        web_bench.cpu_snapshot(config["server_pid"]),
    )
    time.sleep(config["seconds"])
    cpu["idle"] = cpu_delta(
        snap, web_bench.cpu_snapshot(config["server_pid"]), time.perf_counter() - clock
    )
    token, _same = scrape_token(conn, cookie, "/settings/mailbox/")
    conn.request(
        "POST", "/settings/mailbox/sync/now", body=f"csrf_token={token}",
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
                 "User-Agent": web_bench.USER_AGENT},
    )  # fmt: skip
    pressed = conn.getresponse()
    pressed.read()
    if pressed.status != 302:
        raise SystemExit(f"sync now answered {pressed.status}")
    phase["name"], clock, snap = (
        "import",
        time.perf_counter(),
        web_bench.cpu_snapshot(config["server_pid"]),
    )
    stop_file = Path(config["stop_file"])
    while not stop_file.exists() and time.perf_counter() - clock < IMPORT_TIMEOUT:
        time.sleep(0.05)
    cpu["import"] = cpu_delta(
        snap, web_bench.cpu_snapshot(config["server_pid"]), time.perf_counter() - clock
    )
    phase["stop"] = True
    for worker in workers:
        worker.join()
    print(json.dumps({"samples": samples, "errors": errors, "cpu": cpu}))


def cpu_delta(start: dict, end: dict, window: float) -> dict:
    """Cores used during a window: the server's processes, the load generator, the others."""
    used = {k: end[k] - start[k] for k in start}
    return {
        "window": window,
        "server_cores": used["server"] / window,
        "driver_cores": used["driver"] / window,
        "foreign_cores": max(0.0, used["busy"] - used["server"] - used["driver"]) / window,
    }


# --- preparing an instance ------------------------------------------------------------------


def prepare(instance: Path, server, due: bool) -> dict:  # type: ignore[no-untyped-def]
    """Migrate the copy and point rep1's mailbox at Dovecot; add what the writes need.

    Runs in a child process (the app is imported there, not in this process)."""
    code = f"""
import json, sys
sys.path[:0] = [{str(ROOT)!r}]
from datetime import timedelta
from sqlalchemy import select, update
from dashboard import create_app
from dashboard.db.engine import write_session
from dashboard.models import Company, Lead, LeadAddress, Mailbox, Notification, OutgoingEmail, User, utcnow
from dashboard.sending.tracking import TrackingTokens
app = create_app({{"INSTANCE_PATH": {str(instance)!r}}})
engine = app.extensions["leadsync.engine"]
with write_session(engine) as s:
    s.execute(update(Company).values(allow_local_servers=True, import_days=3650, interval_minutes=60))
    rep = s.scalars(select(User).where(User.email == "rep1@acme.test")).one()
    s.execute(update(Mailbox).where(Mailbox.user_id == rep.id).values(
        imap_host={server.host!r}, imap_port={server.port}, imap_security="tls",
        username="rep1@acme.test", capabilities=[], status="connected", failures=0,
        secret=app.extensions["leadsync.secrets"].encrypt({PASSWORD!r}),
        next_sync_at=None if {due} else utcnow() + timedelta(days=1)))
    lead = s.scalars(select(Lead).where(Lead.owner_id == rep.id).order_by(Lead.id.desc())).first()
    addresses = list(s.scalars(select(LeadAddress.address).where(LeadAddress.lead_id == lead.id)))
    mail = OutgoingEmail(user_id=rep.id, lead_id=lead.id, message_id="<bench-pixel@acme.test>",
                         to_addrs=[addresses[0]], subject="Proposta", tracking=True, state="sent",
                         sent_at=utcnow())
    s.add(mail)
    s.flush()
    s.add_all([Notification(user_id=rep.id, kind="open", lead_id=lead.id) for _ in range(2000)])
    s.flush()
    ids = list(s.scalars(select(Notification.id).where(Notification.user_id == rep.id)))
    print(json.dumps({{
        "edit": {{"lead_id": lead.id, "form": {{"name": lead.name, "company": lead.company_name or "",
                  "phone": lead.phone or "", "owner": rep.id, "addresses": "\\n".join(addresses)}}}},
        "pixel": TrackingTokens(app.secret_key).open_token(mail.id, addresses[0]),
        "notifications": [min(ids), max(ids) + 1],
    }}))
engine.dispose()
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode:
        raise SystemExit(f"preparing {instance} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_seconds(instance: Path) -> dict:
    """The import's run as the history recorded it (rep1's mailbox, the latest run)."""
    with contextlib.closing(
        sqlite3.connect(f"file:{instance / 'leadsync.db'}?mode=ro", uri=True)
    ) as db:
        row = db.execute(
            "SELECT seconds, stored, fetched, error_code FROM syncrun WHERE mailbox_id = "
            "(SELECT id FROM mailbox WHERE address = 'rep1@acme.test') ORDER BY id DESC LIMIT 1"
        ).fetchone()
    if row is None or row[0] is None:
        raise SystemExit("the import did not finish")
    return {"seconds": row[0], "stored": row[1], "fetched": row[2], "error": row[3]}


def wait_for_import(log_path: Path, timeout: float = IMPORT_TIMEOUT, driver=None) -> None:  # type: ignore[no-untyped-def]
    """Until run.py logged the end of rep1's sync (or the load generator failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver is not None and driver.poll() is not None:
            raise SystemExit(f"the load generator stopped early:\n{driver.stderr.read()[-3000:]}")
        if "synced rep1@acme.test" in log_path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise SystemExit(f"no import within {timeout:.0f} s (see {log_path})")


def fresh_copy(source: Path, scratch: Path, name: str) -> Path:
    """A throwaway copy of the cached instance."""
    target = scratch / name
    shutil.copytree(source, target)
    return target


def mode_args(mode: str) -> list[str]:
    return ["--in-process-sync"] if mode == "thread" else []


def loaded_import(mode: str, source: Path, scratch: Path, server, args, meta: dict) -> dict:  # type: ignore[no-untyped-def]
    """Idle load, then the import under the same load; figures of both phases."""
    instance = fresh_copy(source, scratch, f"{mode}-loaded")
    setup = prepare(instance, server, due=False)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_path = OUT / f"web-import-{mode}-{stamp}.log"
    stop_file = scratch / f"{mode}.stop"
    env_extra = {"LEADSYNC_IMAP_CA_FILE": server.ca_file}
    with served(instance, log_path, mode_args(mode), env_extra) as (port, process):
        config = {
            "host": "127.0.0.1", "port": port, "email": meta["login"],
            "password": meta["password"], "setup": setup, "big": meta["big_lead_id"],
            "word": meta["rare_word"].replace("ô", "o"), "concurrency": args.concurrency,
            "warmup": args.warmup, "seconds": args.seconds, "server_pid": process.pid,
            "stop_file": str(stop_file),
        }  # fmt: skip
        driver = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "web_bench.py"), "--drive-import", json.dumps(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started = time.monotonic()
        try:
            wait_for_import(log_path, IMPORT_TIMEOUT + args.seconds + args.warmup + 60, driver)
        finally:
            stop_file.touch()
        out, err = driver.communicate(timeout=300)
        if driver.returncode:
            raise SystemExit(f"load generator failed:\n{err[-3000:]}")
        wall = time.monotonic() - started
    result = json.loads(out.strip().splitlines()[-1])
    result["import"] = import_seconds(instance)
    result["wall"] = wall
    shutil.rmtree(instance, ignore_errors=True)
    return result


def quiet_import(mode: str, source: Path, scratch: Path, server) -> dict:  # type: ignore[no-untyped-def]
    """The same import with no load: the first round at start."""
    instance = fresh_copy(source, scratch, f"{mode}-quiet")
    prepare(instance, server, due=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_path = OUT / f"web-import-{mode}-quiet-{stamp}.log"
    env_extra = {"LEADSYNC_IMAP_CA_FILE": server.ca_file}
    with served(instance, log_path, mode_args(mode), env_extra) as (_port, process):
        snap, clock = web_bench.cpu_snapshot(process.pid), time.perf_counter()
        wait_for_import(log_path)
        cpu = cpu_delta(snap, web_bench.cpu_snapshot(process.pid), time.perf_counter() - clock)
    result = {"import": import_seconds(instance), "cpu": cpu}
    shutil.rmtree(instance, ignore_errors=True)
    return result


@contextlib.contextmanager
def served(instance: Path, log_path: Path, extra: list[str], env_extra: dict):  # type: ignore[no-untyped-def]
    """run.py on a free port (web_bench.served, with the CA file in the environment)."""
    saved = {k: os.environ.get(k) for k in env_extra}
    os.environ.update(env_extra)
    try:
        with web_bench.served(instance, log_path, ROOT, extra) as served_at:
            yield served_at
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- figures ---------------------------------------------------------------------------------


def figures(loaded: dict, quiet: dict) -> dict:
    """The targets' figures of one mode."""
    out: dict = {}
    for phase in ("idle", "import"):
        samples = loaded["samples"][phase]
        reads = sorted(x for k in READS for x in samples.get(k, []))
        writes = sorted(x for k in WRITES for x in samples.get(k, []))
        every = sorted(reads + writes)
        out[phase] = {
            "reads": len(reads), "writes": len(writes),
            "errors": sum(loaded["errors"][phase].values()),
            "read_p50": web_bench.percentile(reads, 50) * 1000,
            "read_p95": web_bench.percentile(reads, 95) * 1000,
            "write_p95": web_bench.percentile(writes, 95) * 1000,
            "write_max": (writes[-1] * 1000) if writes else float("nan"),
            "max": (every[-1] * 1000) if every else float("nan"),
            "over_1s": sum(1 for x in every if x > 1.0),
            "per_kind_p95": {k: web_bench.percentile(sorted(samples.get(k, [])), 95) * 1000
                             for k in (*READS, *WRITES)},
            **loaded["cpu"][phase],
        }  # fmt: skip
    out["import_loaded_s"] = loaded["import"]["seconds"]
    out["import_quiet_s"] = quiet["import"]["seconds"]
    out["stored"] = loaded["import"]["stored"]
    out["quiet_stored"] = quiet["import"]["stored"]
    out["p95_ratio"] = out["import"]["read_p95"] / out["idle"]["read_p95"]
    out["import_ratio"] = out["import_loaded_s"] / out["import_quiet_s"]
    out["quiet_foreign_cores"] = quiet["cpu"]["foreign_cores"]
    return out


def table(results: dict[str, list[dict]]) -> str:
    """Markdown: one line per mode (medians over rounds when there are several)."""

    def med(mode: str, get) -> float:  # type: ignore[no-untyped-def]
        return statistics.median(get(r) for r in results[mode])

    lines = [
        "| sync runs | reads idle p95 ms | reads during import p95 ms | ratio (<= 2) | max request ms "
        "(none > 1000) | requests > 1 s | max write ms (<= 1000) | errors | import idle s "
        "| import under load s | ratio (<= 1.3) | server cores idle / import | foreign cores "
        "idle / import / quiet import |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode in results:
        lines.append(
            f"| {'in the web process (thread)' if mode == 'thread' else 'in a child process'} "
            f"| {med(mode, lambda r: r['idle']['read_p95']):.0f} "
            f"| {med(mode, lambda r: r['import']['read_p95']):.0f} "
            f"| {med(mode, lambda r: r['p95_ratio']):.2f} "
            f"| {med(mode, lambda r: r['import']['max']):.0f} "
            f"| {med(mode, lambda r: r['import']['over_1s']):.0f} "
            f"| {med(mode, lambda r: r['import']['write_max']):.0f} "
            f"| {med(mode, lambda r: r['idle']['errors'] + r['import']['errors']):.0f} "
            f"| {med(mode, lambda r: r['import_quiet_s']):.1f} "
            f"| {med(mode, lambda r: r['import_loaded_s']):.1f} "
            f"| {med(mode, lambda r: r['import_ratio']):.2f} "
            f"| {med(mode, lambda r: r['idle']['server_cores']):.2f} / "
            f"{med(mode, lambda r: r['import']['server_cores']):.2f} "
            f"| {med(mode, lambda r: r['idle']['foreign_cores']):.2f} / "
            f"{med(mode, lambda r: r['import']['foreign_cores']):.2f} / "
            f"{med(mode, lambda r: r['quiet_foreign_cores']):.2f} |"
        )
    return "\n".join(lines)


def main(args) -> None:  # type: ignore[no-untyped-def]
    """Generate nothing new; serve, load, import, for each mode; print the table."""
    import webdata

    from tests.support.servers.dovecot import DovecotServer

    # --instance: a cached instance of an older schema (each copy is migrated by `prepare`),
    # when the cache for the current migrations is not built yet (it takes ~16 minutes).
    source = (
        Path(args.instance) if args.instance else webdata.build(args.leads, args.emails, args.seed)
    )
    meta = json.loads((source / "meta.json").read_text())
    mail = mailgen.generate(OUT, args.messages, 1, 1.0)  # cached: bench/out/mail-v8-n...
    manifest = json.loads((mail / "manifest.json").read_text())
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    scratch = Path(tempfile.mkdtemp(prefix="web-import-", dir=OUT))
    server = DovecotServer(layout="gmail_pt").start()
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    try:
        server.add_user(sync_bench.USER, PASSWORD)
        home = server.directory / "mail" / "acme.test" / "rep1"
        mailgen.install(mail, home / "Maildir", *sync_bench.mailbox_owner(home))
        sync_bench.warm_up_server(server, manifest)
        for round_no in range(args.rounds):
            order = modes if round_no % 2 == 0 else modes[::-1]
            for mode in order:
                print(
                    f"round {round_no + 1}: {mode}: quiet import ...", file=sys.stderr, flush=True
                )
                quiet = quiet_import(mode, source, scratch, server)
                print(f"round {round_no + 1}: {mode}: load, then import under load ...",
                      file=sys.stderr, flush=True)  # fmt: skip
                loaded = loaded_import(mode, source, scratch, server, args, meta)
                results[mode].append(figures(loaded, quiet))
                print(json.dumps(results[mode][-1]), file=sys.stderr, flush=True)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = OUT / f"web-import-results-{stamp}.json"
    raw.write_text(
        json.dumps({"argv": sys.argv, "manifest": manifest, "results": results}, indent=2)
    )
    print()
    print(f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"- Machine: {web_bench.machine()}")
    print(f"- Command: `python bench/web_bench.py {' '.join(sys.argv[1:])}`")
    print(f"- Mailbox: {manifest}")
    print(f"- Raw figures: {raw.relative_to(ROOT)}")
    print()
    print(table(results))

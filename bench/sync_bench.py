"""Sync benchmark (issue 4): LeadSync's first sync against a full download and mbsync.

Run: .venv/bin/python bench/sync_bench.py --messages N [--runs 3]   (or `make bench`)

Builds a generated mailbox of N messages (bench/mailgen.py: ~110 KB per message,
attachments 10 KB-5 MB making up most of the bytes, a third internal / no lead /
automated; cached under bench/out/) in a throwaway Dovecot over TLS (the test server of
tests/support/servers/dovecot.py), then measures in one run, each contender in its own
process:

  (a) plain imapclient download of every message of INBOX and Sent
      (UID FETCH RFC822, batches of 500, one TLS connection);
  mbsync (isync) pulling the same two folders into a temporary Maildir (if installed);
  (b) LeadSync's first sync (`flask sync --once --json`, a fresh instance each run):
      wall time of the CLI process and the round's own seconds from --json;
  (c) LeadSync rounds with nothing new (round seconds from --json, in-process);
  (d) peak RSS of (b) (os.wait4 rusage of that one child process).

Fairness: after the files are placed in the Maildirs, an untimed SELECT + STATUS of both
folders makes Dovecot build its indexes; then one untimed warm-up pass of every contender
(on by default, --no-warmup to skip) fills Dovecot's cache file (ENVELOPE/BODYSTRUCTURE
for LeadSync) and the page cache (message files for everybody). The warm-up pass is
reported separately ("cold" figures). The order of the contenders rotates run by run.
Prints the medians and every run; writes the raw figures to bench/out/results-*.json.

Shared machine: before each timed contender the tool waits (at most --quiet-wait s) for a
1 s sample with the CPUs nearly idle, and reports per run the CPU other processes used
meanwhile ("foreign CPU"); compare runs with little of it.
--snapshot REV measures a commit exported with `git archive` (others may be editing the
working tree); --compare DIR also measures the LeadSync of another tree (a prototype
copy) in the same runs; --profile adds one first sync under py-spy (collapsed stacks).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import mailgen  # noqa: E402

USER, PASSWORD = mailgen.OWNER[1], "benchpassword123"
ADMIN_PASSWORD = "Senha-Forte-7xq2Z"
FOLDERS = ("INBOX", "[Gmail]/E-mails enviados")
BATCH = 500
IMPORT_DAYS = 3650  # covers every generated message


# --- contender (a), run as `sync_bench.py --download ...` in its own process -----------------


def download_main(argv: list[str]) -> None:
    """Full download: UID FETCH RFC822 of every message, batches of 500, one connection."""
    import imapclient

    parser = argparse.ArgumentParser()
    parser.add_argument("--download", action="store_true")
    for name in ("host", "user", "password", "ca"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    context = ssl.create_default_context(cafile=args.ca)
    messages = size = 0
    with imapclient.IMAPClient(args.host, args.port, ssl=True, ssl_context=context) as client:
        client.login(args.user, args.password)
        for folder in FOLDERS:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search("ALL"))
            for start in range(0, len(uids), BATCH):
                response = client.fetch(uids[start : start + BATCH], ["RFC822"])
                messages += len(response)
                size += sum(len(data[b"RFC822"]) for data in response.values())
                del response
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "messages": messages, "bytes": size}))


# --- the lean-fetch floor, run as `sync_bench.py --floor PLAN` in its own process ----------


def floor_lane(args: argparse.Namespace, plan: dict, folder: str, out: dict) -> None:
    """One folder over its own connection, LeadSync's commands in LeadSync's order, the
    answers read off the wire (imaplib) and dropped: no parsing, no storing.

    Per folder: ENABLE CONDSTORE, EXAMINE, UID SEARCH SINCE; per batch of `batch` UIDs the
    lean FETCH (plan["items"], dashboard.mail.imap_fetch.LEAN_FETCH), then one
    FETCH of BODY.PEEK[...] per distinct set of sections of the messages LeadSync stores
    (plan["bodies"]: UID -> sections, taken from a LeadSync run; engine.fetch_bodies and
    imap_fetch.fetch_sections group them the same way).
    """
    import imaplib

    context = ssl.create_default_context(cafile=args.ca)
    client = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=context)
    received = 0
    try:
        client.login(args.user, args.password)
        client.enable("CONDSTORE")
        client.select(f'"{folder}"', readonly=True)
        _typ, data = client.uid("SEARCH", "SINCE", plan["since"])
        uids = sorted(int(u) for u in (data[0] or b"").split())
        bodies = plan["bodies"].get(folder, {})
        items = "(" + " ".join(plan["items"]) + ")"
        for start in range(0, len(uids), plan["batch"]):
            batch = uids[start : start + plan["batch"]]
            _typ, data = client.uid("FETCH", ",".join(map(str, batch)), items)
            received += sum(len(part[1]) for part in data if isinstance(part, tuple))
            groups: dict[tuple[str, ...], list[int]] = {}
            for uid in batch:
                sections = bodies.get(str(uid))
                if sections:
                    groups.setdefault(tuple(sorted(sections)), []).append(uid)
            for sections, group in groups.items():
                wanted = "(" + " ".join(f"BODY.PEEK[{s}]" for s in sections) + ")"
                _typ, data = client.uid("FETCH", ",".join(map(str, group)), wanted)
                received += sum(len(part[1]) for part in data if isinstance(part, tuple))
                del data
        out[folder] = {"messages": len(uids), "literal_bytes": received}
    finally:
        client.logout()


def floor_main(argv: list[str]) -> None:
    """Both folders at once, one thread and one connection each (LeadSync's two lanes)."""
    import threading

    parser = argparse.ArgumentParser()
    parser.add_argument("--floor", required=True, help="plan JSON")
    for name in ("host", "user", "password", "ca"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    plan = json.loads(Path(args.floor).read_text())
    started = time.perf_counter()
    out: dict = {}
    lanes = [
        threading.Thread(target=floor_lane, args=(args, plan, folder, out)) for folder in FOLDERS
    ]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    seconds = time.perf_counter() - started
    if set(out) != set(FOLDERS):
        raise SystemExit(f"a lane failed: {sorted(out)}")
    print(json.dumps({"seconds": seconds, "messages": sum(f["messages"] for f in out.values()),
                      "bytes": sum(f["literal_bytes"] for f in out.values())}))  # fmt: skip


# --- helpers -----------------------------------------------------------------------------------


def timed(
    cmd: list[str], env: dict | None = None, stdin: str | None = None, cwd: Path = ROOT
) -> dict:
    """Run a child process; return wall seconds, exit code, output and its own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        feed = subprocess.PIPE if stdin is not None else subprocess.DEVNULL
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=feed, stdout=out, stderr=err, env=env, cwd=cwd)
        if stdin is not None:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's rusage, not all children's
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall": wall, "rc": proc.returncode, "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"), "maxrss_mb": usage.ru_maxrss / 1024,
            "cpu": usage.ru_utime + usage.ru_stime,
        }  # fmt: skip


def check(result: dict, what: str) -> dict:
    """Fail loudly when a child failed."""
    if result["rc"] != 0:
        raise SystemExit(f"{what} failed (exit {result['rc']}):\n{result['stderr'][-3000:]}")
    return result


def median(values: list[float]) -> float:
    """Median, or NaN for nothing."""
    return statistics.median(values) if values else float("nan")


HZ = os.sysconf("SC_CLK_TCK")


class Machine:
    """CPU accounting, to wait for a quiet machine and to flag runs others disturbed.

    Other sessions may run test suites (pytest, Chromium) on the same 2 cores. Before each
    timed contender we wait (up to --quiet-wait s) until a 1 s sample shows the machine
    nearly idle, and after it we record "foreign" CPU: busy time of the whole machine minus
    the contender's own CPU and Dovecot's.
    """

    dovecot_pid: int | None = None
    relay_pid: int | None = None  # --latency-ms: the relay's CPU counts with Dovecot's
    quiet_wait: float = 60.0
    quiet_busy: float = 0.15  # fraction of all cores

    @staticmethod
    def busy_and_total() -> tuple[int, int]:
        """Busy and total jiffies of all CPUs since boot."""
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:9]]
        return sum(values) - values[3] - values[4], sum(values)

    def dovecot_cpu(self) -> float:
        """CPU seconds of Dovecot's master and its reaped children (imap processes), plus
        the latency relay's when there is one."""
        total = 0.0
        for pid in (self.dovecot_pid, self.relay_pid):
            if not pid:
                continue
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(v) for v in fields[11:15]) / HZ
        return total

    def wait_quiet(self, limit: float | None = None) -> float:
        """Wait until the machine is nearly idle; return the seconds waited."""
        started = time.perf_counter()
        limit = self.quiet_wait if limit is None else min(limit, self.quiet_wait)
        while time.perf_counter() - started < limit:
            busy0, total0 = self.busy_and_total()
            time.sleep(1.0)
            busy1, total1 = self.busy_and_total()
            if (busy1 - busy0) <= self.quiet_busy * max(total1 - total0, 1):
                break
        return time.perf_counter() - started

    def start(self, limit: float | None = None) -> tuple:
        """Snapshot before a contender."""
        waited = self.wait_quiet(limit)
        return waited, self.busy_and_total()[0], self.dovecot_cpu(), time.perf_counter()

    def finish(self, mark: tuple, own_cpu: float) -> dict:
        """Foreign CPU seconds while the contender ran (machine busy - own - Dovecot)."""
        waited, busy0, dovecot0, _t0 = mark
        time.sleep(0.05)  # let Dovecot reap the imap processes that just logged out
        busy = (self.busy_and_total()[0] - busy0) / HZ
        dovecot = self.dovecot_cpu() - dovecot0
        return {
            "waited_for_quiet": round(waited, 1), "dovecot_cpu": round(dovecot, 2),
            "foreign_cpu": round(max(busy - own_cpu - dovecot, 0.0), 2),
        }  # fmt: skip


MACHINE = Machine()


# --- contenders ------------------------------------------------------------------------------


def run_download(server) -> dict:  # type: ignore[no-untyped-def]
    """(a) in its own process."""
    return run_fetcher(server, ["--download"], "full download")


MBSYNCRC = """\
IMAPAccount bench
Host localhost
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {ca}

IMAPStore far
Account bench

MaildirStore near
Path {root}/
Inbox {root}/INBOX
SubFolders Verbatim

Channel bench
Far :far:
Near :near:
Patterns "INBOX" "{sent}"
Create Near
Sync Pull
SyncState *
"""


def run_mbsync(server, workdir: Path) -> dict:  # type: ignore[no-untyped-def]
    """mbsync pulling both folders into an empty Maildir (default settings, FSync on).

    Host is "localhost": isync 1.4 matches the certificate's DNS names only, not IP SANs.
    """
    root = Path(tempfile.mkdtemp(prefix="mbsync-", dir=workdir))
    try:
        rc = root / "mbsyncrc"
        (root / "mail").mkdir()
        rc.write_text(
            MBSYNCRC.format(
                port=server.port,
                user=USER,
                password=PASSWORD,
                ca=server.ca_file,
                root=root / "mail",
                sent=FOLDERS[1],
            )  # fmt: skip
        )
        mark = MACHINE.start()
        result = check(timed(["mbsync", "-c", str(rc), "-q", "bench"]), "mbsync")
        noise = MACHINE.finish(mark, result["cpu"])
        copied = sum(
            len(os.listdir(Path(d) / sub))
            for d, dirs, _files in os.walk(root / "mail")
            for sub in dirs
            if sub in ("cur", "new")
        )
        return {
            "wall": result["wall"], "messages": copied, "maxrss_mb": result["maxrss_mb"],
            "cpu": result["cpu"], **noise,
        }  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_floor(server, plan: Path) -> dict:  # type: ignore[no-untyped-def]
    """The lean-fetch floor in its own process (see floor_lane)."""
    return run_fetcher(server, ["--floor", str(plan)], "lean-fetch floor")


def run_fetcher(server, mode: list[str], label: str) -> dict:  # type: ignore[no-untyped-def]
    """A fetch-only contender (this script in another mode) in its own process: its figures
    and the CPU other processes used meanwhile."""
    cmd = [
        sys.executable, __file__, *mode, "--host", server.host, "--port",
        str(server.port), "--user", USER, "--password", PASSWORD, "--ca", server.ca_file,
    ]  # fmt: skip
    mark = MACHINE.start()
    result = check(timed(cmd), label)
    noise = MACHINE.finish(mark, result["cpu"])
    inner = json.loads(result["stdout"])
    return {
        "wall": result["wall"], "seconds": inner["seconds"], "messages": inner["messages"],
        "bytes": inner["bytes"], "maxrss_mb": result["maxrss_mb"], "cpu": result["cpu"],
        **noise,
    }  # fmt: skip


def floor_plan(server, workdir: Path, cache: Path) -> Path:  # type: ignore[no-untyped-def]
    """What the floor fetches, taken from LeadSync itself (untimed, once per benchmark).

    A LeadSync first sync on a fresh instance tells which messages it stores (their
    sightings: those are the ones whose text parts it downloads); a lean FETCH read with
    LeadSync's own parser and `engine.wanted_sections` tells which sections of each. The
    item list is LeadSync's (imap_fetch.LEAN_FETCH) and so is the batch size. Not copied:
    the relink pass, which fetches some messages a second time (that is LeadSync's own cost).
    Kept in `cache` (next to the generated mailbox, whose content never changes): making it
    costs a LeadSync first sync and a parsed lean FETCH of every stored message.
    """
    if cache.exists():
        return cache
    import sqlite3

    import imapclient
    from imapclient.datetime_util import format_criteria_date

    from dashboard.mail import imap_fetch
    from dashboard.mail.parse import meta_from_fetch
    from dashboard.sync.engine import BATCH_SIZE, wanted_sections

    app = LeadSync(server, workdir)
    try:
        app.set_up()
        app.sync()
        with contextlib.closing(sqlite3.connect(app.instance / "leadsync.db")) as db:
            stored = db.execute("SELECT folder, uid FROM sighting").fetchall()
    finally:
        app.remove()
    by_folder: dict[str, set[int]] = {}
    for folder, uid in stored:
        by_folder.setdefault(folder, set()).add(uid)
    bodies: dict[str, dict[str, list[str]]] = {}
    context = ssl.create_default_context(cafile=server.ca_file)
    with imapclient.IMAPClient(server.host, server.port, ssl=True, ssl_context=context) as client:
        client.login(USER, PASSWORD)
        for folder in FOLDERS:
            client.select_folder(folder, readonly=True)
            uids = sorted(by_folder.get(folder, ()))
            bodies[folder] = {}
            for start in range(0, len(uids), BATCH_SIZE):
                for raw in imap_fetch.fetch_headers(client, uids[start : start + BATCH_SIZE]):
                    sections = wanted_sections(meta_from_fetch(raw))
                    if sections:
                        bodies[folder][str(raw.uid)] = list(sections)
    since = dt.date.today() - dt.timedelta(days=IMPORT_DAYS)
    plan = {
        "items": imap_fetch.LEAN_FETCH, "batch": BATCH_SIZE, "bodies": bodies,
        "since": format_criteria_date(since).decode(),
    }  # fmt: skip
    partial = cache.with_name(cache.name + ".partial")
    partial.write_text(json.dumps(plan))
    partial.rename(cache)
    return cache


class LeadSync:
    """A fresh LeadSync instance connected to the bench mailbox."""

    code = ROOT  # the source tree whose `dashboard` is measured (see --snapshot)

    def __init__(self, server, workdir: Path, code: Path | None = None) -> None:  # type: ignore[no-untyped-def]
        self.server = server
        self.code = code or LeadSync.code
        self.instance = Path(tempfile.mkdtemp(prefix="instance-", dir=workdir))
        self.env = {
            **os.environ,
            "LEADSYNC_INSTANCE": str(self.instance),
            "LEADSYNC_IMAP_CA_FILE": server.ca_file,
            "PYTHONPATH": str(self.code),
        }
        self.flask = [sys.executable, "-m", "flask", "--app", "dashboard"]

    def cli(self, *args: str, stdin: str | None = None) -> dict:
        """One CLI command, checked."""
        result = timed([*self.flask, *args], self.env, stdin, cwd=self.code)
        return check(result, f"flask {' '.join(args[:2])}")

    def set_up(self) -> None:
        """Company, the rep, the import window, the mailbox (all untimed)."""
        self.cli(
            "setup", "--company", "Acme Bench", "--domain", "acme.test", "--admin-email",
            "admin@acme.test", "--admin-name", "Admin", "--password-stdin",
            stdin=ADMIN_PASSWORD + "\n",
        )  # fmt: skip
        self.cli(
            "users", "add", "--email", USER, "--name", "Ricardo Almeida", "--role", "rep",
            "--password-stdin", stdin=ADMIN_PASSWORD + "\n",
        )  # fmt: skip
        # The bench's Dovecot is on 127.0.0.1, which a company refuses unless told otherwise.
        self.cli(
            "company", "set", "--import-days", str(IMPORT_DAYS), "--local-servers", "allow"
        )  # fmt: skip
        self.cli(
            "accounts", "add", "--owner", USER, "--provider", "other", "--address", USER,
            "--host", self.server.host, "--port", str(self.server.port), "--security", "tls",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip

    def sync(self, prefix: list[str] | None = None, quiet: float = 0.0) -> dict:
        """`flask sync --once --json`: wall time, round seconds, counts, peak RSS.

        quiet: at most this many seconds to wait for an idle machine first (0: no wait).
        """
        mark = MACHINE.start(quiet) if quiet else None
        result = check(
            timed(
                [*(prefix or []), *self.flask, "sync", "--once", "--json"], self.env, cwd=self.code
            ),
            "flask sync",
        )
        start = result["stdout"].index("{")  # py-spy may add lines after the JSON
        report, _end = json.JSONDecoder().raw_decode(result["stdout"][start:])
        box = report["mailboxes"][0]
        if box["error"]:
            raise SystemExit(f"sync error: {box['error']} {box['error_detail']}")
        return {
            "wall": result["wall"], "seconds": report["seconds"], "mailbox_seconds": box["seconds"],
            "fetched": box["fetched"], "stored": box["stored"], "skipped": box["skipped"],
            "leads_created": box["leads_created"], "maxrss_mb": result["maxrss_mb"],
            "cpu": result["cpu"],
            "folders": {f["folder"]: round(f["seconds"], 3) for f in box["folders"]},
            **(MACHINE.finish(mark, result["cpu"]) if mark else {}),
        }  # fmt: skip

    def remove(self) -> None:
        """Delete the instance."""
        shutil.rmtree(self.instance, ignore_errors=True)


def run_leadsync(server, workdir: Path, idle_rounds: int, code: Path | None = None) -> dict:  # type: ignore[no-untyped-def]
    """(b) first sync of a fresh instance, (d) its peak RSS, then (c) rounds with nothing new."""
    app = LeadSync(server, workdir, code)
    try:
        app.set_up()
        first = app.sync(quiet=MACHINE.quiet_wait)
        # A settle round: links found only after the first round (a lead created by Sent
        # mail after INBOX had already skipped its earlier messages) are fetched now.
        settle = app.sync()
        idle = [app.sync(quiet=10.0) for _ in range(idle_rounds)]
        return {"first": first, "settle": settle, "idle": idle}
    finally:
        app.remove()


def profile_leadsync(server, workdir: Path, n: int) -> Path | None:  # type: ignore[no-untyped-def]
    """One extra first sync under py-spy (all threads, idle included), collapsed stacks."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.access(spy, os.X_OK):
        print("py-spy not installed: `.venv/bin/pip install py-spy`", file=sys.stderr)
        return None
    target = OUT / f"profile-n{n}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    app = LeadSync(server, workdir)
    try:
        app.set_up()
        prefix = [spy, "record", "--format", "raw", "--threads", "--idle", "--rate", "200",
                  "--output", str(target), "--"]  # fmt: skip
        app.sync(prefix)
    finally:
        app.remove()
    return target


# --- the run ---------------------------------------------------------------------------------


def warm_up_server(server, manifest: dict) -> dict:  # type: ignore[no-untyped-def]
    """Untimed SELECT + STATUS on both folders: Dovecot indexes the new Maildir files."""
    import imapclient

    context = ssl.create_default_context(cafile=server.ca_file)
    started = time.perf_counter()
    counts = {}
    with imapclient.IMAPClient(server.host, server.port, ssl=True, ssl_context=context) as client:
        client.login(USER, PASSWORD)
        for folder in FOLDERS:
            counts[folder] = client.select_folder(folder, readonly=True)[b"EXISTS"]
            client.folder_status(folder, ["MESSAGES", "UIDNEXT", "UIDVALIDITY"])
    expected = {FOLDERS[0]: manifest["folders"]["INBOX"], FOLDERS[1]: manifest["folders"]["Sent"]}
    if counts != expected:
        raise SystemExit(f"Dovecot sees {counts}, expected {expected}")
    return {"seconds": time.perf_counter() - started, "counts": counts}


def describe_code(snapshot: str | None) -> dict:
    """Pick the tree to measure (working tree, or a commit exported to bench/out)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    if snapshot is None:
        dirty = bool(git("status", "--porcelain", "--", "dashboard"))
        return {"tree": "working tree", "head": git("rev-parse", "HEAD"), "dashboard_dirty": dirty}
    sha = git("rev-parse", f"{snapshot}^{{commit}}")
    target = OUT / f"code-{sha[:12]}"
    if not (target / "dashboard").exists():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive.stdout, check=True)
        partial.rename(target)
    LeadSync.code = target
    return {"tree": f"snapshot of {sha}", "head": sha, "path": str(target)}


def start_relay(server, latency_ms: float) -> tuple[subprocess.Popen, SimpleNamespace]:  # type: ignore[no-untyped-def]
    """The delaying relay (bench/latency_relay.py) in front of Dovecot, half the round trip
    each way; returns it and the endpoint the contenders use instead of the server's."""
    relay = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "latency_relay.py"), "--target",
         f"{server.host}:{server.port}", "--delay-ms", str(latency_ms / 2)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    port = json.loads(relay.stdout.readline())["port"]
    MACHINE.relay_pid = relay.pid
    # Same host and CA: TLS runs end to end through the relay, the certificate still matches.
    return relay, SimpleNamespace(host=server.host, port=port, ca_file=server.ca_file)


def mailbox_owner(path: Path) -> tuple[int, int]:
    """uid/gid Dovecot runs the mail user as (the owner of the user's home)."""
    info = path.stat()
    return info.st_uid, info.st_gid


COMPARE: Path | None = None  # --compare: a second tree (a prototype), measured in the same runs
FLOOR_PLAN: Path | None = None  # the lean-fetch floor's plan (floor_plan), made once per benchmark


def one_pass(server, workdir: Path, order: list[str], idle_rounds: int, mbsync: bool) -> dict:  # type: ignore[no-untyped-def]
    """Every contender once, in the given order."""
    result: dict = {}
    for name in order:
        if name == "download":
            result["download"] = run_download(server)
        elif name == "mbsync" and mbsync:
            result["mbsync"] = run_mbsync(server, workdir)
        elif name == "floor" and FLOOR_PLAN:
            result["floor"] = run_floor(server, FLOOR_PLAN)
        elif name == "leadsync":
            result["leadsync"] = run_leadsync(server, workdir, idle_rounds)
        elif name == "compare":
            result["compare"] = run_leadsync(server, workdir, idle_rounds, COMPARE)
        print(f"  {name}: done", file=sys.stderr, flush=True)
    return result


def summarize(n: int, runs: list[dict]) -> dict:
    """Medians and per-run ratios, for LeadSync (and the --compare tree when measured)."""
    a = [r["download"]["wall"] for r in runs]
    a_inner = [r["download"]["seconds"] for r in runs]
    m = [r["mbsync"]["wall"] for r in runs if "mbsync" in r]
    summary: dict = {
        "download_wall": median(a), "download_inner": median(a_inner),
        "mbsync_wall": median(m) if len(m) == len(runs) else None,
    }  # fmt: skip
    f = [r["floor"]["wall"] for r in runs if "floor" in r]
    f_inner = [r["floor"]["seconds"] for r in runs if "floor" in r]
    if f and len(f) != len(runs):
        f = f_inner = []
    summary["floor_wall"], summary["floor_inner"] = (
        (median(f), median(f_inner)) if f else (None, None)
    )
    for key in ("leadsync", "compare"):
        if key not in runs[0]:
            continue
        b = [r[key]["first"]["wall"] for r in runs]
        b_round = [r[key]["first"]["seconds"] for r in runs]
        summary[key] = {
            "wall": median(b), "round": median(b_round),
            "idle_round": median([i["seconds"] for r in runs for i in r[key]["idle"]]),
            "maxrss_mb": max(r[key]["first"]["maxrss_mb"] for r in runs),
            "speedup_vs_download": [x / y for x, y in zip(a, b, strict=True)],
            "speedup_vs_download_inner": [x / y for x, y in zip(a_inner, b_round, strict=True)],
            "speedup_vs_mbsync": (
                [x / y for x, y in zip(m, b, strict=True)] if summary["mbsync_wall"] else []
            ),
            "vs_floor": [y / x for x, y in zip(f, b, strict=True)] if f else [],
            "vs_floor_inner": [y / x for x, y in zip(f_inner, b_round, strict=True)] if f else [],
            "ms_per_message_wall": median(b) / n * 1000,
            "ms_per_message_round": median(b_round) / n * 1000,
        }  # fmt: skip
    return summary


LABELS = {"leadsync": "(b) LeadSync", "compare": "(b') prototype (--compare)"}


def table(n: int, runs: list[dict], summary: dict) -> str:
    """The printed (markdown) table."""

    def row(name: str, values: list[float], speed: str = "") -> str:
        med = median(values)
        each = ", ".join(f"{v:.2f}" for v in values)
        return f"| {name} | {med:.2f} | {n / med:,.0f} | {speed} | {each} |"

    def ratio(values: list[float]) -> str:
        return f"{median(values):.2f}x ({', '.join(f'{v:.2f}' for v in values)})" if values else "-"

    lines = [
        "| contender | median s | messages/s | speed-up (median of per-run ratios, same run) "
        "| runs (s) |",
        "| --- | ---: | ---: | --- | --- |",
        row("(a) imapclient full download, process wall", [r["download"]["wall"] for r in runs]),
        row("(a) same, in-process", [r["download"]["seconds"] for r in runs]),
    ]
    if summary["mbsync_wall"] is not None:
        lines.append(row("mbsync (isync) pull, process wall", [r["mbsync"]["wall"] for r in runs]))
    if summary["floor_wall"] is not None:
        lines.append(row("(f) lean-fetch floor, process wall", [r["floor"]["wall"] for r in runs]))
        lines.append(row("(f) same, in-process", [r["floor"]["seconds"] for r in runs]))
    notes = []
    for key in ("leadsync", "compare"):
        if key not in summary:
            continue
        s, label = summary[key], LABELS[key]
        lines.append(
            row(
                f"{label} first sync, CLI process wall",
                [r[key]["first"]["wall"] for r in runs],
                f"vs (a): {ratio(s['speedup_vs_download'])}; vs mbsync: "
                f"{ratio(s['speedup_vs_mbsync'])}; time / (f): {ratio(s['vs_floor'])}",
            )  # fmt: skip
        )
        lines.append(
            row(
                f"{label} first sync, round s (--json)",
                [r[key]["first"]["seconds"] for r in runs],
                f"vs (a) in-process: {ratio(s['speedup_vs_download_inner'])}; time / (f) "
                f"in-process: {ratio(s['vs_floor_inner'])}",
            )  # fmt: skip
        )
        idle = [i["seconds"] for r in runs for i in r[key]["idle"]]
        notes += [
            f"{label}:",
            f"- (c) no-change round, in-process (--json seconds): median {median(idle):.4f} s "
            f"(all rounds: {', '.join(f'{v:.4f}' for v in idle)})",
            f"- (d) peak RSS of the first-sync process: max {s['maxrss_mb']:.0f} MB "
            f"(runs: {', '.join(str(round(r[key]['first']['maxrss_mb'])) for r in runs)})",
            f"- time per message, first sync: {s['ms_per_message_wall']:.3f} ms (CLI wall), "
            f"{s['ms_per_message_round']:.3f} ms (round)",
            f"- settle round after the first sync fetched "
            f"{', '.join(str(r[key]['settle']['fetched']) for r in runs)} messages (runs)",
        ]
    lines += ["", *notes, "",
              "| per run: CPU s of the process / Dovecot CPU s / foreign CPU s (other sessions) "
              "/ waited for quiet s | " + " | ".join(f"run {i + 1}" for i in range(len(runs)))
              + " |", "| --- |" + " --- |" * len(runs)]  # fmt: skip
    contenders = [("(a) download", lambda r: r["download"]), ("mbsync", lambda r: r.get("mbsync")),
                  ("(f) floor", lambda r: r.get("floor"))]  # fmt: skip
    contenders += [(LABELS[k], lambda r, k=k: r[k]["first"]) for k in ("leadsync", "compare")
                   if k in summary]  # fmt: skip
    for name, pick in contenders:
        cells = []
        for r in runs:
            m = pick(r)
            cells.append(
                f"{m['cpu']:.1f} / {m.get('dovecot_cpu', float('nan')):.1f} / "
                f"{m.get('foreign_cpu', float('nan')):.1f} / {m.get('waited_for_quiet', 0):.0f}"
                if m
                else "-"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Generate, serve, measure, print."""
    if "--download" in sys.argv[1:]:
        download_main(sys.argv[1:])
        return
    if "--floor" in sys.argv[1:]:
        floor_main(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size-scale", type=float, default=1.0,
                        help="scale attachment sizes (e.g. 0.5 when disk is short)")  # fmt: skip
    parser.add_argument("--idle-rounds", type=int, default=3, help="no-change rounds per run")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up pass")
    parser.add_argument("--warmup-floor-only", action="store_true",
                        help="warm up with the floor alone (it asks Dovecot for every "
                        "BODYSTRUCTURE, as LeadSync does): a shorter warm-up")  # fmt: skip
    parser.add_argument("--no-mbsync", action="store_true")
    parser.add_argument("--no-floor", action="store_true", help="skip the lean-fetch floor (f)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="every contender reaches Dovecot through a loopback relay adding "
                        "this much per round trip (half each way; bench/latency_relay.py)")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="one extra first sync under py-spy")
    parser.add_argument("--compare", metavar="DIR", type=Path,
                        help="also measure the LeadSync of another source tree (a prototype "
                        "copy) in the same runs")  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="max seconds to wait for an idle machine before each contender "
                        "(0: do not wait)")  # fmt: skip
    parser.add_argument("--snapshot", metavar="REV",
                        help="measure the committed tree of REV (git archive into bench/out) "
                        "instead of the working tree, which others may be editing")  # fmt: skip
    args = parser.parse_args()

    from tests.support.servers.dovecot import DovecotServer

    OUT.mkdir(exist_ok=True)
    code = describe_code(args.snapshot)
    global COMPARE  # noqa: PLW0603
    COMPARE = args.compare.resolve() if args.compare else None
    code["compare"] = str(COMPARE) if COMPARE else None
    mbsync = not args.no_mbsync and shutil.which("mbsync") is not None
    if not mbsync and not args.no_mbsync:
        print("mbsync not installed (Debian package isync): skipping it", file=sys.stderr)
    began = time.perf_counter()
    source = mailgen.generate(OUT, args.messages, args.seed, args.size_scale)
    manifest = json.loads((source / "manifest.json").read_text())
    print(f"mailbox: {json.dumps(manifest)} ({time.perf_counter() - began:.1f} s)", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    server = DovecotServer(layout="gmail_pt").start()
    MACHINE.dovecot_pid = server._proc.pid if server._proc else None  # noqa: SLF001
    MACHINE.quiet_wait = args.quiet_wait
    record: dict = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},  # fmt: skip
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "code": code,
        "manifest": manifest, "runs": [],
    }  # fmt: skip
    relay: subprocess.Popen | None = None
    try:
        server.add_user(USER, PASSWORD)
        home = server.directory / "mail" / "acme.test" / "rep1"
        started = time.perf_counter()
        mailgen.install(source, home / "Maildir", *mailbox_owner(home))
        record["install_seconds"] = time.perf_counter() - started
        record["server_warmup"] = warm_up_server(server, manifest)
        print(f"server indexed in {record['server_warmup']['seconds']:.1f} s", file=sys.stderr)
        endpoint = server
        if args.latency_ms:
            relay, endpoint = start_relay(server, args.latency_ms)
            record["relay"] = {"latency_ms": args.latency_ms, "port": endpoint.port}
        if not args.no_floor:
            global FLOOR_PLAN  # noqa: PLW0603
            started = time.perf_counter()
            FLOOR_PLAN = floor_plan(
                endpoint, workdir, source.with_name(f"floor-plan-{source.name}.json")
            )
            print(f"floor plan made in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        order = ["download", "mbsync", "floor", "leadsync"] + (["compare"] if COMPARE else [])
        order = [name for name in order if name != "floor" or FLOOR_PLAN]
        if not args.no_warmup:
            print("warm-up pass (untimed):", file=sys.stderr)
            warm = ["floor"] if args.warmup_floor_only and FLOOR_PLAN else order
            record["warmup"] = one_pass(endpoint, workdir, warm, 1, mbsync)
        for index in range(args.runs):
            shift = index % len(order)
            rotated = order[shift:] + order[:shift]
            print(f"run {index + 1}/{args.runs} ({', '.join(rotated)}):", file=sys.stderr)
            record["runs"].append(one_pass(endpoint, workdir, rotated, args.idle_rounds, mbsync))
        if args.profile:
            record["profile"] = str(profile_leadsync(endpoint, workdir, args.messages))
    finally:
        if relay is not None:
            relay.kill()
            relay.wait()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if not record["runs"]:  # --runs 0: only the warm-up pass and/or the profile
        print(json.dumps({k: record.get(k) for k in ("warmup", "profile")}, default=str))
        return
    record["summary"] = summarize(args.messages, record["runs"])
    text = table(args.messages, record["runs"], record["summary"])
    record["table"] = text
    target = OUT / f"results-n{args.messages}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps(record, indent=2, default=str))
    print(
        f"\n{args.messages:,} messages ({manifest['bytes'] / 1e6:,.0f} MB, "
        f"{manifest['mean_bytes'] / 1000:.0f} KB/message), {args.runs} runs, "
        f"{os.cpu_count()} CPUs; raw figures: {target.relative_to(ROOT)}\n"
    )
    print(text)
    warm = record.get("warmup")
    if warm:
        parts = [f"(a) {warm['download']['wall']:.2f} s"] if "download" in warm else []
        if "floor" in warm:
            parts.append(f"(f) {warm['floor']['wall']:.2f} s")
        if "mbsync" in warm:
            parts.append(f"mbsync {warm['mbsync']['wall']:.2f} s")
        for key in ("leadsync", "compare"):
            if key in warm:
                first = warm[key]["first"]
                parts.append(
                    f"{LABELS[key]} {first['wall']:.2f} s wall / {first['seconds']:.2f} s round"
                )
        print(
            "\nwarm-up pass (Dovecot's cache cold for the first LeadSync only; order "
            f"{', '.join(k for k in warm)}): " + ", ".join(parts)
        )
    for key in ("leadsync", "compare"):
        if key not in record["runs"][0]:
            continue
        first, settle = record["runs"][0][key]["first"], record["runs"][0][key]["settle"]
        print(
            f"{LABELS[key]} counts (run 1): fetched {first['fetched']}, stored {first['stored']}, "
            f"skipped {first['skipped']}, leads created {first['leads_created']}; settle round "
            f"fetched {settle['fetched']} stored {settle['stored']} in {settle['seconds']:.3f} s"
        )
    with contextlib.suppress(KeyError):
        print(f"profile: {record['profile']}")


if __name__ == "__main__":
    main()

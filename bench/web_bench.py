"""Web benchmark (issue 5): the lead list and the lead page under load, served as `make run`.

Run: .venv/bin/python bench/web_bench.py [--leads 20000 --emails 300000 --seconds 30
     --concurrency 8]

1. Builds (once, cached under bench/out/, see bench/webdata.py) an instance with `--leads`
   leads and `--emails` emails of realistic sizes, one lead with exactly 2,000 emails, and
   copies it to a throwaway instance folder for this run (the cache stays pristine).
2. Serves it exactly as `make run` does: `python run.py --port <free>` with
   LEADSYNC_INSTANCE set (waitress, 8 threads, the scheduler; no mailbox has a secret, so
   sync rounds do nothing).
3. Drives it from a second process (`web_bench.py --drive`): logs in once as rep1 through
   the login form (CSRF token scraped), then `--concurrency` threads, each with its own
   keep-alive http.client connection and the session cookie, request one scenario for
   `--warmup` seconds (not recorded) and `--seconds` seconds (recorded), scenario after
   scenario. Closed loop: a thread sends its next request when the previous one is answered.
4. After the load, in this process (server stopped), replays each scenario serially through
   Flask's test client on the same database, counting SQL statements and SQL time per
   request (SQLAlchemy cursor events): the cost of one request without contention.

Also recorded per scenario: the CPU time of the server (run.py and any child process) per
request, and the CPU used meanwhile by other processes (the machine may be shared: read the
"other load" column before comparing runs).

Prints a table and writes it into the "## Web (issue 5)" section of bench/RESULTS.md (only
its "### Latest run" part; everything else in the file is left as it is). Raw figures go to
bench/out/web-results-*.json.

Experiments (not written to RESULTS.md): `--app-root DIR` serves and replays another checkout
(a scratch copy with a fix), `--instance DIR` uses an instance folder as is, `--server-args`
passes options to run.py, `--scenarios` adds search-2-many / search-common / search-none, and
`--profile` samples the server with py-spy --gil (bench/out/web-profile-<scenario>.txt,
collapsed stacks).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Web (issue 5)"
LATEST = "### Latest run"
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

# name, path template, p95 target in ms
SCENARIOS = {
    "list": ("/leads/", 50),
    "filter-reply": ("/leads/?owner=me&status=reply", 50),
    "filter-awaiting": ("/leads/?owner=me&status=awaiting", 50),
    "search": ("/leads/?q={word}", 150),
    "lead": ("/leads/{big}", 50),
    # search-as-you-type's first keystrokes: names, companies and addresses only
    "search-1": ("/leads/?q=p", 50),  # words starting with "p": a quarter of the leads
    "search-2": ("/leads/?q=pr", 50),  # the second keystroke of "proposta"
    # extras (--scenarios ...): what search-as-you-type also sends
    "search-2-many": ("/leads/?q=pa", 50),  # a second keystroke that matches 4,000 leads
    "search-common": ("/leads/?q=proposta", 150),  # a word in half the emails
    "search-none": ("/leads/?q=xyzzyq", 150),  # nothing matches: every lead is looked at
}
DEFAULT_SCENARIOS = [
    "list", "filter-reply", "filter-awaiting", "search", "search-1", "search-2", "lead",
]  # fmt: skip
USER_AGENT = "leadsync-web-bench/1"


# --- the load generator, run as `web_bench.py --drive <json>` in its own process ---------


def login(host: str, port: int, email: str, password: str) -> str:
    """Log in through the form; return the Cookie header value of the new session."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/login", headers={"User-Agent": USER_AGENT})
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if not token or not cookie:
        raise SystemExit(f"no CSRF token or cookie on /login (status {response.status})")
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "email": email, "password": password}
    )
    conn.request(
        "POST",
        "/login",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "User-Agent": USER_AGENT,
        },
    )
    response = conn.getresponse()
    response.read()
    session = response.getheader("Set-Cookie", "").split(";", 1)[0]
    if response.status != 302 or not session:
        raise SystemExit(f"login failed: status {response.status}")
    conn.close()
    return session


def check(host: str, port: int, cookie: str, path: str) -> dict:
    """One request to see that the page works, and what it shows."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("GET", path, headers={"Cookie": cookie, "User-Agent": USER_AGENT})
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    conn.close()
    return {
        "status": response.status,
        "bytes": len(body),
        "rows": body.count("<tr>") - body.count("<thead><tr>"),
        "threads": body.count('<article class="thread'),
    }


def process_cpu(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def process_tree(pid: int) -> list[int]:
    """The server and its child processes (a server may fork workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return [pid, *children]


def cpu_snapshot(server_pid: int | None) -> dict:
    """CPU seconds so far: the server process, this process, and the whole machine (busy)."""
    ticks = os.sysconf("SC_CLK_TCK")
    snap = {"driver": sum(os.times()[:2]), "server": 0.0, "busy": 0.0}
    with contextlib.suppress(OSError, ValueError, IndexError):
        if server_pid:
            snap["server"] = sum(process_cpu(pid) for pid in process_tree(server_pid)) / ticks
        cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        snap["busy"] = (sum(cpu[:8]) - cpu[3] - cpu[4]) / ticks
    return snap


def hammer(  # noqa: PLR0913
    host: str,
    port: int,
    cookie: str,
    path: str,
    concurrency: int,
    warmup: float,
    seconds: float,
    server_pid: int | None = None,
) -> dict:
    """`concurrency` keep-alive clients in a closed loop; latencies of the measured window."""
    headers = {"Cookie": cookie, "User-Agent": USER_AGENT}
    phase = {"record": False, "stop": False}
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    barrier = threading.Barrier(concurrency + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        mine = latencies[n]
        barrier.wait()
        while not phase["stop"]:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=120)
            elapsed = time.perf_counter() - started
            if phase["record"] and not phase["stop"]:
                if ok:
                    mine.append(elapsed)
                else:
                    errors[n] += 1
        conn.close()

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(concurrency)]
    for worker in workers:
        worker.start()
    barrier.wait()
    time.sleep(warmup)
    phase["record"] = True
    window_start, cpu_start = time.perf_counter(), cpu_snapshot(server_pid)
    time.sleep(seconds)
    phase["stop"] = True
    window, cpu_end = time.perf_counter() - window_start, cpu_snapshot(server_pid)
    for worker in workers:
        worker.join()
    merged = sorted(x for per in latencies for x in per)
    cpu = {k: cpu_end[k] - cpu_start[k] for k in cpu_start}
    return {"latencies": merged, "errors": sum(errors), "window": window, "cpu": cpu}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return float("nan")
    rank = max(1, min(len(values), round(p / 100 * len(values) + 0.5)))
    return values[rank - 1]


def summarize(run: dict) -> dict:
    """Figures of one scenario in milliseconds."""
    values = run["latencies"]
    cpu, window = run["cpu"], run["window"]
    return {
        "server_cpu_ms": cpu["server"] / max(1, len(values)) * 1000,
        "server_cores": cpu["server"] / window,
        "others_cores": max(0.0, cpu["busy"] - cpu["server"] - cpu["driver"]) / window,
        "driver_cores": cpu["driver"] / window,
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
        "requests": len(values),
        "errors": run["errors"],
        "rps": len(values) / run["window"],
        "p50": percentile(values, 50) * 1000,
        "p95": percentile(values, 95) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": (values[-1] * 1000) if values else float("nan"),
        "mean": (statistics.fmean(values) * 1000) if values else float("nan"),
    }


def drive_main(argv: list[str]) -> None:
    """The second process: log in, then run each scenario; print JSON on stdout."""
    config = json.loads(argv[0])
    host, port = config["host"], config["port"]
    cookie = login(host, port, config["email"], config["password"])
    results = {}
    for name, path in config["scenarios"]:
        info = check(host, port, cookie, path)
        if info["status"] != 200:
            raise SystemExit(f"{name}: {path} answered {info['status']}")
        if config.get("profile_pid"):
            profile = subprocess.Popen(  # noqa: S603
                [
                    config["py_spy"], "record", "-p", str(config["profile_pid"]), "-r", "200",
                    "-d", str(int(config["warmup"] + config["seconds"])), "--format", "raw",
                    "--gil", "-o", str(OUT / f"web-profile-{name}.txt"), "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        run = hammer(
            host,
            port,
            cookie,
            path,
            config["concurrency"],
            config["warmup"],
            config["seconds"],
            config.get("server_pid"),
        )
        if config.get("profile_pid"):
            profile.wait(timeout=60)
        results[name] = {"path": path, **info, **summarize(run)}
        print(f"  {name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    print(json.dumps(results))


# --- serving ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    """Block until the server answers /login."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"run.py exited with {server.returncode}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("run.py did not come up")


@contextlib.contextmanager
def served(instance: Path, log_path: Path, app_root: Path = ROOT, extra: list[str] = ()):  # type: ignore[no-untyped-def]
    """`python run.py --port <free>` with LEADSYNC_INSTANCE set, as `make run` does."""
    port = free_port()
    env = {**os.environ, "LEADSYNC_INSTANCE": str(instance)}
    with open(log_path, "w") as log:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "run.py", "--port", str(port), *extra],
            cwd=app_root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(port, server)
            yield port, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# --- serial replay: SQL statements and service time per request ----------------------------


def serial_main(argv: list[str]) -> None:
    """`web_bench.py --serial <json>`: serial_costs in a process importing the app under test."""
    config = json.loads(argv[0])
    sys.path.insert(0, config["app_root"])
    costs = serial_costs(
        Path(config["instance"]), config["meta"], config["paths"], config["repeat"]
    )
    print(json.dumps(costs))


def serial_costs(instance: Path, meta: dict, paths: dict[str, str], repeat: int) -> dict:
    """Each page `repeat` times, one at a time, through the test client: ms, SQL count/ms."""
    from sqlalchemy import event

    from dashboard import create_app

    app = create_app({"INSTANCE_PATH": str(instance)})
    engine = app.extensions["leadsync.engine"]
    counter = {"n": 0, "sql": 0.0, "t": 0.0}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(*_args) -> None:  # type: ignore[no-untyped-def]
        counter["n"] += 1
        counter["t"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(*_args) -> None:  # type: ignore[no-untyped-def]
        counter["sql"] += time.perf_counter() - counter["t"]

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login", data={"csrf_token": token, "email": meta["login"], "password": meta["password"]}
    )
    assert answer.status_code == 302, answer.status_code
    costs = {}
    for name, path in paths.items():
        client.get(path)  # warm
        walls, cpus, sqls, counts = [], [], [], set()
        for _ in range(repeat):
            counter["n"], counter["sql"] = 0, 0.0
            started, cpu = time.perf_counter(), time.thread_time()
            response = client.get(path)
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((time.thread_time() - cpu) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            sqls.append(counter["sql"] * 1000)
            counts.add(counter["n"])
        costs[name] = {
            "serial_ms": statistics.median(walls),
            "cpu_ms": statistics.median(cpus),
            "sql_ms": statistics.median(sqls),
            "statements": sorted(counts),
        }
    engine.dispose()
    return costs


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    """CPU model, cores, memory, OS, Python and SQLite versions."""
    import sqlite3

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def table(results: dict, costs: dict) -> list[str]:
    """The Markdown table of a run."""
    lines = [
        "| scenario | URL | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | p95 target "
        "| met | server CPU ms/req | SQL stmts/req | alone: wall / CPU / SQL ms | other load "
        "| rows or threads, KB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        target = SCENARIOS[name][1]
        c = costs.get(name, {})
        statements = "/".join(str(n) for n in c.get("statements", [])) or "–"
        alone = f"{c['serial_ms']:.1f} / {c['cpu_ms']:.1f} / {c['sql_ms']:.1f}" if c else "–"
        shown = r["threads"] if name == "lead" else r["rows"]
        errors = f" ({r['errors']} errors)" if r["errors"] else ""
        lines.append(
            f"| {name} | `{r['path']}` | {r['requests']:,}{errors} | {r['rps']:.1f} "
            f"| {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['max']:.0f} | {target} "
            f"| {'yes' if r['p95'] < target else '**no**'} | {r['server_cpu_ms']:.1f} "
            f"| {statements} | {alone} | {r['others_cores']:.2f} cores | {shown}, "
            f"{r['bytes'] / 1024:.0f} |"
        )
    return lines


def section_text(args: argparse.Namespace, meta: dict, results: dict, costs: dict) -> str:
    """The "### Latest run" part of the Web section."""
    command = " ".join(["python bench/web_bench.py", *sys.argv[1:]])
    sizes = (
        f"{meta['rows_lead']:,} leads ({meta['rows_leadaddress']:,} addresses), "
        f"{meta['rows_email']:,} emails (body text {meta['avg_body_text'] / 1024:.1f} KB on "
        f"average, {meta['html_share'] * 100:.0f}% with HTML too), "
        f"{meta['rows_emaillead']:,} email-lead links, "
        f"{meta['rows_sighting']:,} sightings, {meta['rows_attachment']:,} attachment rows, "
        f"{len(meta['reps'])} reps with mailboxes; database {meta['db_bytes'] / 1e9:.2f} GB; "
        f"the lead page's lead has {meta['big_lead_emails']:,} emails; the search word "
        f"({meta['rare_word']}, typed without the accent) is in {meta['rare_word_emails']} emails"
    )
    return "\n".join(
        [
            LATEST,
            "",
            f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            f"- Machine: {machine()}",
            f"- Command: `{command}` (concurrency {args.concurrency}, {args.seconds:g} s per "
            f"scenario after {args.warmup:g} s of warm-up; server: `run.py`, waitress 8 threads "
            "+ scheduler; load generator: a second process, keep-alive http.client threads, "
            "closed loop, logged in as rep1)",
            f"- Data: {sizes}",
            "- server CPU ms/req: CPU time of the run.py process (and any children) during "
            "the window / requests. "
            "Other load: CPU used meanwhile by processes other than the server and the load "
            "generator (the machine is shared; 2 cores in all). The load generator itself used "
            + ", ".join(f"{r['driver_cores']:.2f}" for r in results.values())
            + " cores (per scenario).",
            '- SQL statements/req and "alone": the same page requested alone through Flask\'s '
            f"test client after the load (median of {args.serial_repeat}): wall ms, thread CPU "
            "ms, and ms inside cursor.execute (SQL: SQLite's work up to each first row).",
            "",
            *table(results, costs),
            "",
        ]
    )


def write_results(text: str) -> None:
    """Replace (or add) our "### Latest run" inside the Web section; touch nothing else."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        body = current.rstrip("\n") + f"\n\n{SECTION}\n\n{text}\n"
        RESULTS.write_text(body)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    part = lines[start + 1 : end]
    first = next((i for i, line in enumerate(part) if line.strip() == LATEST), None)
    if first is None:
        part = ["", *text.rstrip("\n").splitlines(), "", *part]
    else:
        last = next(
            (i for i in range(first + 1, len(part)) if part[i].startswith("### ")), len(part)
        )
        part = part[:first] + text.rstrip("\n").splitlines() + [""] + part[last:]
    new = lines[: start + 1] + part + lines[end:]
    RESULTS.write_text("\n".join(new).rstrip("\n") + "\n")


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Web benchmark (issue 5).")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--emails", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--scenarios", default=",".join(DEFAULT_SCENARIOS), help=f"of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--serial-repeat", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached database")
    parser.add_argument("--instance", help="use this instance folder as is (no copy, no build)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway instance")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    parser.add_argument(
        "--server-args", default="", help='extra run.py arguments, e.g. "--threads 4" (experiments)'
    )
    parser.add_argument(
        "--app-root", default=str(ROOT), help="serve this checkout (a scratch copy to try a fix)"
    )
    parser.add_argument(
        "--during-import",
        action="store_true",
        help="the import scenario instead (bench/web_import.py): pages and writes while run.py "
        "imports a generated mailbox from Dovecot, the sync in-process vs in a child",
    )
    parser.add_argument("--modes", default="thread,child", help="--during-import: thread,child")
    parser.add_argument("--messages", type=int, default=10_000, help="--during-import: mailbox")
    parser.add_argument("--rounds", type=int, default=1, help="--during-import: repetitions")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.during_import:
        import web_import

        web_import.main(args)
        return
    import webdata

    OUT.mkdir(parents=True, exist_ok=True)
    if args.instance:
        source = Path(args.instance)
    else:
        source = webdata.build(args.leads, args.emails, args.seed, rebuild=args.rebuild)
    meta = json.loads((source / "meta.json").read_text())
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    word = meta["rare_word"].replace("ô", "o")  # accents folded by the search
    paths = {
        n: SCENARIOS[n][0].format(word=urllib.parse.quote(word), big=meta["big_lead_id"])
        for n in names
    }
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.instance:
        instance, scratch = source, None
    else:
        scratch = Path(tempfile.mkdtemp(prefix="web-bench-", dir=OUT))
        instance = scratch / "instance"
        print(f"copying the database to {instance} ...", flush=True)
        shutil.copytree(source, instance)
    try:
        app_root = Path(args.app_root).resolve()
        extra = args.server_args.split()
        with served(instance, OUT / f"web-server-{stamp}.log", app_root, extra) as (port, server):
            config = {
                "host": "127.0.0.1",
                "port": port,
                "email": meta["login"],
                "password": meta["password"],
                "scenarios": [[n, paths[n]] for n in names],
                "concurrency": args.concurrency,
                "warmup": args.warmup,
                "seconds": args.seconds,
                "server_pid": server.pid,
            }
            if args.profile:
                config["profile_pid"] = server.pid
                config["py_spy"] = str(Path(sys.executable).with_name("py-spy"))
            print(f"serving on port {port}; driving {', '.join(names)} ...", flush=True)
            driver = subprocess.run(  # noqa: S603
                [sys.executable, __file__, "--drive", json.dumps(config)],
                capture_output=True,
                text=True,
                check=False,
            )
            sys.stderr.write(driver.stderr)
            if driver.returncode:
                raise SystemExit(f"load generator failed ({driver.returncode})")
            results = json.loads(driver.stdout.strip().splitlines()[-1])
        print("replaying each page serially (SQL statements, service time) ...", flush=True)
        serial = subprocess.run(  # noqa: S603
            [
                sys.executable, __file__, "--serial",
                json.dumps({"app_root": str(app_root), "instance": str(instance), "meta": meta,
                            "paths": paths, "repeat": args.serial_repeat}),
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if serial.returncode:
            sys.stderr.write(serial.stderr)
            raise SystemExit("serial replay failed")
        costs = json.loads(serial.stdout.strip().splitlines()[-1])
    finally:
        if scratch and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    raw = OUT / f"web-results-{stamp}.json"
    raw.write_text(
        json.dumps({"args": vars(args), "meta": meta, "results": results, "costs": costs}, indent=2)
    )
    text = section_text(args, meta, results, costs)
    print()
    print(text)
    if args.profile or args.no_write or app_root != ROOT or args.server_args or args.instance:
        print("(not written to bench/RESULTS.md)")
    else:
        write_results(text)
        print(f"written to {RESULTS.relative_to(ROOT)}; raw figures in {raw.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--drive":
        drive_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--drive-import":
        import web_import

        web_import.drive_import_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serial":
        serial_main(sys.argv[2:])
    else:
        main(sys.argv[1:])

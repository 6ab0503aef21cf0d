"""Serve LeadSync in one of three roles.

`web`: the pages (waitress) and the smart-email send queue, never the scheduler.
`sync`: the scheduler (sync rounds, retention purge, housekeeping); serves nothing.
`all` (the default, `make run`): both, from one command: the web in this process and the
sync in a supervised child process (`--role sync`), so that pages do not wait behind an
import's parsing in a shared interpreter (bench/RESULTS.md, "Web during an import").
The processes share the SQLite file (WAL, BEGIN IMMEDIATE writes, the mailbox lease).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from flask import Flask
from waitress import create_server

from dashboard import create_app
from dashboard.sending.outgoing import fail_interrupted
from dashboard.sync.process import ChildSupervisor, die_with_parent
from dashboard.sync.scheduler import start as start_scheduler
from dashboard.sync.scheduler import stop as stop_scheduler
from dashboard.web.proxy import trusted_hops

log = logging.getLogger("leadsync")
ROLES = ("all", "web", "sync")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Host and port: command line, else LEADSYNC_HOST/LEADSYNC_PORT, else 127.0.0.1:5000.
    Role: command line, else LEADSYNC_ROLE, else all."""
    parser = argparse.ArgumentParser(description="Serve the LeadSync dashboard.")
    parser.add_argument("--host", default=os.environ.get("LEADSYNC_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LEADSYNC_PORT", "5000")))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--role",
        choices=ROLES,
        default=os.environ.get("LEADSYNC_ROLE", "all"),
        help="web: pages only; sync: the scheduler only; all: both (default)",
    )
    parser.add_argument(
        "--in-process-sync",
        action="store_true",
        help="with --role all: run the sync in this process's threads, not in a child "
        "process (the benchmark's comparison; pages are slower during an import)",
    )
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # set by `all`
    args = parser.parse_args(argv)
    if args.role not in ROLES:  # LEADSYNC_ROLE is not checked by argparse's choices
        parser.error(f"--role must be one of {', '.join(ROLES)}, not {args.role!r}")
    return args


def configure_logging(role: str) -> None:
    """One format for every process; the role tells the web's lines from the sync's."""
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [{role}] %(name)s: %(message)s",
    )


def stop_on_signals() -> None:
    """Turn the first SIGTERM or Ctrl-C into a normal exit so the finally-blocks below run;
    ignore the next ones (Ctrl-C reaches the child too, then the parent's SIGTERM follows),
    which would otherwise interrupt the clean stop half way."""

    def exit_once(*_: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(0)

    signal.signal(signal.SIGTERM, exit_once)
    signal.signal(signal.SIGINT, exit_once)


def tune_garbage_collector() -> None:
    """Keep the collector off the start-up objects and run it less often.

    A page allocates thousands of short-lived objects; with the default thresholds the
    collector ran every ~700 allocations and regularly walked the app's ~110,000 long-lived
    objects (modules, SQLAlchemy metadata, templates): 0.25 ms per page on average, and a
    full pass now and then in some unlucky page's latency. Frozen objects are never walked.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def sync_child_command(args: argparse.Namespace) -> list[str]:
    """The command `all` runs its sync with: this script, same interpreter, `--role sync`."""
    script = str(Path(__file__).resolve())
    return [sys.executable, script, "--role", "sync", "--parent-pid", str(os.getpid())]


def run_sync(app: Flask, parent_pid: int | None) -> None:
    """The sync role: the scheduler until SIGTERM/Ctrl-C (or the parent's death)."""
    stop_on_signals()
    if parent_pid:
        die_with_parent(parent_pid)
    try:  # a stop may come while the scheduler and IDLE are still starting
        start_scheduler(app)
        log.info("LeadSync sync process (instance %s)", app.instance_path)
        threading.Event().wait()  # the scheduler's threads work; a signal ends the wait
    except (KeyboardInterrupt, SystemExit):
        log.info("stopping")
    finally:
        stop_scheduler(app)
        log.info("scheduler stopped")


def serve(app: Flask, args: argparse.Namespace) -> None:
    """The web role, and `all`: the pages, plus the sync in a child (or in this process)."""
    # waitress drops every X-Forwarded-* header by default; with trusted proxies they must
    # reach ProxyFix (dashboard/web/proxy.py), which believes only the proxies' own values.
    server = create_server(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        clear_untrusted_proxy_headers=not trusted_hops(app),
    )
    stop_on_signals()
    # The send queue lives in the web process. With several web processes sharing one
    # database this marks another live process's sends failed too (README, "Papéis").
    interrupted = fail_interrupted(app.extensions["leadsync.engine"])
    if interrupted:
        log.warning(
            "%d smart email(s) were being sent when LeadSync stopped: marked failed "
            "so their reps can check and retry",
            interrupted,
        )
    child = None
    if args.role == "all" and args.in_process_sync:
        start_scheduler(app)
    elif args.role == "all":
        child = ChildSupervisor(sync_child_command(args))
        child.start()
    tune_garbage_collector()
    log.info(
        "LeadSync on http://%s:%s (instance %s, role %s)",
        args.host,
        server.effective_port,
        app.instance_path,
        args.role,
    )
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopping")
    finally:
        server.close()
        if child is not None:
            child.stop()
        elif args.role == "all":
            stop_scheduler(app)
            log.info("scheduler stopped")
        app.extensions["leadsync.send_queue"].shutdown()


def main(argv: list[str] | None = None) -> None:
    """Start the role's parts; stop them cleanly on Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    configure_logging("sync" if args.role == "sync" else "web")
    app = create_app()
    if args.role == "sync":
        run_sync(app, args.parent_pid)
    else:
        serve(app, args)


if __name__ == "__main__":
    main()

"""Serve LeadSync: waitress for the web, APScheduler in the same process for sync."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys

from waitress import create_server

from dashboard import create_app
from dashboard.sending.outgoing import fail_interrupted
from dashboard.sync.scheduler import start as start_scheduler
from dashboard.web.proxy import trusted_hops

log = logging.getLogger("leadsync")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Host and port: command line, else LEADSYNC_HOST/LEADSYNC_PORT, else 127.0.0.1:5000."""
    parser = argparse.ArgumentParser(description="Serve the LeadSync dashboard.")
    parser.add_argument("--host", default=os.environ.get("LEADSYNC_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LEADSYNC_PORT", "5000")))
    parser.add_argument("--threads", type=int, default=8)
    return parser.parse_args(argv)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so the finally-blocks below run."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def tune_garbage_collector() -> None:
    """Keep the collector off the start-up objects and run it less often.

    A page allocates thousands of short-lived objects; with the default thresholds the
    collector ran every ~700 allocations and regularly walked the app's ~110,000 long-lived
    objects (modules, SQLAlchemy metadata, templates): 0.25 ms per page on average, and a
    full pass now and then in some unlucky page's latency. Frozen objects are never walked.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def main(argv: list[str] | None = None) -> None:
    """Start the scheduler and the web server; stop both cleanly on Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = parse_args(argv)
    app = create_app()
    # waitress drops every X-Forwarded-* header by default; with trusted proxies they must
    # reach ProxyFix (dashboard/web/proxy.py), which believes only the proxies' own values.
    server = create_server(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        clear_untrusted_proxy_headers=not trusted_hops(app),
    )
    stop_on_sigterm()
    interrupted = fail_interrupted(app.extensions["leadsync.engine"])
    if interrupted:
        log.warning(
            "%d smart email(s) were being sent when LeadSync stopped: marked failed "
            "so their reps can check and retry",
            interrupted,
        )
    scheduler = start_scheduler(app)
    tune_garbage_collector()
    log.info(
        "LeadSync on http://%s:%s (instance %s)",
        args.host,
        server.effective_port,
        app.instance_path,
    )
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopping")
    finally:
        server.close()
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
        app.extensions["leadsync.send_queue"].shutdown()


if __name__ == "__main__":
    main()

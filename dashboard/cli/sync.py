"""`flask --app dashboard sync --once`: one sync round in the foreground, for operators."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from dashboard.db.flask import secret_box
from dashboard.sync.runner import RunResult, run_round
from dashboard.sync.scheduler import run_options


def result_dict(result: RunResult) -> dict[str, Any]:
    """A run's outcome as plain JSON-able data."""
    return {
        "address": result.address,
        "ran": result.ran,
        "seconds": round(result.seconds, 4),
        "error": result.error_code,
        "error_detail": result.error,
        **result.totals(),
        "folders": [{**asdict(f), "seconds": round(f.seconds, 4)} for f in result.folders],
    }


def print_text(results: list[dict]) -> None:
    """Per-folder counts, one line each."""
    for result in results:
        if not result["ran"]:
            click.echo(f"{result['address']}: skipped, another process is syncing it")
            continue
        status = f"error {result['error']}: {result['error_detail']}" if result["error"] else "ok"
        click.echo(f"{result['address']}: {status} ({result['seconds']:.2f} s)")
        for folder in result["folders"]:
            skipped = ", ".join(f"{k}={v}" for k, v in sorted(folder["skipped"].items()))
            click.echo(
                f"  {folder['folder']}: fetched={folder['fetched']} "
                f"stored={folder['stored']} seen-again={folder['seen_again']} "
                f"leads-created={folder['leads_created']} skipped[{skipped or '-'}] "
                f"{folder['seconds']:.2f} s"
            )


@click.command("sync")
@click.option("--once", is_flag=True, required=True, help="Run one round and exit.")
@click.option("--account", "address", help="Only this mailbox address (due or not).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@with_appcontext
def sync_command(once: bool, address: str | None, as_json: bool) -> None:
    """Run one sync round in the foreground and print per-folder counts."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = current_app
    started = time.perf_counter()
    results = run_round(
        app.extensions["leadsync.engine"],
        secret_box(app),
        run_options(app),
        address=address,
    )
    rows = [result_dict(r) for r in results]
    if as_json:
        click.echo(
            json.dumps(
                {"seconds": round(time.perf_counter() - started, 4), "mailboxes": rows},
                indent=2,
                default=str,
            )
        )
    else:
        print_text(rows)
    if any(r["error"] for r in rows):
        sys.exit(1)

"""Retention purge benchmark (issue 13): how long each write transaction of a purge of
100,000 emails holds SQLite's write lock.

Builds a fresh database (tests/support/bulk_mail.py: old emails with lead links, sightings,
attachment rows, full-text rows; a few recent ones that stay; a skip ledger half old), sets a
12-month retention and runs `dashboard.sync.retention.purge_expired` as the daily job does.
Prints how batches were sized, the number of write transactions, their max, p95 and median
times (time.perf_counter around each transaction, as the purge records them) and the totals.

    python bench/purge_bench.py [--emails 100000] [--body-bytes 2500] [--target-ms 80]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard.db.engine import make_engine  # noqa: E402
from dashboard.db.migrate import upgrade  # noqa: E402
from dashboard.sync import retention  # noqa: E402
from tests.support import factories  # noqa: E402
from tests.support.bulk_mail import fill  # noqa: E402
from tests.support.sync import set_company  # noqa: E402


def main() -> None:
    """Build, purge, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=100_000, help="old emails to purge")
    parser.add_argument("--recent", type=int, default=5_000, help="recent emails that stay")
    parser.add_argument("--ledger", type=int, default=20_000, help="ledger rows (half old)")
    parser.add_argument("--body-bytes", type=int, default=2_500, help="body text per email")
    parser.add_argument("--first-batch", type=int, default=retention.FIRST_BATCH)
    parser.add_argument("--target-ms", type=float, default=1000 * retention.TARGET_SECONDS)
    parser.add_argument("--pause", type=float, default=retention.PAUSE_SECONDS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="purge-bench-") as folder:
        path = Path(folder) / "leadsync.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        admin = factories.setup_company(engine)
        clock = time.perf_counter()
        fill(engine, admin.id, old=args.emails, recent=args.recent, ledger=args.ledger,
             body_bytes=args.body_bytes)  # fmt: skip
        built = time.perf_counter() - clock
        size_mb = path.stat().st_size / 1e6
        set_company(engine, retention_months=12)
        clock = time.perf_counter()
        report = retention.purge_expired(
            engine,
            datetime.now(UTC),
            first_batch=args.first_batch,
            pause=args.pause,
            target=args.target_ms / 1000,
        )
        took = time.perf_counter() - clock
        engine.dispose()
    ms = sorted(1000 * t for t in report.transactions)
    print(f"data: {args.emails:,} old + {args.recent:,} recent emails (~{args.body_bytes:,} B"
          f" bodies), {args.ledger:,} ledger rows; built in {built:.1f} s, {size_mb:,.0f} MB")  # fmt: skip
    print(f"deleted: {report.emails:,} emails, {report.ledger:,} ledger rows")
    print(f"batches sized by time: {args.first_batch} emails first, then aiming at"
          f" {args.target_ms:.0f} ms each; pause {1000 * args.pause:.0f} ms after each;"
          f" mean {report.emails / max(1, report.email_batches):.0f} emails per email batch")  # fmt: skip
    print(f"write transactions: {len(ms)}; max {ms[-1]:.1f} ms,"
          f" p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, median {statistics.median(ms):.1f} ms")  # fmt: skip
    print(f"whole purge: {took:.1f} s ({sum(ms) / 1000:.1f} s holding the write lock)")


if __name__ == "__main__":
    main()

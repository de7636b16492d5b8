#!/usr/bin/env python3
"""Recall benchmark: withdrawing a harvest batch with 10,000 descendant batches.

    .venv/bin/python scripts/bench_recall.py                        # SQLite file in bench-output/recall/
    .venv/bin/python scripts/bench_recall.py --database-url postgresql://postgres@127.0.0.1:5432/gi_recall_bench

The database is throwaway: every table is dropped and made again. The demo data (`flask demo-data`) gives
the harvest batch; 10,000 batches made from it go in with bulk inserts (scripts/bench_family.py, as for
scripts/bench_write.py): 100 lots, each split into sub-lots, one event each with a valid hash chain; one
sub-lot in a hundred was shipped to another owner (a shipment and a `transfer` link to the receiver's
batch), and one lot in ten has 10 unit codes. Every stored trace page is built before measuring.

Measured (through the app's own services, unit of work and pages):
- the recall commit: `tracing.services.withdraw` on the harvest (the withdrawal event and the recall's
  10,001 member rows, one INSERT … SELECT) and the commit (stored pages of the family taken out of use);
- the export: `flask --app gi_trace recall export`'s work (oversight.recalls: the affected batches with
  owner, kg on hand, shipped to whom and when, unit codes; XLSX with a unit-code sheet, and CSV),
  median of 5; target <= 2 s;
- scans `/t/<code>` of random descendants before the recall (a normal scan: stored page current) and
  right after the commit (no job has run: the scan checks the recall itself and answers 410), median
  of --scans each; target: descendant scan <= 2x a normal scan.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
WORK = ROOT / "bench-output" / "recall"

from bench_family import build, build_pages, fresh_database, say as _say  # noqa: E402  (the family bench_write uses)


def scans(app, codes: list[str], expect: int) -> list[float]:
    """Milliseconds per /t/<code> request through the whole app (test client: no network)."""
    client = app.test_client()
    times = []
    for code in codes:
        t0 = time.perf_counter()
        response = client.get(f"/t/{code}")
        response.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == expect, (code, response.status_code)
    return times


def recall_commit(app, ids) -> tuple[float, float, int]:
    """(service ms, commit ms, batches reached): the withdrawal through the service and the unit of work."""
    from gi_trace.accounts.models import User
    from gi_trace.db import commit, get_session
    from gi_trace.tracing import recall, services
    from gi_trace.tracing.models import Batch
    from gi_trace.tracing.models_recall import Recall

    with app.test_request_context():
        session = get_session()
        batch = session.get(Batch, ids.harvest)
        user = session.get(User, ids.owner)
        t0 = time.perf_counter()
        services.withdraw(session, user, batch, "bench: 黄曲霉毒素超标")
        t1 = time.perf_counter()
        commit(session)
        t2 = time.perf_counter()
        reached = recall.recall_for(session, batch)
        count = session.get(Recall, reached.recall_id).batches
    return (t1 - t0) * 1000, (t2 - t1) * 1000, count


def export_times(app, code: str, runs: int) -> dict:
    """Median seconds of the recall export (the CLI's work: rows + file) as XLSX and CSV."""
    from gi_trace.db import session_scope
    from gi_trace.oversight import recalls

    out = {}
    for kind in ("xlsx", "csv"):
        samples, size, rows = [], 0, 0
        for _ in range(runs):
            with app.app_context():
                t0 = time.perf_counter()
                with session_scope(app) as session:
                    recall = recalls.recall_of_batch(session, code)
                    affected = recalls.affected(session, recall)
                    data = recalls.export(session, recall, kind, affected)
                samples.append(time.perf_counter() - t0)
            size, rows = len(data), len(affected)
        out[kind] = (statistics.median(samples), rows, size)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{WORK / 'bench_recall.sqlite3'}",
                        help="throwaway database (default: a SQLite file in bench-output/recall/)")
    parser.add_argument("--descendants", type=int, default=10_000, help="batches made from the harvest")
    parser.add_argument("--fanout", type=int, default=100, help="lots of the harvest x sub-lots per lot")
    parser.add_argument("--scans", type=int, default=200, help="scans measured before and after the recall")
    parser.add_argument("--exports", type=int, default=5, help="export runs (the median is reported)")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.update({"GI_TRACE_INSTANCE": str(WORK / "instance"), "JOBS_URL": f"sqlite:///{WORK / 'jobs.sqlite3'}",
                       "SECRET_KEY": "bench-secret", "RATELIMIT_ENABLED": "0"})
    Path(WORK / "jobs.sqlite3").unlink(missing_ok=True)
    from gi_trace import create_app
    from gi_trace.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    _say(f"database: {url.split('@')[-1]}")
    fresh_database(url)
    # Scans written in the request (no write-behind thread), as the tests run them: each scan pays its write.
    app = create_app({"DATABASE_URL": url, "SCAN_FLUSH_SECONDS": 0, "RATELIMIT_ENABLED": False})
    started = time.perf_counter()
    ids = build(app, args.descendants, args.fanout, shipments=True, units=True)
    _say(f"  built in {time.perf_counter() - started:.0f} s; building every stored page ...")
    started = time.perf_counter()
    built = build_pages(app)
    _say(f"  {built:,} stored pages current after {time.perf_counter() - started:.0f} s")

    rnd = random.Random(7)
    before = rnd.sample(ids.codes, min(args.scans, len(ids.codes)))
    after = rnd.sample(ids.codes, min(args.scans, len(ids.codes)))
    scans(app, before[:20], 200)  # warm the process: reference cache, templates, prepared statements
    _say("  normal scans (before the recall) ...")
    normal = scans(app, before, 200)
    _say("  recalling the harvest ...")
    service_ms, commit_ms, reached = recall_commit(app, ids)
    _say("  scans of descendants right after the commit (no job has run) ...")
    first = scans(app, after[:1], 410)
    recalled = scans(app, after, 410)
    _say(f"  exports (median of {args.exports}) ...")
    exports = export_times(app, ids.harvest_code, args.exports)

    normal_ms, recalled_ms = statistics.median(normal), statistics.median(recalled)
    ratio = recalled_ms / normal_ms
    print(f"bench_recall ({backend}): harvest {ids.harvest_code} with {ids.descendants:,} descendant batches "
          f"({reached:,} recalled: the harvest, its demo lots and the {ids.descendants:,})")
    print(f"  recall: service {service_ms:8.1f} ms + commit {commit_ms:8.1f} ms = {service_ms + commit_ms:8.1f} ms")
    for kind, (seconds, rows, size) in exports.items():
        print(f"  export {kind:<4} {rows:,} rows, {size / 1024:,.0f} KB: median {seconds * 1000:8.1f} ms   "
              f"(target <= 2000 ms) {'ok' if seconds <= 2 else 'OVER'}")
    print(f"  scan, normal (stored page):           median {normal_ms:6.2f} ms  p90 "
          f"{statistics.quantiles(normal, n=10)[-1]:6.2f} ms  ({len(normal)} scans)")
    print(f"  scan, descendant after the commit:    median {recalled_ms:6.2f} ms  p90 "
          f"{statistics.quantiles(recalled, n=10)[-1]:6.2f} ms  (first {first[0]:.2f} ms; 410)")
    print(f"  descendant / normal: {ratio:.2f}x   (target <= 2x) {'ok' if ratio <= 2 else 'OVER'}")
    ok = ratio <= 2 and all(seconds <= 2 for seconds, _r, _s in exports.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

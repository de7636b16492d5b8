#!/usr/bin/env python3
"""Recall benchmark: withdrawing a harvest batch with 10,000 descendant batches.

    .venv/bin/python scripts/bench_recall.py                        # SQLite file in bench-output/recall/
    .venv/bin/python scripts/bench_recall.py --database-url postgresql://postgres@127.0.0.1:5432/gi_recall_bench

The database is throwaway: every table is dropped and made again. The demo data (`flask demo-data`) gives
the harvest batch; 10,000 batches made from it go in with bulk inserts, as in scripts/bench_write.py: 100
lots, each split into sub-lots, one event each with a valid hash chain; one sub-lot in a hundred was
shipped to another owner (a shipment and a `transfer` link to the receiver's batch), and one lot in ten
has 10 unit codes. Every stored trace page is built before measuring.

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
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench-output" / "recall"


def _say(text: str, end: str = "\n") -> None:
    print(text, file=sys.stderr, flush=True, end=end)


def _fresh_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build(app, descendants: int, fanout: int) -> SimpleNamespace:
    """Demo data, then `descendants` batches made from the demo harvest batch (bulk inserts)."""
    from sqlalchemy import insert, text
    from sqlmodel import SQLModel, func, select

    from gi_trace.accounts.models import User
    from gi_trace.db import get_engine, session_scope
    from gi_trace.demo.batches import load_demo_batches
    from gi_trace.demo.registry_data import load_demo_data
    from gi_trace.registry.models import Producer
    from gi_trace.registry.reference import ensure_reference_data
    from gi_trace.tracing import codes
    from gi_trace.tracing.chain import compute_hash
    from gi_trace.tracing.models import Batch, BatchLink, Event, Shipment, UnitCode

    engine = get_engine(app)
    SQLModel.metadata.create_all(engine)
    started = time.perf_counter()
    with session_scope(app) as session:
        ensure_reference_data(session)
        load_demo_data(session, producers=20)
    with session_scope(app) as session:
        demo = dict((what, code) for what, code in load_demo_batches(session).codes)
    with session_scope(app) as session:
        harvest = session.exec(select(Batch).where(Batch.code == demo["harvest batch, tested and split"])).one()
        other = session.exec(select(Producer).where(Producer.id != harvest.producer_id).order_by(Producer.id)).first()
        owner = session.exec(select(User).where(User.producer_id == harvest.producer_id,
                                                User.role == "producer")).first()
        if owner is None:
            owner = User(username="bench-owner", password_hash="-", role="producer", producer_id=harvest.producer_id)
            session.add(owner)
            session.flush()
        ids = SimpleNamespace(harvest=harvest.id, harvest_code=harvest.code, producer=harvest.producer_id,
                              other=other.id, product=harvest.product_id, town=harvest.origin_town_code,
                              owner=owner.id)
        next_batch = session.exec(select(func.max(Batch.id))).one() + 1
        next_link = (session.exec(select(func.max(BatchLink.id))).one() or 0) + 1
        next_event = session.exec(select(func.max(Event.id))).one() + 1
    _say(f"  demo data in {time.perf_counter() - started:.1f} s; adding {descendants:,} batches made from "
         f"harvest batch {ids.harvest_code}")
    now = datetime(2025, 7, 25, 2, 0, tzinfo=timezone.utc)
    lots = max(1, descendants // fanout)
    rows = {"batch": [], "link": [], "event": [], "shipment": [], "unit": []}
    codes_made: list[str] = []

    def add(parent_id: int, kind: str, producer: int, link_kind: str = "split") -> int:
        nonlocal next_batch, next_link, next_event
        bid, code = next_batch, codes.new_code()
        next_batch += 1
        event = SimpleNamespace(seq=1, stage="storage", occurred_at=now, utc_offset_min=480,
                                location_town_code=ids.town, location_name="", quantity_kg=None,
                                data={"place": f"冷库 {bid}"}, op_id=None, recorded_by=None, recorded_at=now,
                                corrects_event_id=None, correction_reason="", prev_hash="")
        event.hash = compute_hash(code, event)
        rows["batch"].append({
            "id": bid, "code": code, "producer_id": producer, "product_id": ids.product, "kind": kind,
            "unit": "kg", "quantity_kg": 1.0, "out_kg": 0.0, "cultivar": "宁杞7号", "product_form": "dried",
            "trademark_name": "", "stage": "storage", "test_state": "passed", "open_flags": 0, "event_count": 1,
            "head_hash": event.hash, "first_event_at": now, "units_issued": 0, "withdrawn_reason": "",
            "created_at": now, "origin_town_code": ids.town, "harvest_year": 2025})
        rows["link"].append({"id": next_link, "parent_id": parent_id, "child_id": bid, "quantity_kg": 1.0,
                             "kind": link_kind, "created_at": now})
        next_link += 1
        rows["event"].append({"id": next_event, "batch_id": bid, **{k: v for k, v in vars(event).items()}})
        next_event += 1
        codes_made.append(code)
        return bid

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(Batch.__table__), rows["batch"])
            conn.execute(insert(BatchLink.__table__), rows["link"])
            conn.execute(insert(Event.__table__), rows["event"])
            if rows["shipment"]:
                conn.execute(insert(Shipment.__table__), rows["shipment"])
            if rows["unit"]:
                conn.execute(insert(UnitCode.__table__), rows["unit"])
        for key in rows:
            rows[key] = []

    made = 0
    for n_lot in range(lots):
        lot = add(ids.harvest, "lot", ids.producer)
        made += 1
        if n_lot % 10 == 0:  # a lot with 10 packages, each its own code (一物一码)
            rows["batch"][-1]["units_issued"] = 10
            rows["unit"].extend({"code": codes.new_code(), "batch_id": lot, "serial": s, "package_kg": 0.1,
                                 "issued_at": now} for s in range(1, 11))
        for n_sub in range(fanout - 1):
            if made >= descendants:
                break
            sub = add(lot, "lot", ids.producer)
            made += 1
            if n_sub == 0 and made < descendants:  # one sub-lot in a hundred: shipped to another owner
                received = add(sub, "received", ids.other, "transfer")
                made += 1
                rows["shipment"].append({
                    "batch_id": sub, "from_party_id": ids.producer, "to_party_id": ids.other, "quantity_kg": 1.0,
                    "shipped_at": now + timedelta(days=1), "utc_offset_min": 480, "document_no": f"WB-{sub}",
                    "status": "received", "op_id": uuid.uuid4().hex, "received_at": now + timedelta(days=2),
                    "received_kg": 1.0, "loss_kg": 0.0, "received_batch_id": received, "created_at": now})
        if len(rows["batch"]) >= 5000 or made >= descendants:
            flush()
            _say(f"\r  {made:,}/{descendants:,} batches", end="")
        if made >= descendants:
            break
    if rows["batch"]:
        flush()
    _say("")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("batch", "batchlink", "event", "shipment", "unitcode"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    ids.descendants = made
    ids.codes = codes_made
    return ids


def build_pages(app) -> int:
    from gi_trace.db import get_engine
    from gi_trace.jobs import drain
    from gi_trace.scan import stored_pages

    from sqlalchemy import text

    with app.app_context():
        drain(app)  # the demo's own outbox rows (their refresh covers the harvest's whole family)
        stored_pages.rebuild(get_engine(app), stale_only=True)
        with get_engine(app).connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM storedpagelive")).scalar_one()


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
    _fresh_database(url)
    # Scans written in the request (no write-behind thread), as the tests run them: each scan pays its write.
    app = create_app({"DATABASE_URL": url, "SCAN_FLUSH_SECONDS": 0, "RATELIMIT_ENABLED": False})
    started = time.perf_counter()
    ids = build(app, args.descendants, args.fanout)
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

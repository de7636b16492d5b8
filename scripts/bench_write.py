#!/usr/bin/env python3
"""Write benchmark: event corrections on a harvest batch with 10,000 descendant batches.

    .venv/bin/python scripts/bench_write.py                         # SQLite file in bench-output/
    .venv/bin/python scripts/bench_write.py --database-url postgresql://postgres@127.0.0.1:5432/gi_bench

The database is throwaway: every table is dropped and made again. The demo data (`flask demo-data`:
producers, accounts, and the demo season recorded through the real services) gives the harvest
batch; 10,000 batches made from it (100 lots, each split into 99 sub-lots, one event each with a
valid hash chain) go in with bulk inserts, and every stored trace page is built before measuring.

Measured, with a real jobs worker running (`flask --app gi_trace jobs worker`, a separate process,
as scripts/run.sh starts it):
- floor: a correction on a batch from which nothing was made (same service, same unit of work);
- 50 corrections of the harvest's planting record through the real service and unit of work
  (gi_trace.tracing.services.record_event, then gi_trace.db.commit): p50/p99 of the commit (the
  unit of work: stored-page invalidation of the 10,001 batches, outbox row, wake-up) and of the whole
  write; target p99 commit <= 100 ms;
- the time from the last commit until every one of the 10,001 stored pages is current again (built
  after the last correction: it shows that correction's reason), target <= 60 s.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench-output" / "write"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def build(app, descendants: int, fanout: int) -> dict:
    """Demo data, then `descendants` batches made from the demo harvest batch (bulk inserts)."""
    from sqlalchemy import insert, text
    from sqlmodel import SQLModel, func, select

    from gi_trace.db import get_engine, session_scope
    from gi_trace.demo.registry_data import load_demo_data
    from gi_trace.registry.reference import ensure_reference_data
    from gi_trace.tracing import codes
    from gi_trace.tracing.chain import compute_hash
    from gi_trace.demo.batches import load_demo_batches
    from gi_trace.tracing.models import Batch, BatchLink, Event

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
        leaf = session.exec(select(Batch).where(Batch.code == demo["batch whose test failed"])).one()
        ids = SimpleNamespace(harvest=harvest.id, leaf=leaf.id, producer=harvest.producer_id,
                              product=harvest.product_id, town=harvest.origin_town_code)
        next_batch = session.exec(select(func.max(Batch.id))).one() + 1
        next_link = (session.exec(select(func.max(BatchLink.id))).one() or 0) + 1
        next_event = session.exec(select(func.max(Event.id))).one() + 1
    _say(f"  demo data in {time.perf_counter() - started:.1f} s; adding {descendants:,} batches made from "
         f"harvest batch {harvest.code}")
    now = datetime(2025, 7, 25, 2, 0, tzinfo=timezone.utc)
    lots = max(1, descendants // fanout)
    batch_rows, link_rows, event_rows = [], [], []

    def add(parent_id: int, kind: str) -> int:
        nonlocal next_batch, next_link, next_event
        bid, code = next_batch, codes.new_code()
        next_batch += 1
        event = SimpleNamespace(seq=1, stage="storage", occurred_at=now, utc_offset_min=480,
                                location_town_code=ids.town, location_name="", quantity_kg=None,
                                data={"place": f"冷库 {bid}"}, op_id=None, recorded_by=None, recorded_at=now,
                                corrects_event_id=None, correction_reason="", prev_hash="")
        event.hash = compute_hash(code, event)
        batch_rows.append({
            "id": bid, "code": code, "producer_id": ids.producer, "product_id": ids.product, "kind": kind,
            "unit": "kg", "quantity_kg": 1.0, "out_kg": 0.0, "cultivar": "宁杞7号", "product_form": "dried",
            "trademark_name": "", "stage": "storage", "test_state": "passed", "open_flags": 0, "event_count": 1,
            "head_hash": event.hash, "first_event_at": now, "units_issued": 0, "withdrawn_reason": "",
            "created_at": now, "origin_town_code": ids.town, "harvest_year": 2025})
        link_rows.append({"id": next_link, "parent_id": parent_id, "child_id": bid, "quantity_kg": 1.0,
                          "kind": "split", "created_at": now})
        next_link += 1
        event_rows.append({"id": next_event, "batch_id": bid, **{k: v for k, v in vars(event).items()}})
        next_event += 1
        return bid

    made = 0
    for _lot in range(lots):
        lot = add(ids.harvest, "lot")
        made += 1
        for _sub in range(fanout - 1):
            if made >= descendants:
                break
            add(lot, "lot")
            made += 1
        if len(batch_rows) >= 5000 or made >= descendants:
            with engine.begin() as conn:
                conn.execute(insert(Batch.__table__), batch_rows)
                conn.execute(insert(BatchLink.__table__), link_rows)
                conn.execute(insert(Event.__table__), event_rows)
            batch_rows, link_rows, event_rows = [], [], []
            print(f"\r  {made:,}/{descendants:,} batches", end="", file=sys.stderr, flush=True)
        if made >= descendants:
            break
    print(file=sys.stderr)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("batch", "batchlink", "event"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    ids.descendants = made
    return vars(ids)


def build_pages(app) -> int:
    from gi_trace.db import get_engine
    from gi_trace.jobs import drain
    from gi_trace.scan import stored_pages

    with app.app_context():
        drain(app)  # the demo's own outbox rows
        result = stored_pages.rebuild(get_engine(app), stale_only=True)
    return result["built"]


def family_state(app, harvest_id: int, reason: str) -> tuple[int, int, int]:
    """(batches in the harvest's family, with a stored page, whose stored page shows `reason`)."""
    from sqlalchemy import text

    from gi_trace.db import get_engine
    from gi_trace.scan import stored_pages

    engine = get_engine(app)
    with engine.connect() as conn:
        members = stored_pages.family(conn, [harvest_id])
        ids = ", ".join(map(str, members))
        stored, current = conn.execute(text(
            f"SELECT COUNT(*), COUNT(CASE WHEN s.body_zh LIKE :reason THEN 1 END) FROM storedpage s "
            f"JOIN storedpagelive l ON l.batch_id = s.batch_id "
            f"JOIN batch b ON b.id = s.batch_id AND b.head_hash = s.head_hash WHERE s.batch_id IN ({ids})"),
            {"reason": f"%{reason}%"}).one()
    return len(members), int(stored), int(current)


def correct(app, batch_id: int, reason: str) -> tuple[float, float]:
    """One correction of the batch's planting record through the service and the unit of work:
    (milliseconds for the whole write, milliseconds for the commit)."""
    from sqlmodel import Session, select

    from gi_trace.accounts.models import User
    from gi_trace.db import commit, get_engine
    from gi_trace.registry.models import Plot
    from gi_trace.tracing import services
    from gi_trace.tracing.models import Batch, Event

    with app.test_request_context():
        started = time.perf_counter()
        with Session(get_engine(app), expire_on_commit=False) as session:
            batch = session.get(Batch, batch_id)
            user = session.exec(select(User).where(User.producer_id == batch.producer_id)).first()
            planting = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "planting",
                                                        Event.corrects_event_id.is_(None))).one()
            plot = session.exec(select(Plot).where(Plot.id == planting.data["plot_id"])).one()
            services.record_event(session, user, batch, services.EventInput(
                stage="planting", occurred_at="2025-04-10T09:00:00+08:00",
                data={"plot_id": plot.id, "cultivar": planting.data.get("cultivar", "宁杞7号")},
                corrects_event_id=planting.id, correction_reason=reason))
            session.flush()
            committing = time.perf_counter()
            commit(session)
            done = time.perf_counter()
    return (done - started) * 1000, (done - committing) * 1000


def start_worker(url: str, env: dict, threads: int):
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "gi_trace", "jobs", "worker",
                             "--workers", str(threads)], cwd=ROOT, env={**os.environ, **env, "DATABASE_URL": url},
                            stdout=subprocess.DEVNULL, stderr=open(WORK / "worker.log", "w"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{WORK / 'bench_write.sqlite3'}",
                        help="throwaway database (default: a SQLite file in bench-output/write/)")
    parser.add_argument("--descendants", type=int, default=10_000, help="batches made from the harvest")
    parser.add_argument("--fanout", type=int, default=100, help="lots of the harvest x sub-lots per lot")
    parser.add_argument("--writes", type=int, default=50, help="corrections on the harvest batch")
    parser.add_argument("--floor-writes", type=int, default=20, help="corrections on a batch without descendants")
    parser.add_argument("--worker-threads", type=int, default=2, help="jobs worker threads")
    parser.add_argument("--timeout", type=float, default=600, help="give up waiting for the pages after this")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    env = {"GI_TRACE_INSTANCE": str(WORK / "instance"), "JOBS_URL": f"sqlite:///{WORK / 'jobs.sqlite3'}",
           "SECRET_KEY": "bench-secret", "RATELIMIT_ENABLED": "0"}
    os.environ.update(env)
    Path(WORK / "jobs.sqlite3").unlink(missing_ok=True)
    from gi_trace import create_app
    from gi_trace.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    _say(f"database: {url.split('@')[-1]}")
    _fresh_database(url)
    app = create_app({"DATABASE_URL": url})
    started = time.perf_counter()
    ids = build(app, args.descendants, args.fanout)
    _say(f"  built in {time.perf_counter() - started:.0f} s; building every stored page ...")
    started = time.perf_counter()
    built = build_pages(app)
    _say(f"  {built:,} stored pages in {time.perf_counter() - started:.0f} s")
    members, stored, _ = family_state(app, ids["harvest"], "-")
    _say(f"  harvest family: {members:,} batches, {stored:,} with a current stored page")

    worker = start_worker(url, env, args.worker_threads)
    try:
        time.sleep(3)  # the worker is up and idle
        floor = [correct(app, ids["leaf"], f"floor-{i}") for i in range(args.floor_writes)]
        _say(f"  floor: {len(floor)} corrections on a batch with no descendants")
        writes = []
        for i in range(1, args.writes + 1):
            writes.append(correct(app, ids["harvest"], f"bench-correction-{i:03d}"))
            print(f"\r  {i}/{args.writes} corrections on the harvest", end="", file=sys.stderr, flush=True)
        last_commit = time.perf_counter()
        print(file=sys.stderr)
        last_reason = f"bench-correction-{args.writes:03d}"
        while True:
            members, stored, current = family_state(app, ids["harvest"], last_reason)
            waited = time.perf_counter() - last_commit
            print(f"\r  waiting for the worker: {current:,}/{members:,} pages current ({waited:.0f} s)", end="",
                  file=sys.stderr, flush=True)
            if current == members or waited > args.timeout:
                break
            time.sleep(0.25)
        print(file=sys.stderr)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    commit_ms = [c for _w, c in writes]
    write_ms = [w for w, _c in writes]
    floor_commit = [c for _w, c in floor]
    floor_write = [w for w, _c in floor]
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"bench_write ({backend}): harvest with {ids['descendants']:,} descendant batches, "
          f"{len(writes)} corrections, worker with {args.worker_threads} threads")
    print(f"  commit (unit of work)     p50 {statistics.median(commit_ms):7.1f} ms   p99 {_p(commit_ms, 0.99):7.1f} ms"
          f"   (target p99 <= 100 ms)")
    print(f"  whole write (service+commit) p50 {statistics.median(write_ms):7.1f} ms   "
          f"p99 {_p(write_ms, 0.99):7.1f} ms")
    print(f"  floor, no descendants: commit p50 {statistics.median(floor_commit):7.1f} ms   p99 "
          f"{_p(floor_commit, 0.99):7.1f} ms; whole write p50 {statistics.median(floor_write):7.1f} ms")
    verdict = "" if current == members else f"  (NOT all current: {current:,}/{members:,})"
    print(f"  every descendant's stored page current {waited:5.1f} s after the last commit"
          f"   (target <= 60 s){verdict}")
    return 0 if current == members else 1


if __name__ == "__main__":
    sys.exit(main())

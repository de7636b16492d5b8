#!/usr/bin/env python3
"""Write benchmark: event corrections on a harvest batch with 10,000 descendant batches.

    .venv/bin/python scripts/bench_write.py                         # SQLite file in bench-output/
    .venv/bin/python scripts/bench_write.py --database-url postgresql://postgres@127.0.0.1:5432/gi_bench

The database is throwaway: every table is dropped and made again. The demo data (`flask demo-data`:
producers, accounts, and the demo season recorded through the real services) gives the harvest
batch; 10,000 batches made from it (100 lots, each split into 99 sub-lots, one event each with a
valid hash chain) go in with bulk inserts (scripts/bench_family.py), and every stored trace page is
built before measuring.

Measured with real jobs workers running (`flask --app gi_trace jobs worker`, separate processes, as
scripts/run.sh starts them: --worker-processes, default 2, of --worker-threads, default 2). The load
average is printed with the figures (the machine may be shared):
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
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
WORK = ROOT / "bench-output" / "write"

from bench_family import build, build_pages, fresh_database, say as _say  # noqa: E402  (shared with bench_recall)


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def family_state(app, members: list[int], reason: Optional[str] = None) -> tuple[int, int]:
    """(how many of `members` have a current stored page, how many of those show `reason`).

    A stored page in use (its `storedpagelive` row) is current: the writer's unit of work takes the pages
    of its family out of use, and the job stores a page only if no source batch's head moved since it
    was read (stored_pages.store_current). So while waiting only the narrow rows and the head hashes are
    counted (`reason` None: the second figure is 0); reading the page bodies for the correction's reason
    (~100 MB for 10,000 pages) is done once all are in use, not every quarter second beside the worker.
    """
    from sqlalchemy import text

    from gi_trace.db import get_engine

    ids = ", ".join(map(str, members))
    shows = "COUNT(CASE WHEN s.body_zh LIKE :reason THEN 1 END)" if reason is not None else "0"
    with get_engine(app).connect() as conn:
        current, showing = conn.execute(text(
            f"SELECT COUNT(*), {shows} FROM storedpagelive l JOIN storedpage s ON s.batch_id = l.batch_id "
            f"JOIN batch b ON b.id = s.batch_id AND b.head_hash = s.head_hash WHERE l.batch_id IN ({ids})"),
            {"reason": f"%{reason}%"} if reason is not None else {}).one()
    return int(current), int(showing)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


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


def start_worker(url: str, env: dict, threads: int, n: int = 0):
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "gi_trace", "jobs", "worker",
                             "--workers", str(threads)], cwd=ROOT, env={**os.environ, **env, "DATABASE_URL": url},
                            stdout=subprocess.DEVNULL, stderr=open(WORK / f"worker-{n}.log", "w"))


def _wait_for_workers(n: int, timeout: float = 120) -> None:
    """Until `n` workers have started their consumers (each says so in its log), then a second more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = sum("consumer started" in (WORK / f"worker-{i}.log").read_text().lower() for i in range(n))
        if started == n:
            time.sleep(1)
            return
        time.sleep(0.2)
    raise SystemExit(f"the jobs workers did not start within {timeout:.0f} s: see {WORK}/worker-*.log")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{WORK / 'bench_write.sqlite3'}",
                        help="throwaway database (default: a SQLite file in bench-output/write/)")
    parser.add_argument("--descendants", type=int, default=10_000, help="batches made from the harvest")
    parser.add_argument("--fanout", type=int, default=100, help="lots of the harvest x sub-lots per lot")
    parser.add_argument("--writes", type=int, default=50, help="corrections on the harvest batch")
    parser.add_argument("--floor-writes", type=int, default=20, help="corrections on a batch without descendants")
    parser.add_argument("--worker-processes", type=int, default=2,
                        help="jobs worker processes (scripts/run.sh starts JOB_PROCESSES, default 2)")
    parser.add_argument("--worker-threads", type=int, default=2, help="jobs worker threads (each process)")
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
    _say(f"database: {url.split('@')[-1]}; {_load()}")
    fresh_database(url)
    app = create_app({"DATABASE_URL": url})
    started = time.perf_counter()
    ids = build(app, args.descendants, args.fanout)
    _say(f"  built in {time.perf_counter() - started:.0f} s; building every stored page ...")
    started = time.perf_counter()
    build_pages(app)
    _say(f"  stored pages built in {time.perf_counter() - started:.0f} s")
    from gi_trace.db import get_engine
    from gi_trace.scan import stored_pages

    with get_engine(app).connect() as conn:
        members = stored_pages.family(conn, [ids.harvest])
    current, _ = family_state(app, members)
    _say(f"  harvest family: {len(members):,} batches, {current:,} with a current stored page")

    workers = [start_worker(url, env, args.worker_threads, n) for n in range(args.worker_processes)]
    loads = []
    try:
        _wait_for_workers(len(workers))  # up and idle (starting one took over 10 s on a loaded machine)
        floor = [correct(app, ids.leaf, f"floor-{i}") for i in range(args.floor_writes)]
        _say(f"  floor: {len(floor)} corrections on a batch with no descendants")
        writes = []
        loads.append(_load())
        for i in range(1, args.writes + 1):
            writes.append(correct(app, ids.harvest, f"bench-correction-{i:03d}"))
            _say(f"\r  {i}/{args.writes} corrections on the harvest", end="")
        last_commit = time.perf_counter()
        loads.append(_load())
        _say("")
        last_reason = f"bench-correction-{args.writes:03d}"
        showing = 0
        while True:
            current, _ = family_state(app, members)
            waited = time.perf_counter() - last_commit
            _say(f"\r  waiting for the workers: {current:,}/{len(members):,} pages current ({waited:.0f} s)", end="")
            if current == len(members):
                current, showing = family_state(app, members, last_reason)
                if showing == len(members):
                    break
            if waited > args.timeout:
                break
            time.sleep(0.25)
        loads.append(_load())
        _say("")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
    commit_ms = [c for _w, c in writes]
    write_ms = [w for w, _c in writes]
    floor_commit = [c for _w, c in floor]
    floor_write = [w for w, _c in floor]
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"bench_write ({backend}): harvest with {ids.descendants:,} descendant batches, {len(writes)} corrections, "
          f"{args.worker_processes} worker process(es) with {args.worker_threads} threads")
    print(f"  {os.cpu_count()} CPUs; before the corrections {loads[0]}; at the last commit {loads[1]}; "
          f"when the pages were current {loads[2]}")
    print(f"  commit (unit of work)     p50 {statistics.median(commit_ms):7.1f} ms   p99 {_p(commit_ms, 0.99):7.1f} ms"
          f"   (target p99 <= 100 ms)")
    print(f"  whole write (service+commit) p50 {statistics.median(write_ms):7.1f} ms   "
          f"p99 {_p(write_ms, 0.99):7.1f} ms")
    print(f"  floor, no descendants: commit p50 {statistics.median(floor_commit):7.1f} ms   p99 "
          f"{_p(floor_commit, 0.99):7.1f} ms; whole write p50 {statistics.median(floor_write):7.1f} ms")
    done = showing == len(members)
    verdict = "" if done else f"  (NOT all current: {showing:,}/{len(members):,})"
    print(f"  every descendant's stored page current {waited:5.1f} s after the last commit"
          f"   (target <= 60 s){verdict}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())

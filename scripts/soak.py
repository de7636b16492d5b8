#!/usr/bin/env python3
"""Soak test (not in CI): the public scan page under wrk plus concurrent event writes through the API,
against gunicorn on 127.0.0.1, for a fixed time; it stops by itself.

    .venv/bin/python scripts/soak.py                                  # SQLite, 60 s
    .venv/bin/python scripts/soak.py --database-url postgresql://postgres@127.0.0.1:5432/gi_soak  # dropped and rebuilt
    .venv/bin/python scripts/soak.py --duration 300 --writers 8

1. Builds a throwaway database with scripts/bench_scan.py's generator (--batches, default 30,000), adds a
   producer account and API token for each writer and finds harvest batches of that producer.
2. Starts gunicorn (bench_scan.start_server), then for --duration seconds runs at once:
   wrk on `/t/<code>` (random real batch and unit codes), and --writers threads each posting
   storage events to its own producer's batches at --write-rate events/s (bounded loops).
3. Samples the RSS of the gunicorn master and workers every --sample seconds.
4. Prints requests, errors (must be 0), p50/p99 for scans and writes, RSS first/last/max per
   process, and whether every batch's hash chain still verifies (`flask --app gi_trace verify`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_scan  # noqa: E402  (data generation, server and wrk helpers)

WORK = Path(os.environ.get("SOAK_DIR", "/tmp/gi_soak"))


def prepare(url: str, batches: int, writers: int, sqlite_path: Path | None) -> list[dict]:
    """Build the database; return per writer {token, codes} for its producer's harvest batches."""
    if sqlite_path is not None:
        bench_scan.build_sqlite(sqlite_path, batches)
    else:
        bench_scan.build_postgres(url, batches)
    from sqlalchemy import text
    from sqlmodel import Session

    from gi_trace.accounts.services import create_token, create_user
    from gi_trace.db import make_engine

    engine = make_engine(url)
    clients = []
    with Session(engine) as session:
        producer_ids = session.execute(text(
            "SELECT producer_id FROM batch WHERE kind = 'harvest' AND producer_id % 50 <> 0 AND producer_id % 37 <> 0 "
            "GROUP BY producer_id HAVING count(*) >= 3 ORDER BY producer_id LIMIT :n"), {"n": writers}).scalars().all()
        for pid in producer_ids:
            user = create_user(session, f"soak{pid}", "soak-password", "producer", producer_id=pid)
            _token, raw = create_token(session, user, "soak")
            codes = session.execute(text("SELECT code FROM batch WHERE producer_id = :p AND kind = 'harvest' "
                                         "ORDER BY id"), {"p": pid}).scalars().all()
            clients.append({"token": raw, "codes": list(codes)})
        session.commit()
    engine.dispose()
    if len(clients) < writers:
        raise SystemExit(f"only {len(clients)} producers with harvest batches; use more --batches")
    return clients


def post_event(port: int, token: str, code: str, n: int) -> tuple[int, float]:
    body = json.dumps({"stage": "storage", "occurred_at": "2025-11-01T10:00:00+08:00",
                       "location": "中宁县枸杞交易市场冷库", "data": {"place": f"冷库{n}"}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/batches/{code}/events", data=body,
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        with exc:
            exc.read()
            status = exc.code
    except OSError:
        status = 0
    return status, time.perf_counter() - started


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL of a throwaway database (dropped and rebuilt); "
                                               "default: an SQLite file under " + str(WORK))
    parser.add_argument("--batches", type=int, default=30_000)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections on the scan page")
    parser.add_argument("--writers", type=int, default=4, help="threads posting events")
    parser.add_argument("--write-rate", type=float, default=10.0, help="events per second per writer")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between memory samples")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    bench_scan.WORK = WORK  # gunicorn's instance folder
    if args.database_url:
        from gi_trace.config import normalise_database_url

        url, sqlite_path = normalise_database_url(args.database_url), None
    else:
        sqlite_path = WORK / "soak.sqlite3"
        url = f"sqlite:///{sqlite_path}"
    clients = prepare(url, args.batches, args.writers, sqlite_path)
    codes_path = WORK / "soak.codes"
    bench_scan.sample_codes(url, codes_path, n=20_000)
    script = Path(tempfile.mkdtemp(prefix="gi_soak_")) / "scan.lua"
    script.write_text(bench_scan.LUA)

    port = bench_scan.free_port()
    proc = bench_scan.start_server(url, port, args.workers, "sync", 1, {"API_RATE_LIMIT": "100000 per minute"})
    write_status: dict[int, int] = {}
    write_latency: list[float] = []
    lock = threading.Lock()
    samples: dict[int, list[int]] = {}
    stop_at = time.monotonic() + args.duration
    try:
        bench_scan.check_page(port, codes_path)

        def writer(k: int) -> None:
            client, n = clients[k], 0
            interval = 1.0 / args.write_rate
            next_at = time.monotonic()
            while time.monotonic() < stop_at and n < args.duration * args.write_rate * 2:
                code = client["codes"][n % len(client["codes"])]
                status, seconds = post_event(port, client["token"], code, n)
                n += 1
                with lock:
                    write_status[status] = write_status.get(status, 0) + 1
                    write_latency.append(seconds)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

        def sampler() -> None:
            while time.monotonic() < stop_at:
                for pid in [proc.pid] + children(proc.pid):
                    samples.setdefault(pid, []).append(rss_kb(pid))
                time.sleep(args.sample)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.writers)]
        threads.append(threading.Thread(target=sampler))
        for t in threads:
            t.start()
        scan = bench_scan.run_wrk(port, script, codes_path, "scan", args.connections, args.duration, 2)
        for t in threads:
            t.join(timeout=60)
    finally:
        bench_scan.stop_server(proc)
    env = dict(os.environ, DATABASE_URL=url, GI_TRACE_INSTANCE=str(WORK / "instance"))
    verify = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "gi_trace", "verify"], cwd=ROOT, env=env,
                            capture_output=True, text=True)

    backend = "PostgreSQL" if args.database_url else "SQLite"
    writes = sum(write_status.values())
    write_errors = sum(v for k, v in write_status.items() if k != 201)
    print(f"\nsoak: {backend}, {args.batches:,} batches, gunicorn {args.workers}×sync, {args.duration} s, "
          f"wrk -c{args.connections} on /t/<code> + {args.writers} writers × {args.write_rate:g} events/s")
    print(f"{'load':<16}{'requests':>10}{'req/s':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'scan page':<16}{scan['requests']:>10,}{scan['rps']:>9,.0f}{scan['errors']:>8}"
          f"{scan['p50_us'] / 1000:>9.2f}{scan['p99_us'] / 1000:>9.2f}")
    print(f"{'event writes':<16}{writes:>10,}{writes / args.duration:>9,.0f}{write_errors:>8}"
          f"{percentile(write_latency, 50) * 1000:>9.2f}{percentile(write_latency, 99) * 1000:>9.2f}")
    if write_errors:
        print(f"write statuses: {write_status}")
    print(f"memory (RSS MB, every {args.sample:g} s):")
    for pid, values in samples.items():
        role = "master" if pid == proc.pid else "worker"
        values = [v for v in values if v] or [0]
        print(f"  {role} {pid}: first {values[0] / 1024:.1f}  last {values[-1] / 1024:.1f}  "
              f"max {max(values) / 1024:.1f}  ({len(values)} samples: "
              f"{' '.join(f'{v / 1024:.0f}' for v in values)})")
    print(f"verify: {verify.stdout.strip() or verify.stderr.strip()[-300:]}")
    errors = scan["errors"] + write_errors + (verify.returncode != 0)
    print("zero errors" if errors == 0 else f"{errors} ERRORS")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

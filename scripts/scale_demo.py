#!/usr/bin/env python3
"""Horizontal scaling demo (not in CI): two gunicorn instances on different ports against ONE PostgreSQL
database, rate-limit counters in Redis, the scan benchmark's load driving both at once.

    .venv/bin/python scripts/scale_demo.py --database-url postgresql://postgres@127.0.0.1:5432/gi_scale
    .venv/bin/python scripts/scale_demo.py --database-url ... --reuse --duration 30 --connections 32

1. Builds (or with --reuse keeps) the scan benchmark's data in the given throwaway database
   (scripts/bench_scan.py: batches with hash-chained events and unit codes).
2. Runs one instance alone under wrk (the baseline), then two instances at once, each under its own wrk
   with half the connections (as a load balancer would split them), both with
   RATELIMIT_STORAGE_URI=redis://... (--redis) and the same SECRET_KEY.
3. Prints per-instance and combined requests/s, p50/p99 and errors, and the scans both logged into the
   one database. On one machine both instances share its cores: the point is that they run side by side on
   one database with no errors; throughput grows with machines, not with instances on the same cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_scan  # noqa: E402  (data generation, server and wrk helpers)

WORK = Path(os.environ.get("SCALE_DIR", "/tmp/gi_scale"))


def _row(name: str, r: dict) -> str:
    return (f"{name:<22}{r['requests']:>10,}{r['rps']:>9,.0f}{r['p50_us'] / 1000:>9.2f}{r['p99_us'] / 1000:>9.2f}"
            f"{r['errors']:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL of a throwaway database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="RATELIMIT_STORAGE_URI of both instances")
    parser.add_argument("--batches", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data built by an earlier run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--connections", type=int, default=32, help="total wrk connections")
    parser.add_argument("--duration", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    from gi_trace.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    if not url.startswith("postgresql"):
        raise SystemExit("the demo needs PostgreSQL (one database shared by both instances)")
    WORK.mkdir(parents=True, exist_ok=True)
    bench_scan.WORK = WORK  # the instances' instance folder
    meta_path = WORK / "scale.json"
    codes_path = WORK / "scale.codes"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if not (args.reuse and meta == {"url": url, "batches": args.batches, "version": bench_scan.VERSION}
            and codes_path.exists()):
        bench_scan.build_postgres(url, args.batches)
        bench_scan.sample_codes(url, codes_path)
        meta_path.write_text(json.dumps({"url": url, "batches": args.batches, "version": bench_scan.VERSION}))
    script = Path(tempfile.mkdtemp(prefix="gi_scale_")) / "scan.lua"
    script.write_text(bench_scan.LUA)
    env = {"RATELIMIT_STORAGE_URI": args.redis, "SECRET_KEY": "scale-demo-secret", "SCAN_SALT": "scale-demo-salt"}

    ports = [bench_scan.free_port(), bench_scan.free_port()]
    servers = []
    try:
        servers = [bench_scan.start_server(url, port, args.workers, "sync", 1, env) for port in ports]
        for port in ports:
            bench_scan.check_page(port, codes_path)
        for port in ports:  # warm both (imports, templates, caches)
            bench_scan.run_wrk(port, script, codes_path, "scan", 8, 3, 1)
        before = bench_scan.scan_rows(url)
        alone = bench_scan.run_wrk(ports[0], script, codes_path, "scan", args.connections, args.duration, 2)
        results: dict[int, dict] = {}

        def drive(port: int) -> None:
            results[port] = bench_scan.run_wrk(port, script, codes_path, "scan", args.connections // 2,
                                               args.duration, 1)

        threads = [threading.Thread(target=drive, args=(port,)) for port in ports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = bench_scan.scan_rows(url)
    finally:
        for proc in servers:
            bench_scan.stop_server(proc)
        shutil.rmtree(script.parent, ignore_errors=True)

    a, b = results[ports[0]], results[ports[1]]
    combined = {"requests": a["requests"] + b["requests"], "rps": a["rps"] + b["rps"],
                "p50_us": max(a["p50_us"], b["p50_us"]), "p99_us": max(a["p99_us"], b["p99_us"]),
                "errors": a["errors"] + b["errors"]}
    print(f"\nPostgreSQL {url.split('@')[-1]}, {args.batches:,} batches, gunicorn {args.workers}×sync per instance, "
          f"rate limits in {args.redis}, {os.cpu_count()} cores, {args.duration} s, {args.connections} connections")
    print(f"{'':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    print(_row(f"one instance :{ports[0]}", alone))
    print(_row(f"instance A :{ports[0]}", a))
    print(_row(f"instance B :{ports[1]}", b))
    print(_row("A + B combined", combined) + "   (p50/p99: the worse of the two)")
    print(f"scans logged into the one database: {after[1] - before[1]:,}")
    return 0 if combined["errors"] == 0 and alone["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

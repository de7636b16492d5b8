#!/usr/bin/env python3
"""Compare the scan benchmark of two checkouts in one run: both servers up, wrk alternating between them.

    # each checkout builds its own database first (its own schema and generator), e.g.
    (cd ../before && BENCH_DIR=/tmp/gi_bench_before .venv/bin/python scripts/bench_scan.py --batches 100000 --build-only)
    BENCH_DIR=/tmp/gi_bench_after .venv/bin/python scripts/bench_scan.py --batches 100000 --build-only
    .venv/bin/python scripts/bench_scan_ab.py --batches 100000 \\
        --a ../before /tmp/gi_bench_before --b . /tmp/gi_bench_after          # SQLite
    .venv/bin/python scripts/bench_scan_ab.py --batches 100000 \\
        --a ../before /tmp/gi_bench_before postgresql://postgres@127.0.0.1:5432/gi_before \\
        --b . /tmp/gi_bench_after postgresql://postgres@127.0.0.1:5432/gi_after   # PostgreSQL

On a machine other work shares (issue 10 asks for the scan ratio "within 5% of the figure before, same run
or same machine"), runs of bench_scan.py minutes apart see different load. Here A and B each serve their
own database with their own code (gunicorn from the checkout's .venv, as bench_scan.py serves it) and
wrk takes short slices in turn: A bare, A scan, B bare, B scan, then B before A in the next round, so a
change of load weighs on both. Prints each side's req/s, p99, server CPU per request and ratio, the
median of the rounds' ratios, and B's ratio relative to A's.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scan as bench  # noqa: E402  (this checkout's harness: server, wrk, CPU accounting)


class Side:
    """One checkout with its benchmark database (built by its own scripts/bench_scan.py)."""

    def __init__(self, name: str, root: str, work: str, url: str | None, batches: int):
        self.name, self.root, self.work = name, Path(root).resolve(), Path(work)
        if url:
            from gi_trace.config import normalise_database_url

            self.url = normalise_database_url(url)
            tag = "pg-" + hashlib.sha1(self.url.encode()).hexdigest()[:8]
            self.dbname = self.url.rsplit("/", 1)[1].split("?")[0]
        else:
            self.url = f"sqlite:///{self.work / f'bench_{batches}.sqlite3'}"
            tag, self.dbname = f"sqlite-{batches}", None
        self.codes = self.work / f"{tag}.codes"
        if not self.codes.exists():
            raise SystemExit(f"{name}: no {self.codes}; build it first with that checkout's scripts/bench_scan.py "
                             f"--batches {batches} --build-only (BENCH_DIR={self.work})")
        self.proc = None
        self.port = 0
        self.pids: list[int] = []
        self.runs: dict[str, list] = {"bare": [], "scan": []}

    def own(self, call: str) -> None:
        """Run one of the checkout's own bench_scan functions (its models, its tables) on its database."""
        code = f"import sys; sys.path.insert(0, 'scripts'); import bench_scan; bench_scan.{call}({self.url!r})"
        subprocess.run([str(self.root / ".venv/bin/python"), "-c", code], cwd=self.root, check=True,
                       env={**os.environ, "BENCH_DIR": str(self.work)})

    def label(self) -> str:
        head = subprocess.run(["git", "-C", str(self.root), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True).stdout.strip()[:70]
        dirty = subprocess.run(["git", "-C", str(self.root), "diff", "--quiet", "HEAD"]).returncode != 0
        return f"{self.root} @ {head}" + (" (+ uncommitted changes)" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", nargs="+", required=True, metavar="PATH",
                        help="checkout, its BENCH_DIR, and (PostgreSQL) its database URL")
    parser.add_argument("--b", nargs="+", required=True, metavar="PATH")
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--slice", type=int, default=3, help="seconds of each wrk run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    sides = []
    for name, spec in (("A", args.a), ("B", args.b)):
        if len(spec) not in (2, 3):
            raise SystemExit(f"--{name.lower()} takes PATH BENCH_DIR [DATABASE_URL]")
        sides.append(Side(name, spec[0], spec[1], spec[2] if len(spec) == 3 else None, args.batches))
    script = Path(tempfile.mkdtemp(prefix="gi_bench_ab_")) / "scan.lua"
    script.write_text(bench.LUA)
    try:
        for side in sides:
            side.own("reset_scan_tables")
            side.own("warm_cache")
            side.port = bench.free_port()
            side.proc = bench.start_server(side.url, side.port, args.workers, "sync", 1, {}, root=side.root,
                                           work=side.work)
            bench.check_page(side.port, side.codes)
            for mode in ("bare", "scan"):  # warm both paths (imports, templates, caches)
                bench.run_wrk(side.port, script, side.codes, mode, args.connections, 3, args.wrk_threads)
            side.pids = bench.server_pids(side.proc.pid, side.dbname)
        for i in range(args.rounds):
            for side in (sides if i % 2 == 0 else sides[::-1]):
                for mode in ("bare", "scan"):
                    side.runs[mode].append(bench.run_wrk(side.port, script, side.codes, mode, args.connections,
                                                         args.slice, args.wrk_threads, side.pids))
    finally:
        for side in sides:
            if side.proc is not None:
                bench.stop_server(side.proc)
        shutil.rmtree(script.parent, ignore_errors=True)

    backend = "PostgreSQL" if sides[0].dbname else "SQLite"
    print(f"\n{backend}, {args.batches:,} batches, gunicorn {args.workers}×sync each, wrk -t{args.wrk_threads} "
          f"-c{args.connections}, {args.rounds} rounds of {args.slice}s slices (A bare, A scan, B bare, B scan; "
          "B first in odd rounds)")
    ratios = {}
    for side in sides:
        bare, scan = bench.combine(side.runs["bare"]), bench.combine(side.runs["scan"])
        per_round = [s["rps"] / b["rps"] for b, s in zip(side.runs["bare"], side.runs["scan"])]
        ratios[side.name] = scan["rps"] / bare["rps"]
        cpu = bare["cpu_ms"] / scan["cpu_ms"] if scan["cpu_ms"] else 0.0
        print(f"{side.name}: {side.label()}")
        print(f"   /healthz {bare['rps']:>7,.0f} req/s  p99 {bare['p99_us'] / 1000:6.2f} ms  "
              f"CPU {bare['cpu_ms']:.3f} ms/req  errors {bare['errors']}")
        print(f"   /t/<code>{scan['rps']:>7,.0f} req/s  p99 {scan['p99_us'] / 1000:6.2f} ms  "
              f"CPU {scan['cpu_ms']:.3f} ms/req  errors {scan['errors']}")
        print(f"   ratio scan/bare {ratios[side.name]:.1%} (median of rounds {statistics.median(per_round):.1%}, "
              f"range {min(per_round):.1%}-{max(per_round):.1%}); server CPU bare/scan {cpu:.1%}")
    load = os.getloadavg()
    print(f"B's ratio relative to A's: {ratios['B'] / ratios['A'] - 1:+.1%}   "
          f"(load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Capture benchmark: POST /api/v1/epcis/capture of one document of N harvest batches (5 events each: planting,
harvest, drying, test, storage) by one producer, through the real request (schema, services, savepoints, unit of
work), then the same document again (every event already captured: nothing written).

    .venv/bin/python scripts/bench_capture.py [--batches 200]                  # SQLite file in bench-output/
    .venv/bin/python scripts/bench_capture.py --database-url postgresql://postgres@127.0.0.1:5432/gi_bench

The database is throwaway (dropped and made again). Printed beside the figures: a floor (a document of one
storage event on an existing batch) and the machine's load average (it may be shared).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
WORK = ROOT / "bench-output" / "capture"

from bench_family import fresh_database, say  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=f"sqlite:///{WORK / 'bench.sqlite3'}")
    parser.add_argument("--batches", type=int, default=200, help="harvest batches in the document (5 events each)")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GI_TRACE_INSTANCE", str(WORK / "instance"))
    fresh_database(args.database_url)

    from sqlmodel import Session, SQLModel

    import gi_trace.models  # noqa: F401
    from gi_trace import create_app
    from gi_trace.db import get_engine
    from gi_trace.registry.reference import ensure_reference_data
    from gi_trace.tracing import codes
    from tests import factories
    from tests.epcis_capture_support import (document, drying, fresh, harvest, lab_test, planting, post, storage,
                                             t, token)
    from tests.factories_tracing import Grower

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                      "PUBLIC_BASE_URL": "https://trace.example.cn"})
    engine = get_engine(app)
    SQLModel.metadata.create_all(engine)
    with app.test_request_context(), Session(engine, expire_on_commit=False) as session:
        ensure_reference_data(session)
        factories.bind(session)
        grower = Grower.make(session, area_mu=10000.0)  # room for the harvests in the yield plausibility check
        batch = grower.tested(session)
        raw = token(session, grower.user)
        factories.bind(None)
    client = app.test_client()

    def timed(events: list[dict]) -> tuple[float, int]:
        started = time.perf_counter()
        response = post(client, raw, document(*events))
        elapsed = time.perf_counter() - started
        if response.status_code >= 300:
            raise SystemExit(f"capture answered {response.status_code}: {response.get_data(as_text=True)[:500]}")
        return elapsed, response.status_code

    floor, _status = timed([storage(t(batch.code), when="2025-08-05T10:00:00+08:00")])
    events = []
    for _i in range(args.batches):
        code = codes.new_code()
        events += [planting(fresh(code), grower.plot.id), harvest(fresh(code), grower.plot.id, 100.0),
                   drying(code, t(code), 100.0, 24.0), lab_test(t(code)), storage(t(code))]
    first, status = timed(events)
    again, repeat = timed(events)
    print(f"database        {args.database_url.split('@')[-1]}")
    print(f"floor           1 event: {floor * 1000:.0f} ms")
    print(f"capture         {len(events)} events ({args.batches} batches): {first:.2f} s, "
          f"{len(events) / first:.0f} events/s ({status})")
    print(f"capture again   {len(events)} events, nothing new: {again:.2f} s, {len(events) / again:.0f} events/s "
          f"({repeat})")
    print("load average    " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    say("done")


if __name__ == "__main__":
    main()

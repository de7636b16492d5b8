#!/usr/bin/env python3
"""Lineage benchmark: backward and forward traces through the app's service on a generated graph of
1,000,000 batches, against a hand-written recursive CTE on the same tables (the floor).

    .venv/bin/python scripts/bench_lineage.py                       # SQLite file in bench-output/
    .venv/bin/python scripts/bench_lineage.py --database-url postgresql://postgres@127.0.0.1:5432/gi_bench

The database is throwaway: the script drops and recreates every table unless --reuse is given and the
graph is already there. Rows go in with SQLAlchemy Core executemany, never one ORM object per row.

The graph is made of "families" of 51 batches: 16 harvest batches merged in pairs (8), again (4),
again (2), into one processed batch, split into 4 lots, each split into 4 sub-lots (16). A backward
trace from a sub-lot reaches 32 batches; a forward trace from a harvest batch reaches 24.
The service is `gi_trace.tracing.lineage.trace` (what the API calls: one recursive query returning
each edge with the batch at its far end, turned into Node/Edge objects); the floor is the bare
recursive CTE over batchlink returning ids through the DB-API cursor. Target: service ≤ 5× floor.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import gi_trace.models  # noqa: E402,F401  (registers every table)
from gi_trace.config import normalise_database_url  # noqa: E402
from gi_trace.db import make_engine  # noqa: E402
from gi_trace.registry.models import Producer, Product, Region  # noqa: E402
from gi_trace.tracing import codes, lineage  # noqa: E402
from gi_trace.tracing.models import Batch, BatchLink, Event  # noqa: E402

FAMILY = 51
NOW = datetime(2025, 7, 1, tzinfo=timezone.utc)
TOWN = "640521100"

FLOOR_BACKWARD = """
WITH RECURSIVE up(id) AS (
    SELECT CAST({p} AS INTEGER)
    UNION
    SELECT l.parent_id FROM batchlink l JOIN up ON l.child_id = up.id
)
SELECT id FROM up"""
FLOOR_FORWARD = """
WITH RECURSIVE down(id) AS (
    SELECT CAST({p} AS INTEGER)
    UNION
    SELECT l.child_id FROM batchlink l JOIN down ON l.parent_id = down.id
)
SELECT id FROM down"""


def family_layout():
    """(kind, [parent offsets]) for the 51 batches of a family, offsets within the family."""
    nodes: list[tuple[str, list[int]]] = [("harvest", [])] * 16
    level = list(range(16))
    while len(level) > 2:  # 16 → 8 → 4 → 2 merged batches
        nxt = []
        for i in range(0, len(level), 2):
            nodes.append(("merged", [level[i], level[i + 1]]))
            nxt.append(len(nodes) - 1)
        level = nxt
    nodes.append(("processed", level))
    processed = len(nodes) - 1
    lots = []
    for _ in range(4):
        nodes.append(("lot", [processed]))
        lots.append(len(nodes) - 1)
    for lot in lots:
        for _ in range(4):
            nodes.append(("lot", [lot]))
    assert len(nodes) == FAMILY
    return nodes


def build(engine, batches: int, chunk: int = 20000) -> None:
    """Drop and recreate the schema, then insert the graph in bulk."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:  # dropping a million rows under foreign-key checks takes minutes: start from a new file
        engine.dispose()
        path = Path(engine.url.database)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    SQLModel.metadata.create_all(engine)
    layout = family_layout()
    families = -(-batches // FAMILY)  # at least `batches`
    with engine.begin() as conn:
        conn.execute(insert(Region.__table__), [
            {"code": "640500", "name_zh": "中卫市", "name_en": "Zhongwei", "level": "city", "parent_code": None},
            {"code": "640521", "name_zh": "中宁县", "name_en": "", "level": "county", "parent_code": "640500"},
            {"code": TOWN, "name_zh": "宁安镇", "name_en": "", "level": "town", "parent_code": "640521"}])
        conn.execute(insert(Product.__table__), [{"id": 1, "slug": "zhongning-goji", "name_zh": "中宁枸杞",
                                                  "name_en": "", "holder": "", "unit": "kg", "target_share": 0.6,
                                                  "created_at": NOW}])
        conn.execute(insert(Producer.__table__), [{
            "id": i, "uscc": None, "registry_no": f"R{i}", "uscc_check_ok": True, "name": f"生产者{i}",
            "kind": "household", "county_code": "640521", "town_code": TOWN, "address": "", "contact_name": "",
            "contact_phone": "", "created_at": NOW} for i in range(1, 1001)])
    batch_rows, link_rows, event_rows = [], [], []
    next_id = 1
    link_id = 1
    event_id = 1
    started = time.perf_counter()
    total = families * FAMILY

    def flush(final=False):
        nonlocal batch_rows, link_rows, event_rows
        if batch_rows and (final or len(batch_rows) >= chunk):
            with engine.begin() as conn:
                conn.execute(insert(Batch.__table__), batch_rows)
                if link_rows:
                    conn.execute(insert(BatchLink.__table__), link_rows)
                if event_rows:
                    conn.execute(insert(Event.__table__), event_rows)
            batch_rows, link_rows, event_rows = [], [], []
            done = next_id - 1
            rate = done / (time.perf_counter() - started)
            print(f"\r  {done:,}/{total:,} batches ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)

    for f in range(families):
        base = next_id
        producer = f % 1000 + 1
        for offset, (kind, parents) in enumerate(layout):
            bid = base + offset
            batch_rows.append({
                "id": bid, "code": codes.new_code(), "producer_id": producer, "product_id": 1, "kind": kind,
                "unit": "kg", "quantity_kg": 100.0, "out_kg": 0.0, "cultivar": "宁杞7号",
                "product_form": "fresh" if kind == "harvest" else "dried", "trademark_name": "",
                "stage": "harvest", "test_state": "untested", "open_flags": 0, "event_count": 0, "head_hash": "",
                "units_issued": 0, "withdrawn_reason": "", "created_at": NOW,
                "origin_town_code": TOWN, "harvest_year": 2025,
            })
            if kind == "harvest":
                event_rows.append({
                    "id": event_id, "batch_id": bid, "seq": 1, "stage": "harvest", "occurred_at": NOW,
                    "utc_offset_min": 480, "location_town_code": TOWN, "location_name": "",
                    "quantity_kg": 100.0, "data": {"plot_id": producer, "fresh_kg": 100.0}, "recorded_at": NOW,
                    "correction_reason": "", "prev_hash": "", "hash": "0" * 64})
                event_id += 1
            link_kind = {"merged": "merge", "processed": "transform", "lot": "split"}.get(kind)
            for parent in parents:
                link_rows.append({"id": link_id, "parent_id": base + parent, "child_id": bid, "quantity_kg": 50.0,
                                  "kind": link_kind, "created_at": NOW})
                link_id += 1
        next_id += FAMILY
        flush()
    flush(final=True)
    print(file=sys.stderr)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("batch", "batchlink", "event"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    print(f"  built {total:,} batches, {link_id - 1:,} links, {event_id - 1:,} events in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


def _median_ms(samples: list[int]) -> float:
    return statistics.median(samples) / 1e6


def measure(engine, samples: int, seed: int = 7) -> dict:
    """Median time of the service and of the floor, backward from sub-lots and forward from harvests."""
    layout = family_layout()
    with Session(engine) as session:
        total = session.execute(select(func.count()).select_from(Batch.__table__)).scalar_one()
        families = total // FAMILY
        rnd = random.Random(seed)
        picks = [rnd.randrange(families) for _ in range(samples)]
        sub_lot = FAMILY - 1 - 0  # the last sub-lot of a family
        backward_ids = [f * FAMILY + sub_lot + 1 - rnd.randrange(16) for f in picks]
        forward_ids = [f * FAMILY + 1 + rnd.randrange(16) for f in picks]
        assert layout[sub_lot][0] == "lot"
        roots = {b.id: b for b in session.execute(
            select(Batch).where(Batch.id.in_(backward_ids + forward_ids))).scalars()}
        raw = session.connection().connection.driver_connection
        placeholder = "%s" if engine.dialect.name == "postgresql" else "?"
        results = {}
        for direction, ids, floor_sql in (("backward", backward_ids, FLOOR_BACKWARD),
                                          ("forward", forward_ids, FLOOR_FORWARD)):
            sql = floor_sql.format(p=placeholder)
            cursor = raw.cursor()
            sizes = []
            for i in ids[:20]:  # warm both paths
                cursor.execute(sql, (i,))
                cursor.fetchall()
                lineage.trace(session, roots[i], direction)
            service, floor = [], []
            for i in ids:  # interleaved, so both see the same cache state
                t0 = time.perf_counter_ns()
                cursor.execute(sql, (i,))
                found = cursor.fetchall()
                t1 = time.perf_counter_ns()
                result = lineage.trace(session, roots[i], direction)
                t2 = time.perf_counter_ns()
                floor.append(t1 - t0)
                service.append(t2 - t1)
                assert len(result.nodes) == len(found) - 1, (direction, i, len(result.nodes), len(found))
                sizes.append(len(found))
            cursor.close()
            results[direction] = {"service_ms": _median_ms(service), "floor_ms": _median_ms(floor),
                                  "nodes": statistics.median(sizes)}
        # The API's backward trace also reads the harvest plots (one more query).
        plots = []
        for i in backward_ids:
            t0 = time.perf_counter_ns()
            lineage.trace(session, roots[i], "backward", with_plots=True)
            plots.append(time.perf_counter_ns() - t0)
        results["backward+plots"] = {"service_ms": _median_ms(plots), "floor_ms": results["backward"]["floor_ms"],
                                     "nodes": results["backward"]["nodes"]}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'bench-output' / 'lineage.sqlite3'}")
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep an already-built graph of the same size")
    args = parser.parse_args()
    url = normalise_database_url(args.database_url)
    if url.startswith("sqlite"):
        (ROOT / "bench-output").mkdir(exist_ok=True)
    engine = make_engine(url)
    have = 0
    if args.reuse:
        try:
            with engine.connect() as conn:
                have = conn.execute(text("SELECT count(*) FROM batch")).scalar_one()
        except Exception:  # no table yet
            have = 0
    wanted = -(-args.batches // FAMILY) * FAMILY
    if have != wanted:
        print(f"building {wanted:,} batches on {engine.dialect.name} ...", file=sys.stderr)
        build(engine, args.batches)
    results = measure(engine, args.samples)
    print(f"lineage trace on {engine.dialect.name}, {wanted:,} batches, {args.samples} traces each (median)")
    print(f"{'direction':<16}{'nodes':>6}{'service ms':>12}{'CTE floor ms':>14}{'ratio':>8}  target <= 5x")
    for direction, r in results.items():
        ratio = r["service_ms"] / r["floor_ms"]
        print(f"{direction:<16}{r['nodes']:>6.0f}{r['service_ms']:>12.3f}{r['floor_ms']:>14.3f}{ratio:>7.1f}x"
              f"  {'ok' if ratio <= 5 else 'OVER'}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

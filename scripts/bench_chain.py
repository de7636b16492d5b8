#!/usr/bin/env python3
"""Chain benchmark: traces across owners on a generated market, through the app's trace service, against a
hand-written recursive CTE on the same tables (the floor), medians of interleaved samples in the same run.

    .venv/bin/python scripts/bench_chain.py                          # SQLite file in bench-output/
    .venv/bin/python scripts/bench_chain.py --scale 0.1             # a tenth of the market (quicker to build)
    .venv/bin/python scripts/bench_chain.py --database-url postgresql://postgres@127.0.0.1:5432/gi_bench

The market at --scale 1: 100,000 households, 50 dealers, 10 processors. Each household sells ten harvest
batches at the market: 1,000,000 batches received by the dealers (link kind `transfer`). Each dealer blends
its purchases 500 at a time (merge), ships each blend to a processor, which receives it (transfer) and
processes it into a lot (transform). A backward trace from a processor's lot crosses three owners down to
~500 harvests (about 1,000 batches); a forward trace from a harvest reaches the dealer's receipt, the blend,
the processor's receipt and its lot. Rows go in with SQLAlchemy Core executemany; the database is
throwaway (every table is dropped and recreated unless --reuse finds the same market). Target: service
≤ 5× floor.
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
sys.path.insert(0, str(ROOT / "scripts"))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import gi_trace.models  # noqa: E402,F401  (registers every table)
from gi_trace.config import normalise_database_url  # noqa: E402
from gi_trace.db import make_engine  # noqa: E402
from gi_trace.registry.models import Producer, Product, Region  # noqa: E402
from gi_trace.tracing import codes, lineage  # noqa: E402
from gi_trace.tracing.models import Batch, BatchLink  # noqa: E402
from bench_lineage import FLOOR_BACKWARD, FLOOR_FORWARD  # noqa: E402  (the same floor as the lineage bench)

NOW = datetime(2025, 8, 1, tzinfo=timezone.utc)
TOWN = "640521100"
DEALERS, PROCESSORS = 50, 10
LOTS_PER_HOUSEHOLD = 10
BLEND = 500  # purchases per dealer blend

def sizes(scale: float) -> dict:
    households = max(int(100_000 * scale), DEALERS)
    received = households * LOTS_PER_HOUSEHOLD
    per_dealer = received // DEALERS
    blends = DEALERS * -(-per_dealer // BLEND)  # every receipt goes into a blend (the last may be smaller)
    return {"households": households, "received": received, "blends": blends,
            "batches": 2 * received + 3 * blends}


def _batch(bid: int, producer: int, kind: str, form: str = "dried") -> dict:
    return {"id": bid, "code": codes.new_code(), "producer_id": producer, "product_id": 1, "kind": kind, "unit": "kg",
            "quantity_kg": 30.0, "out_kg": 0.0, "cultivar": "宁杞7号", "product_form": form, "trademark_name": "",
            "stage": "drying", "test_state": "passed", "open_flags": 0, "event_count": 0, "head_hash": "",
            "units_issued": 0, "withdrawn_reason": "", "created_at": NOW, "origin_town_code": TOWN,
            "harvest_year": 2025, "origin_state": "" if kind == "harvest" else "verified"}


def build(engine, scale: float, chunk: int = 20000) -> dict:
    """Drop and recreate the schema, then insert the market in bulk. Returns the id ranges."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:  # dropping millions of rows under foreign-key checks takes minutes: start from a new file
        engine.dispose()
        path = Path(engine.url.database)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    SQLModel.metadata.create_all(engine)
    n = sizes(scale)
    households, received, blends = n["households"], n["received"], n["blends"]
    dealer0, processor0 = households + 1, households + DEALERS + 1
    with engine.begin() as conn:
        conn.execute(insert(Region.__table__), [
            {"code": "640500", "name_zh": "中卫市", "name_en": "Zhongwei", "level": "city", "parent_code": None},
            {"code": "640521", "name_zh": "中宁县", "name_en": "", "level": "county", "parent_code": "640500"},
            {"code": TOWN, "name_zh": "宁安镇", "name_en": "", "level": "town", "parent_code": "640521"}])
        conn.execute(insert(Product.__table__), [{"id": 1, "slug": "zhongning-goji", "name_zh": "中宁枸杞",
                                                  "name_en": "", "holder": "", "unit": "kg", "target_share": 0.6,
                                                  "created_at": NOW}])
        parties = [{"id": i, "uscc": None, "registry_no": f"HH{i}", "name": f"农户{i}", "kind": "household"}
                   for i in range(1, households + 1)]
        parties += [{"id": dealer0 + d, "uscc": None, "registry_no": f"DL{d}", "name": f"枸杞商行{d}", "kind": "trader"}
                    for d in range(DEALERS)]
        parties += [{"id": processor0 + p, "uscc": None, "registry_no": f"PR{p}", "name": f"加工企业{p}",
                     "kind": "processor"} for p in range(PROCESSORS)]
        for start in range(0, len(parties), chunk):
            conn.execute(insert(Producer.__table__), [{
                **row, "uscc_check_ok": True, "county_code": "640521", "town_code": TOWN, "address": "",
                "contact_name": "", "contact_phone": "", "created_at": NOW} for row in parties[start:start + chunk]])
    started = time.perf_counter()
    batch_rows: list[dict] = []
    link_rows: list[dict] = []
    link_id = 1

    def flush(final: bool = False) -> None:
        nonlocal batch_rows, link_rows
        if batch_rows and (final or len(batch_rows) >= chunk):
            with engine.begin() as conn:
                conn.execute(insert(Batch.__table__), batch_rows)
                if link_rows:
                    conn.execute(insert(BatchLink.__table__), link_rows)
            batch_rows, link_rows = [], []
            done = batch_rows_done[0]
            print(f"\r  {done:,}/{n['batches']:,} batches ({done / (time.perf_counter() - started):,.0f}/s)",
                  end="", file=sys.stderr, flush=True)

    batch_rows_done = [0]

    def add(row: dict) -> None:
        batch_rows.append(row)
        batch_rows_done[0] += 1

    def link(parent: int, child: int, kind: str) -> None:
        nonlocal link_id
        link_rows.append({"id": link_id, "parent_id": parent, "child_id": child, "quantity_kg": 30.0, "kind": kind,
                          "created_at": NOW})
        link_id += 1

    # Ids: harvests 1..R, dealers' receipts R+1..2R (receipt of harvest i is R+i), then per blend b:
    # blend 2R+1+3b, the processor's receipt 2R+2+3b, its lot 2R+3+3b.
    # A dealer's receipts are every DEALERS-th one, so blend b of dealer d takes receipts d, d+50, d+100, ...
    for i in range(1, received + 1):
        household = (i - 1) % households + 1
        dealer = (i - 1) % DEALERS
        add(_batch(i, household, "harvest", "dried"))
        add(_batch(received + i, dealer0 + dealer, "received"))
        link(i, received + i, "transfer")
        flush()
    flush(final=True)
    per_dealer = received // DEALERS
    for b in range(blends):
        dealer, k = b % DEALERS, b // DEALERS  # the dealer's k-th blend
        if k * BLEND >= per_dealer:
            continue
        base = 2 * received + 1 + 3 * b
        add(_batch(base, dealer0 + dealer, "merged"))
        for j in range(BLEND):
            position = k * BLEND + j  # the dealer's position-th purchase
            if position >= per_dealer:
                break
            link(received + 1 + dealer + position * DEALERS, base, "merge")
        processor = processor0 + b % PROCESSORS
        add(_batch(base + 1, processor, "received"))
        link(base, base + 1, "transfer")
        add(_batch(base + 2, processor, "processed", "powder"))
        link(base + 1, base + 2, "transform")
        flush()
    flush(final=True)
    print(file=sys.stderr)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("batch", "batchlink", "producer"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        if engine.dialect.name != "postgresql":
            conn.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":  # what autovacuum does to a loaded table: index-only scans need it
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(f"  built {batch_rows_done[0]:,} batches and {link_id - 1:,} links for {households:,} households in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return n


def _median_ms(samples: list[int]) -> float:
    return statistics.median(samples) / 1e6


def measure(engine, scale: float, samples: int, seed: int = 7) -> dict:
    """Median time of the service and of the floor: backward from processors' lots, forward from harvests."""
    n = sizes(scale)
    received, blends = n["received"], n["blends"]
    rnd = random.Random(seed)
    lot_ids = [2 * received + 3 + 3 * rnd.randrange(blends) for _ in range(samples)]
    harvest_ids = [1 + rnd.randrange(DEALERS * (received // DEALERS)) for _ in range(samples)]
    with Session(engine) as session:
        roots = {b.id: b for b in session.execute(select(Batch).where(Batch.id.in_(set(lot_ids + harvest_ids))))
                 .scalars()}
        raw = session.connection().connection.driver_connection
        placeholder = "%s" if engine.dialect.name == "postgresql" else "?"
        results = {}
        for direction, ids, floor_sql in (("backward", lot_ids, FLOOR_BACKWARD),
                                          ("forward", harvest_ids, FLOOR_FORWARD)):
            sql = floor_sql.format(p=placeholder)
            cursor = raw.cursor()
            for i in ids[:10]:  # warm both paths
                cursor.execute(sql, (i,))
                cursor.fetchall()
                lineage.trace(session, roots[i], direction)
            service, floor, found_sizes, owners = [], [], [], []
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
                found_sizes.append(len(found))
                owners.append(len({node.producer_id for node in result.nodes.values()}))
            cursor.close()
            harvests = len(lineage.trace(session, roots[ids[0]], direction).harvest_batches())
            results[direction] = {"service_ms": _median_ms(service), "floor_ms": _median_ms(floor),
                                  "batches": statistics.median(found_sizes), "owners": statistics.median(owners),
                                  "harvests": harvests}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'bench-output' / 'chain.sqlite3'}")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 100,000 households and 1,000,000 receipts")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep an already-built market of the same size")
    args = parser.parse_args()
    url = normalise_database_url(args.database_url)
    if url.startswith("sqlite"):
        (ROOT / "bench-output").mkdir(exist_ok=True)
    engine = make_engine(url)
    want = sizes(args.scale)
    have = 0
    if args.reuse:
        try:
            with engine.connect() as conn:
                have = conn.execute(select(func.count()).select_from(Batch.__table__)).scalar_one()
        except Exception:  # noqa: BLE001 - no schema yet
            have = 0
    if have != want["batches"]:
        print(f"building the market at scale {args.scale:g} on {engine.dialect.name}: {want['households']:,} "
              f"households, {DEALERS} dealers, {PROCESSORS} processors, {want['received']:,} receipts",
              file=sys.stderr)
        build(engine, args.scale)
    results = measure(engine, args.scale, args.samples)
    print(f"bench_chain on {engine.dialect.name}, scale {args.scale:g} ({want['batches']:,} batches, "
          f"{want['received']:,} received by dealers), {args.samples} samples each, medians:")
    worst = 0.0
    for direction, r in results.items():
        ratio = r["service_ms"] / r["floor_ms"] if r["floor_ms"] else float("inf")
        worst = max(worst, ratio)
        print(f"  {direction:<9} {r['batches']:>6.0f} batches, {r['owners']:>4.0f} owners, {r['harvests']:>4} harvests: "
              f"service {r['service_ms']:8.2f} ms   floor (recursive CTE) {r['floor_ms']:8.2f} ms   "
              f"ratio {ratio:4.2f}× (target ≤ 5×)")
    return 0 if worst <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())

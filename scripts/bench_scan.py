#!/usr/bin/env python3
"""Benchmark the public scan page `/t/<code>` against the bare `/healthz` of the same gunicorn server.

    .venv/bin/python scripts/bench_scan.py                          # SQLite, 1M batches / 6M events
    .venv/bin/python scripts/bench_scan.py --reuse                  # keep the generated database
    .venv/bin/python scripts/bench_scan.py --database-url postgresql://postgres@127.0.0.1:5432/gi_scan_bench
    .venv/bin/python scripts/bench_scan.py --reuse --worker-class gthread --threads 4

1. Builds (or with --reuse, reuses) a throwaway database under /tmp with the app's schema
   (SQLModel.metadata.create_all + reference data) and N batches with 6 events each: one third
   harvest batches (planting, two pickings, drying, test, split), two thirds packed lots made from
   two harvests each (split, two storage/transport steps, test, two distributions), every event
   hash-chained with the tracing area's canonical hash, plus unit codes (一物一码) for some lots.
   Rows are generated in chunks and written with sqlite3 executemany (SQLite) or COPY (PostgreSQL).
2. Serves the app with gunicorn on 127.0.0.1 and drives it with wrk (Debian's), a Lua script
   picking random real codes (batch and unit codes) from a file.
3. Prints requests/s, p50 and p99 for `/healthz` and `/t/<code>` (scan logging included), errors,
   and the ratio. Target (2 cores, SQLite, 32 connections): scan >= 35% of bare, p99 < 25 ms, 0 errors.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK = Path(os.environ.get("BENCH_DIR", "/tmp/gi_bench"))
EVENTS_PER_BATCH = 6
CHUNK = 30_000  # batches per executemany / COPY round
PRODUCERS = 2_000
CST = timezone(timedelta(hours=8))
VERSION = 4  # bump when the generated shape changes, so --reuse rebuilds


# --- data generation ---------------------------------------------------------------------

class _Ev:
    """Just the attributes tracing.chain.compute_hash reads."""

    __slots__ = ("seq", "stage", "occurred_at", "utc_offset_min", "location_town_code", "location_name",
                 "quantity_kg", "data", "op_id", "recorded_by", "recorded_at", "corrects_event_id",
                 "correction_reason", "prev_hash")


def _fast_code(rnd: random.Random) -> str:
    from gi_trace.tracing.codes import ALPHABET, BODY_LENGTH, check_character

    body = "".join(rnd.choices(ALPHABET, k=BODY_LENGTH))
    return body + check_character(body)


def _sqlite_ts(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_ts(dt: datetime) -> datetime:
    return dt


TOWNS = ["640521" + s for s in ("100", "101", "102", "103", "104", "105", "200", "201", "202", "204", "205")]
# A measured test as the tracing services record it (registry.limits' snapshot added by `measured_test`);
# the verdict and the batch's quality record are computed from it by tracing.quality, as the services do.
TEST = {"lab": "宁夏农产品质量检测中心", "lab_cma_no": "CMA 200000000000", "report_no": "NX-2025-0715",
        "sampled_at": "2025-07-14", "sampled_by": "中宁县农产品质量安全检测站 抽样员",
        "method": "GB/T 18672-2014; GB 5009.34; GB 23200.8", "moisture_pct": 11.2, "so2_mg_per_kg": 6.0,
        "grains_per_50g": 330, "residues": [{"substance": "吡虫啉", "mg_per_kg": 0.05}], "lab_verdict": "pass"}


def measured_test(limits: dict) -> tuple[dict, dict, dict]:
    """(test event data, the batch's quality record, what a batch made from it inherits) for a passing test
    judged against the product's limits in force, with tracing.quality's own rules."""
    from gi_trace.tracing import quality

    test = {**TEST, "limits": quality.limits_snapshot(limits, [r["substance"] for r in TEST["residues"]])}
    outcome = quality.evaluate(test)
    assert outcome.state == quality.PASSED, outcome
    ledger = quality.Ledger(code="")
    ledger.test(outcome, test, None)
    record = ledger.record()
    inherited = {"test_state": "passed", "grade": outcome.grade["grade"], "grains_per_50g": outcome.grains_per_50g,
                 "report_no": TEST["report_no"], **quality.carried(record, "passed", "")}
    return test, record, inherited


def generate(start: int, end: int, n_batches: int, product_id: int, backend: str, limits: dict, seed: int = 4):
    """Insert rows (batch, event, link, unit tuples) for batch ids start..end-1, the same on every run.

    Ids derive from the batch id (event id = (batch id - 1) * 6 + seq, unit id = batch id * 3 +
    serial), so chunks can be generated in any process and order. Every event is hash-chained with
    the tracing area's own canonical hash.
    """
    from gi_trace.tracing.chain import compute_hash

    ts = _sqlite_ts if backend == "sqlite" else _pg_ts
    dump = lambda d: json.dumps(d, ensure_ascii=False)  # noqa: E731
    rnd = random.Random(seed * 1_000_003 + start)
    n_harvest = n_batches // 3
    base = datetime(2025, 7, 1, 8, 0, tzinfo=CST)
    recorded = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
    recorded_ts = ts(recorded)
    created = ts(datetime(2025, 10, 1, tzinfo=timezone.utc))
    ev = _Ev()
    ev.utc_offset_min, ev.op_id, ev.recorded_by, ev.corrects_event_id = 480, None, None, None
    ev.recorded_at, ev.correction_reason = recorded, ""
    test, quality_record, inherited = measured_test(limits)
    test_json, quality_json = dump(test), dump(quality_record)
    b_rows, e_rows, l_rows, u_rows = [], [], [], []

    def chain(batch_id: int, code: str, steps: list[tuple]) -> str:
        prev = ""
        for seq, (stage, at, town, place, kg, data, data_json) in enumerate(steps, start=1):
            ev.seq, ev.stage, ev.occurred_at = seq, stage, at
            ev.location_town_code, ev.location_name, ev.quantity_kg, ev.data = town, place, kg, data
            ev.prev_hash = prev
            h = compute_hash(code, ev)
            e_rows.append(((batch_id - 1) * EVENTS_PER_BATCH + seq, batch_id, seq, stage, ts(at), 480, town, place,
                           kg, data_json or dump(data), recorded_ts, "", prev, h))
            prev = h
        return prev

    for batch_id in range(start, end):
        producer_id = rnd.randint(1, PRODUCERS)
        town = TOWNS[producer_id % len(TOWNS)]
        day = base + timedelta(days=rnd.randint(0, 100), minutes=rnd.randint(0, 600))
        code = _fast_code(rnd)
        if batch_id <= n_harvest:
            fresh1, fresh2 = float(rnd.randint(300, 900)), float(rnd.randint(300, 900))
            dried = round((fresh1 + fresh2) / 4.2, 3)
            out = round(dried * 0.8, 3)
            steps = [
                ("planting", day - timedelta(days=80), town, "", None, {"plot_id": producer_id, "cultivar": "宁杞7号"},
                 None),
                ("harvest", day, town, "", fresh1, {"plot_id": producer_id, "picking_round": 3, "fresh_kg": fresh1},
                 None),
                ("harvest", day + timedelta(days=7), town, "", fresh2,
                 {"plot_id": producer_id, "picking_round": 4, "fresh_kg": fresh2}, None),
                ("drying", day + timedelta(days=10), town, "", dried,
                 {"method": "hot_air", "temperature_c": 55, "fresh_kg_in": fresh1 + fresh2, "dried_kg_out": dried,
                  "moisture_pct": 11.2}, None),
                ("testing", day + timedelta(days=12), None, "宁夏农产品质量检测中心", None, test, test_json),
                ("split", day + timedelta(days=15), town, "", out, {"role": "input"}, None),
            ]
            head = chain(batch_id, code, steps)
            b_rows.append((batch_id, code, producer_id, product_id, "harvest", "kg", dried, out, "宁杞7号", "dried",
                           None, "红宝", "storage", "passed", 330, "特级", town, 2025, 0, EVENTS_PER_BATCH,
                           ts(steps[0][1]), ts(steps[-1][1]), head, 0, "", created, "", ts(steps[4][1]),
                           quality_json))
        else:
            parents = {rnd.randint(1, n_harvest), rnd.randint(1, n_harvest)}
            kg = float(rnd.randint(50, 200))
            steps = [
                ("split", day + timedelta(days=15), town, "", kg,
                 {"role": "output", "inherited": inherited}, None),
                ("storage", day + timedelta(days=20), town, "中宁县枸杞交易市场冷库", None,
                 {"place": "中宁县枸杞交易市场冷库", "conditions": "阴凉干燥"}, None),
                ("storage", day + timedelta(days=25), None, "银川", None,
                 {"place": "银川物流园", "carrier": "宁夏顺达物流"}, None),
                ("testing", day + timedelta(days=26), None, "宁夏农产品质量检测中心", None, test, test_json),
                ("distribution", day + timedelta(days=30), None, "银川", 20.0,
                 {"recipient": "银川某超市", "kg": 20.0, "destination": "银川"}, None),
                ("distribution", day + timedelta(days=32), None, "西安", 20.0,
                 {"recipient": "西安某超市", "kg": 20.0, "destination": "西安"}, None),
            ]
            head = chain(batch_id, code, steps)
            units = 3 if batch_id % 10 == 0 else 0  # one lot in ten carries 一物一码 unit codes
            b_rows.append((batch_id, code, producer_id, product_id, "lot", "kg", kg, 40.0, "宁杞7号", "dried",
                           f"L{batch_id}", "红宝", "distribution", "passed", 330, "特级", town, 2025, 0,
                           EVENTS_PER_BATCH, ts(steps[0][1]), ts(steps[-1][1]), head, units, "", created, "verified",
                           ts(steps[3][1]), quality_json))
            for parent in parents:
                l_rows.append((parent, batch_id, round(kg / len(parents), 3), "split", created))
            for serial in range(1, units + 1):
                u_rows.append((batch_id * 3 + serial, _fast_code(rnd), batch_id, serial, 0.5, created))
    return b_rows, e_rows, l_rows, u_rows


def _chunk_rows(args):
    """Generate one chunk of insert rows (runs in a worker process)."""
    return generate(*args)


def chunks(n_batches: int, product_id: int, backend: str, limits: dict):
    """Insert rows chunk by chunk, generated by a second process while this one writes."""
    import multiprocessing

    tasks = [(start, min(start + CHUNK, n_batches + 1), n_batches, product_id, backend, limits)
             for start in range(1, n_batches + 1, CHUNK)]
    # Hashing 6 events per batch is the slow part: every core generates; this process only writes.
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        yield from pool.imap(_chunk_rows, tasks)


BATCH_COLS = ("id", "code", "producer_id", "product_id", "kind", "unit", "quantity_kg", "out_kg", "cultivar",
              "product_form", "producer_lot", "trademark_name", "stage", "test_state", "grains_per_50g", "grade",
              "origin_town_code", "harvest_year", "open_flags", "event_count", "first_event_at", "last_event_at",
              "head_hash", "units_issued", "withdrawn_reason", "created_at", "origin_state", "tested_at", "quality")
EVENT_COLS = ("id", "batch_id", "seq", "stage", "occurred_at", "utc_offset_min", "location_town_code",
              "location_name", "quantity_kg", "data", "recorded_at", "correction_reason", "prev_hash", "hash")
LINK_COLS = ("parent_id", "child_id", "quantity_kg", "kind", "created_at")
UNIT_COLS = ("id", "code", "batch_id", "serial", "package_kg", "issued_at")
# A decision's text columns the generated decisions leave empty (NOT NULL, no server default).
DECISION_TEXTS = ("reason", "reason_code", "contract_no", "notice_no", "standard", "test_report_no", "sources")


def _schema_and_reference(url: str) -> tuple[int, dict]:
    """Create the app's schema and reference data; return the 中宁枸杞 product id and its limits in force
    on the generated tests' sampling day (registry.limits, as the tracing services judge a test)."""
    from sqlmodel import Session, SQLModel, select

    import gi_trace.models  # noqa: F401  (registers every table)
    from gi_trace.db import make_engine
    from gi_trace.registry import limits
    from gi_trace.registry.models import Product
    from gi_trace.registry.reference import GOJI_SLUG, ensure_reference_data

    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        ensure_reference_data(session)
        session.commit()
        product = session.exec(select(Product).where(Product.slug == GOJI_SLUG)).one()
        product_id = product.id
        in_force = limits.in_force(session, product, datetime.strptime(TEST["sampled_at"], "%Y-%m-%d").date())
    engine.dispose()
    return product_id, in_force


def _producers_and_decisions(product_id: int):
    """Producers in the protected towns, all approved in 2023; a few later suspended or revoked."""
    from gi_trace.registry.uscc import ALPHABET, check_character

    rnd = random.Random(7)
    producers, decisions = [], []
    for pid in range(1, PRODUCERS + 1):
        body = "93640521" + "".join(rnd.choices(ALPHABET, k=9))
        producers.append((pid, body + check_character(body), f"中宁县枸杞合作社{pid}", "cooperative", "640521",
                          TOWNS[pid % len(TOWNS)]))
        decisions.append((pid, product_id, "approve", "2023-01-01", f"中宁地标许字〔2023〕{pid}号"))
        if pid % 50 == 0:
            decisions.append((pid, product_id, "revoke", "2025-09-01", ""))
        elif pid % 37 == 0:
            decisions.append((pid, product_id, "suspend", "2026-03-01", ""))
    return producers, decisions


def _progress(total: int, label: str):
    import click

    return click.progressbar(length=total, label=label, show_eta=True, show_pos=True)


def build_sqlite(path: Path, n_batches: int) -> None:
    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    product_id, limits = _schema_and_reference(f"sqlite:///{path}")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-2000000")
    db.execute("PRAGMA temp_store=MEMORY")
    producers, decisions = _producers_and_decisions(product_id)
    now = _sqlite_ts(datetime.now(timezone.utc))
    db.execute("BEGIN")
    db.executemany("INSERT INTO producer (id, uscc, name, kind, county_code, town_code, uscc_check_ok, address, "
                   "contact_name, contact_phone, deregistration_reason, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, 1, '', '', '', '', '" + now + "')", producers)
    db.executemany("INSERT INTO authorisationdecision (producer_id, product_id, action, effective_date, reference_no, "
                   f"{', '.join(DECISION_TEXTS)}, recorded_at, source) VALUES (?, ?, ?, ?, ?, "
                   f"{', '.join(chr(39) * 2 for _ in DECISION_TEXTS)}, '" + now + "', 'bench')", decisions)
    db.execute("COMMIT")
    sql = {name: f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
           for name, cols in (("batch", BATCH_COLS), ("event", EVENT_COLS), ("batchlink", LINK_COLS),
                              ("unitcode", UNIT_COLS))}
    # Secondary indexes are built once at the end (sorted) instead of row by row.
    tables = ("batch", "event", "batchlink", "unitcode")
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
                         f"({', '.join('?' * len(tables))})", tables).fetchall()
    for name, _sql in indexes:
        db.execute(f'DROP INDEX "{name}"')
    with _progress(n_batches, "SQLite: batches") as bar:
        for b_rows, e_rows, l_rows, u_rows in chunks(n_batches, product_id, "sqlite", limits):
            db.execute("BEGIN")
            db.executemany(sql["batch"], b_rows)
            db.executemany(sql["event"], e_rows)
            db.executemany(sql["batchlink"], l_rows)
            db.executemany(sql["unitcode"], u_rows)
            db.execute("COMMIT")
            bar.update(len(b_rows))
    print(f"indexes ({len(indexes)}) and analyse ...", flush=True)
    for _name, sql in indexes:
        db.execute(sql)
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


def build_postgres(url: str, n_batches: int) -> None:
    import psycopg

    from gi_trace.config import normalise_database_url

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    dbname = plain.rsplit("/", 1)[1].split("?")[0]
    admin = plain.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    product_id, limits = _schema_and_reference(normalise_database_url(plain))
    producers, decisions = _producers_and_decisions(product_id)
    with psycopg.connect(plain) as conn:
        # Loading a consistent generated set: skip the per-row foreign-key triggers.
        conn.execute("SET session_replication_role = replica")
        with conn.cursor() as cur:
            with cur.copy("COPY producer (id, uscc, name, kind, county_code, town_code, uscc_check_ok, address, "
                          "contact_name, contact_phone, deregistration_reason, created_at) FROM STDIN") as copy:
                now = datetime.now(timezone.utc)
                for p in producers:
                    copy.write_row((*p, True, "", "", "", "", now))
            with cur.copy("COPY authorisationdecision (producer_id, product_id, action, effective_date, "
                          f"reference_no, {', '.join(DECISION_TEXTS)}, recorded_at, source) FROM STDIN") as copy:
                for d in decisions:
                    copy.write_row((*d, *("" for _ in DECISION_TEXTS), now, "bench"))
        conn.commit()
        with _progress(n_batches, "PostgreSQL: batches") as bar:
            for rows in chunks(n_batches, product_id, "postgresql", limits):
                with conn.cursor() as cur:
                    for table, cols, data in zip(("batch", "event", "batchlink", "unitcode"),
                                                 (BATCH_COLS, EVENT_COLS, LINK_COLS, UNIT_COLS), rows):
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                            for row in data:
                                copy.write_row(row)
                conn.commit()
                bar.update(len(rows[0]))
        for table in ("producer", "authorisationdecision", "batch", "event", "batchlink", "unitcode"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        conn.commit()
    print("analyse ...", flush=True)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


_PAGES_APP = None


def _pages_task(args):
    """Build the stored trace pages of batches first..last (runs in a worker process; the parent writes)."""
    global _PAGES_APP
    url, first, last = args
    from gi_trace import create_app
    from gi_trace.db import get_engine
    from gi_trace.scan import read_path, stored_pages

    if _PAGES_APP is None:
        os.environ.setdefault("GI_TRACE_INSTANCE", str(WORK / "instance"))
        _PAGES_APP = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret"})
    with _PAGES_APP.app_context():
        ref = read_path.ReferenceCache(ttl=3600)
        with get_engine().connect() as conn:
            ref.get(conn)
            todo, _last, looked = stored_pages.batches_to_build(conn, ref, first - 1, last - first + 1, True, last)
            return looked, stored_pages.build_many(conn, todo, ref)


def build_pages(url: str) -> int:
    """Store the trace page of every batch that has none or a stale one, with the app's own builder
    (gi_trace.scan.stored_pages.build_many: what the jobs worker stores after an event is written)."""
    import multiprocessing

    from sqlalchemy import text

    from gi_trace.db import make_engine
    from gi_trace.scan import stored_pages

    import gi_trace.models  # noqa: F401  (registers every table)
    from sqlmodel import SQLModel

    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)  # a database built before stored pages existed gets their table
    with engine.connect() as conn:
        n = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM batch")).scalar_one()
    step = 10_000
    tasks = [(url, first, min(first + step - 1, n)) for first in range(1, n + 1, step)]
    written = 0
    # Building is the slow part: every core builds; this process only writes.
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool, \
            _progress(n, "stored trace pages") as bar:
        for looked, built in pool.imap_unordered(_pages_task, tasks):
            for i in range(0, len(built), 2000):
                with engine.begin() as conn:
                    stored_pages.store(conn, built[i:i + 2000])
            written += len(built)
            bar.update(looked)
    if written and engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE storedpage")
    engine.dispose()
    return written


def warm_cache(url: str) -> None:
    """Read the database once into the OS page cache (PostgreSQL: pg_prewarm into shared buffers as far as
    they go), so that a run right after other work on the machine measures the same warm cache as any other."""
    started = time.perf_counter()
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        with path.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    else:
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            for table in ("storedpage", "batch", "unitcode", "producer", "authorisationdecision"):
                conn.execute(f"SELECT pg_prewarm('{table}')")
                for (index,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,)):
                    conn.execute(f"SELECT pg_prewarm('{index}')")
    print(f"warmed the database cache in {time.perf_counter() - started:.0f} s")


def sample_codes(url: str, path: Path, n: int = 50_000) -> int:
    """Write random real codes (nine batch codes to one unit code) to a file for the load generator."""
    from sqlalchemy import text

    from gi_trace.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        n_batches = conn.execute(text("SELECT MAX(id) FROM batch")).scalar_one()
        n_units = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM unitcode")).scalar_one()
        rnd = random.Random(11)
        batch_ids = sorted(rnd.sample(range(1, n_batches + 1), min(n * 9 // 10, n_batches)))
        unit_ids = sorted(rnd.sample(range(1, n_units + 1), min(n // 10, n_units))) if n_units else []
        codes = []
        for table, ids in (("batch", batch_ids), ("unitcode", unit_ids)):
            for i in range(0, len(ids), 5000):
                part = ids[i:i + 5000]
                codes += [r[0] for r in conn.execute(
                    text(f"SELECT code FROM {table} WHERE id IN ({','.join(map(str, part))})"))]
    engine.dispose()
    random.Random(12).shuffle(codes)
    path.write_text("\n".join(codes) + "\n")
    return n_batches


# --- serving and load ---------------------------------------------------------------------

LUA = r"""
local codes = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  for line in io.lines(args[1]) do codes[#codes + 1] = line end
  math.randomseed(os.time() * 1000 + (id or 0))
  path_mode = args[2] or "scan"
end
function request()
  if path_mode == "bare" then return wrk.format("GET", "/healthz") end
  return wrk.format("GET", "/t/" .. codes[math.random(#codes)])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_LOG = WORK / "server.log"


def start_server(url: str, port: int, workers: int, worker_class: str, threads: int, extra_env: dict,
                 root: Path = ROOT, work: Path = WORK):
    """gunicorn serving the app of the checkout at `root` (its own .venv), its files under `work`."""
    env = dict(os.environ)
    instance = work / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    env.update({"DATABASE_URL": url, "SECRET_KEY": "bench-secret", "SCAN_SALT": "bench-salt",
                "GI_TRACE_INSTANCE": str(instance), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    # Served as scripts/run.sh serves it: JSON log lines (here into a file, where production has a log
    # shipper) and Prometheus metrics in multiprocess files.
    metrics_dir = work / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env.update({"LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    env.update({k: str(v) for k, v in extra_env.items()})
    cmd = [str(root / ".venv/bin/gunicorn"), "--workers", str(workers), "--worker-class", worker_class,
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048"]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    overrides = {k: v for k, v in extra_env.items() if k.startswith("SCAN_")}
    cmd.append(f"gi_trace:create_app({overrides!r})" if overrides else "gi_trace:create_app()")
    server_log = work / SERVER_LOG.name
    with server_log.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise SystemExit("gunicorn did not start; its log: " + str(server_log))


def stop_server(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the process group of the gunicorn we started
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def run_wrk(port: int, script: Path, codes: Path, mode: str, connections: int, duration: int, threads: int,
            pids: list[int] | None = None) -> dict:
    before = cpu_seconds(pids) if pids else 0.0
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(script),
           f"http://127.0.0.1:{port}", "--", str(codes), mode]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    result["cpu_s"] = cpu_seconds(pids) - before if pids else 0.0
    return result


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_pids(master: int, dbname: str | None) -> list[int]:
    """gunicorn's workers (children of the master we started) and, for PostgreSQL, the bench database's backends."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master:
                pids.append(int(entry))
            elif dbname:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if cmdline.startswith("postgres: ") and f" {dbname} " in cmdline:
                    pids.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (threads included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / CLOCK_TICKS


def combine(runs: list[dict]) -> dict:
    """Several wrk runs as one: throughput over the total time, median p50, worst p99 and max, all errors."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    p50s = sorted(r["p50_us"] for r in runs)
    return {"requests": requests, "rps": requests / seconds, "p50_us": p50s[len(p50s) // 2],
            "p99_us": max(r["p99_us"] for r in runs), "max_us": max(r["max_us"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "cpu_ms": 1000 * sum(r["cpu_s"] for r in runs) / max(requests, 1)}


def check_page(port: int, codes: Path) -> None:
    """One real page before measuring: it must be the trace page, not an error."""
    code = codes.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/t/{code}", timeout=5) as r:
        body = r.read()
        assert r.status == 200 and b"timeline" in body, r.status
        print(f"sample page /t/{code}: {len(body):,} bytes, Set-Cookie: {r.headers.get('Set-Cookie')}")


def reset_scan_tables(url: str) -> None:
    """Empty, re-created scan tables before each run, so runs start alike and use the current schema."""
    import gi_trace.models  # noqa: F401  (registers every table)
    from gi_trace.db import make_engine
    from gi_trace.scan.models import CounterfeitFlag, ScanCounter, ScanNetwork

    engine = make_engine(url)
    tables = [CounterfeitFlag.__table__, ScanNetwork.__table__, ScanCounter.__table__]
    with engine.begin() as conn:
        for table in tables:
            table.drop(conn, checkfirst=True)
        for table in reversed(tables):
            table.create(conn)
    engine.dispose()


def scan_rows(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    from gi_trace.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        counters = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(scans), 0) FROM scancounter")).one()
    engine.dispose()
    return counters[0], counters[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL of a throwaway database (it is dropped and rebuilt); "
                                               "default: SQLite file under " + str(WORK))
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="reuse the database built by an earlier run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternate bare and scan runs this many times (other load on the machine then "
                             "weighs on both alike)")
    parser.add_argument("--set", action="append", default=[], metavar="SCAN_KEY=VALUE",
                        help="app config override for the served app, e.g. SCAN_FLUSH_SECONDS=1")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    WORK.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        from gi_trace.config import normalise_database_url

        url = normalise_database_url(args.database_url)
        tag = "pg-" + hashlib.sha1(url.encode()).hexdigest()[:8]
    else:
        db_path = WORK / f"bench_{args.batches}.sqlite3"
        url = f"sqlite:///{db_path}"
        tag = f"sqlite-{args.batches}"
    meta_path = WORK / f"{tag}.json"
    codes_path = WORK / f"{tag}.codes"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if args.reuse and meta.get("version") == VERSION and meta.get("batches") == args.batches and codes_path.exists():
        print(f"reusing {url.split('@')[-1]} ({args.batches:,} batches)")
    else:
        started = time.perf_counter()
        if args.database_url:
            build_postgres(url, args.batches)
        else:
            build_sqlite(db_path, args.batches)
        built = time.perf_counter() - started
        sample_codes(url, codes_path)
        meta = {"version": VERSION, "batches": args.batches, "events": args.batches * EVENTS_PER_BATCH,
                "build_seconds": round(built, 1)}
        meta_path.write_text(json.dumps(meta))
        print(f"built {args.batches:,} batches and {args.batches * EVENTS_PER_BATCH:,} events in {built:.0f} s "
              f"({args.batches * (1 + EVENTS_PER_BATCH) / built:,.0f} rows/s)")
    started = time.perf_counter()
    written = build_pages(url)
    if written:
        print(f"stored {written:,} trace pages in {time.perf_counter() - started:.0f} s")
    if args.build_only:
        return 0

    reset_scan_tables(url)
    warm_cache(url)
    script = Path(tempfile.mkdtemp(prefix="gi_bench_")) / "scan.lua"
    script.write_text(LUA)
    port = free_port()
    overrides = {}
    for item in args.set:
        key, _sep, value = item.partition("=")
        overrides[key] = float(value) if value.replace(".", "", 1).isdigit() else value
    proc = start_server(url, port, args.workers, args.worker_class, args.threads, overrides)
    try:
        check_page(port, codes_path)
        before = scan_rows(url)
        # Warm both paths (imports, template compilation, page cache) before measuring.
        run_wrk(port, script, codes_path, "bare", args.connections, 3, args.wrk_threads)
        run_wrk(port, script, codes_path, "scan", args.connections, 3, args.wrk_threads)
        slice_s = max(2, args.duration // args.rounds)
        dbname = url.rsplit("/", 1)[1].split("?")[0] if args.database_url else None
        pids = server_pids(proc.pid, dbname)
        bare_runs, scan_runs = [], []
        for _round in range(args.rounds):
            bare_runs.append(run_wrk(port, script, codes_path, "bare", args.connections, slice_s, args.wrk_threads,
                                     pids))
            scan_runs.append(run_wrk(port, script, codes_path, "scan", args.connections, slice_s, args.wrk_threads,
                                     pids))
        bare, scan = combine(bare_runs), combine(scan_runs)
        after = scan_rows(url)
    finally:
        stop_server(proc)
        shutil.rmtree(script.parent, ignore_errors=True)

    backend = "PostgreSQL" if args.database_url else "SQLite"
    server = f"gunicorn {args.workers}×{args.worker_class}" + (f"×{args.threads}" if args.worker_class == "gthread" else "")
    print(f"\n{backend}, {meta['batches']:,} batches / {meta['events']:,} events, {server}, "
          f"wrk -t{args.wrk_threads} -c{args.connections}, {args.rounds} alternating rounds of {slice_s}s each"
          + (f", {overrides}" if overrides else ""))
    print(f"{'endpoint':<14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}{'server CPU ms/req':>19}"
          "   (p50: median of the rounds; p99, max: worst round)")
    for name, r in (("/healthz", bare), ("/t/<code>", scan)):
        print(f"{name:<14}{r['rps']:>10,.0f}{r['p50_us'] / 1000:>9.2f}{r['p99_us'] / 1000:>9.2f}"
              f"{r['max_us'] / 1000:>9.1f}{r['errors']:>8}{r['cpu_ms']:>19.3f}")
    ratio = scan["rps"] / bare["rps"]
    print(f"ratio scan/bare: {ratio:.1%}   (target >= 35%, scan p99 < 25 ms, 0 errors)")
    if scan["cpu_ms"]:
        print(f"server CPU per request, bare/scan: {bare['cpu_ms'] / scan['cpu_ms']:.1%} (gunicorn workers"
              + (" + PostgreSQL backends" if args.database_url else "")
              + "; what the ratio tends to when the server, not wrk or other load, is the bottleneck)")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"scans logged during the run: {after[1] - before[1]:,} (codes with a counter: {after[0]:,})")
    with SERVER_LOG.open("rb") as log:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: log.read(1 << 20), b""))
    print(f"server log: {lines:,} lines in {SERVER_LOG}")
    ok = ratio >= 0.35 and scan["p99_us"] < 25_000 and scan["errors"] == 0 and bare["errors"] == 0
    print("target met" if ok else "target NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())

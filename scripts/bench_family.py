"""A harvest batch with thousands of descendants, for the benchmarks that need one (bench_write, bench_recall).

The database is throwaway: `fresh_database` drops every table. `build` loads the demo data (`flask
demo-data`: producers, accounts, and the demo season recorded through the real services), which gives
the harvest batch, then adds `descendants` batches made from it with bulk inserts: lots of the harvest,
each split into sub-lots (`fanout` batches per lot), one storage event each with a valid hash chain.
Options add what a recall needs: one sub-lot in a hundred shipped to another owner (a shipment and a
`transfer` link to the receiver's batch), and one lot in ten with 10 unit codes.
"""
from __future__ import annotations

import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace


def say(text: str, end: str = "\n") -> None:
    print(text, file=sys.stderr, flush=True, end=end)


def fresh_database(url: str) -> None:
    """An empty database at `url`: a SQLite file deleted, a PostgreSQL schema dropped and made again (the
    database created first when the server has none of that name)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first() is None:
            say(f"creating database {name}")
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build(app, descendants: int, fanout: int, *, shipments: bool = False, units: bool = False) -> SimpleNamespace:
    """Demo data, then `descendants` batches made from the demo harvest batch (bulk inserts).

    Returns ids: harvest, harvest_code, leaf (a demo batch with no descendants), producer, other (another
    producer), owner (a user of the harvest's producer), product, town, descendants (how many were made),
    codes (theirs)."""
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
        leaf = session.exec(select(Batch).where(Batch.code == demo["batch whose test failed"])).one()
        other = session.exec(select(Producer).where(Producer.id != harvest.producer_id).order_by(Producer.id)).first()
        owner = session.exec(select(User).where(User.producer_id == harvest.producer_id,
                                                User.role == "producer")).first()
        if owner is None:
            owner = User(username="bench-owner", password_hash="-", role="producer", producer_id=harvest.producer_id)
            session.add(owner)
            session.flush()
        ids = SimpleNamespace(harvest=harvest.id, harvest_code=harvest.code, leaf=leaf.id,
                              producer=harvest.producer_id, other=other.id, owner=owner.id,
                              product=harvest.product_id, town=harvest.origin_town_code)
        next_batch = session.exec(select(func.max(Batch.id))).one() + 1
        next_link = (session.exec(select(func.max(BatchLink.id))).one() or 0) + 1
        next_event = session.exec(select(func.max(Event.id))).one() + 1
    say(f"  demo data in {time.perf_counter() - started:.1f} s; adding {descendants:,} batches made from "
        f"harvest batch {ids.harvest_code}")
    now = datetime(2025, 7, 25, 2, 0, tzinfo=timezone.utc)
    lots = max(1, descendants // fanout)
    rows: dict[str, list] = {"batch": [], "link": [], "event": [], "shipment": [], "unit": []}
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
        rows["event"].append({"id": next_event, "batch_id": bid, **vars(event)})
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
        if units and n_lot % 10 == 0:  # a lot with 10 packages, each its own code (一物一码)
            rows["batch"][-1]["units_issued"] = 10
            rows["unit"].extend({"code": codes.new_code(), "batch_id": lot, "serial": s, "package_kg": 0.1,
                                 "issued_at": now} for s in range(1, 11))
        for n_sub in range(fanout - 1):
            if made >= descendants:
                break
            sub = add(lot, "lot", ids.producer)
            made += 1
            if shipments and n_sub == 0 and made < descendants:  # one sub-lot in a hundred: to another owner
                received = add(sub, "received", ids.other, "transfer")
                made += 1
                rows["shipment"].append({
                    "batch_id": sub, "from_party_id": ids.producer, "to_party_id": ids.other, "quantity_kg": 1.0,
                    "shipped_at": now + timedelta(days=1), "utc_offset_min": 480, "document_no": f"WB-{sub}",
                    "status": "received", "op_id": uuid.uuid4().hex, "received_at": now + timedelta(days=2),
                    "received_kg": 1.0, "loss_kg": 0.0, "received_batch_id": received, "created_at": now})
        if len(rows["batch"]) >= 5000 or made >= descendants:
            flush()
            say(f"\r  {made:,}/{descendants:,} batches", end="")
        if made >= descendants:
            break
    if rows["batch"]:
        flush()
    say("")
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
    """Every stored page built (the demo's outbox rows done, then the missing pages); how many are in use."""
    from sqlalchemy import text

    from gi_trace.db import get_engine
    from gi_trace.jobs import drain
    from gi_trace.scan import stored_pages

    with app.app_context():
        drain(app)  # the demo's own outbox rows (their refresh covers the harvest's whole family)
        stored_pages.rebuild(get_engine(app), stale_only=True)
        with get_engine(app).connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM storedpagelive")).scalar_one()

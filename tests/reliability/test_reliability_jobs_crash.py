"""The jobs worker killed (SIGKILL) in the middle of rebuilding stored pages: restarted, it finishes them.

A real `flask --app gi_trace jobs worker` process on the test database (SQLite file or PostgreSQL).
A correction on a harvest batch with 3,000 batches made from it invalidates their 3,001 stored pages
and leaves one outbox row (which the worker turns into parts of 500 pages: scan.page_jobs); the worker
is killed once it has stored some of them and not all, then started again: once its claims have run
out, it takes the rows again, and every page ends up current (showing the correction), with the outbox
empty.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from types import SimpleNamespace

from sqlalchemy import insert, text
from sqlmodel import func, select

from gi_trace import jobs
from gi_trace.db import get_engine
from gi_trace.scan import stored_pages
from gi_trace.tracing import codes
from gi_trace.tracing.chain import compute_hash
from gi_trace.tracing.models import Batch, BatchLink, Event
from tests.factories_tracing import PLANTED, Grower
from tests.reliability.processes import JobsWorker, process_env

DESCENDANTS = 3000


def _descendants(session, parent: Batch, n: int, fanout: int = 50) -> None:
    """`n` batches made from `parent` (lots of it, and sub-lots of those), each with one event, in bulk."""
    now = datetime(2025, 7, 25, 2, 0, tzinfo=timezone.utc)
    next_batch = session.exec(select(func.max(Batch.id))).one() + 1
    next_link = (session.exec(select(func.max(BatchLink.id))).one() or 0) + 1
    next_event = session.exec(select(func.max(Event.id))).one() + 1
    batches, links, events = [], [], []
    lot = None
    for i in range(n):
        bid, code = next_batch + i, codes.new_code()
        source = parent.id if i % fanout == 0 else lot
        if i % fanout == 0:
            lot = bid
        event = SimpleNamespace(seq=1, stage="storage", occurred_at=now, utc_offset_min=480, location_town_code=None,
                                location_name="冷库", quantity_kg=None, data={"place": f"冷库 {i}"}, op_id=None,
                                recorded_by=None, recorded_at=now, corrects_event_id=None, correction_reason="",
                                prev_hash="")
        event.hash = compute_hash(code, event)
        batches.append({"id": bid, "code": code, "producer_id": parent.producer_id, "product_id": parent.product_id,
                        "kind": "lot", "unit": "kg", "quantity_kg": 1.0, "out_kg": 0.0, "cultivar": "宁杞7号",
                        "product_form": "dried", "trademark_name": "", "stage": "storage", "test_state": "passed",
                        "open_flags": 0, "event_count": 1, "head_hash": event.hash, "first_event_at": now,
                        "units_issued": 0, "withdrawn_reason": "", "created_at": now,
                        "origin_town_code": parent.origin_town_code, "harvest_year": 2025})
        links.append({"id": next_link + i, "parent_id": source, "child_id": bid, "quantity_kg": 1.0, "kind": "split",
                      "created_at": now})
        events.append({"id": next_event + i, "batch_id": bid, **vars(event)})
    conn = session.connection()
    conn.execute(insert(Batch.__table__), batches)
    conn.execute(insert(BatchLink.__table__), links)
    conn.execute(insert(Event.__table__), events)
    if conn.dialect.name == "postgresql":
        for table in ("batch", "batchlink", "event"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def _state(engine, harvest_id: int, reason: str) -> tuple[int, int, int]:
    """(batches in the family, pages showing `reason` and current, outbox rows)."""
    with engine.connect() as conn:
        ids = ", ".join(map(str, stored_pages.family(conn, [harvest_id])))
        current = conn.execute(text(
            f"SELECT COUNT(*) FROM storedpage s JOIN storedpagelive l ON l.batch_id = s.batch_id "
            f"JOIN batch b ON b.id = s.batch_id AND b.head_hash = s.head_hash "
            f"WHERE s.batch_id IN ({ids}) AND s.body_zh LIKE :reason"), {"reason": f"%{reason}%"}).scalar_one()
        outbox = conn.exec_driver_sql("SELECT COUNT(*) FROM outbox").scalar_one()
    return len(ids.split(", ")), int(current), int(outbox)


def test_worker_killed_mid_job_finishes_the_pages_after_a_restart(app, session, database_url, tmp_path):
    grower = Grower.make(session)
    harvest = grower.tested(session)
    session.flush()
    _descendants(session, harvest, DESCENDANTS)
    session.commit()
    jobs.drain()  # every page stored, from the record before the correction
    planting = session.exec(select(Event).where(Event.batch_id == harvest.id, Event.stage == "planting")).one()
    grower.event(session, harvest, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞10号"},
                 corrects_event_id=planting.id, correction_reason="品种录错-崩溃测试")
    session.commit()  # the unit of work: 3,001 pages invalidated, one outbox row
    engine = get_engine(app)
    members, current, outbox = _state(engine, harvest.id, "崩溃测试")
    assert (members, current, outbox) == (DESCENDANTS + 1, 0, 1)

    env = process_env(database_url, tmp_path / "instance", JOBS_URL=f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
                      JOBS_LEASE_SECONDS="4", JOBS_SWEEP_SECONDS="1")
    worker = JobsWorker(env, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _members, current, _outbox = _state(engine, harvest.id, "崩溃测试")
            if current > 0:
                break
            time.sleep(0.05)
        worker.kill()
    finally:
        worker.kill()
    _members, at_kill, outbox = _state(engine, harvest.id, "崩溃测试")
    assert 0 < at_kill < members, f"the worker should be killed mid-job ({at_kill} of {members} pages stored)"
    assert outbox >= 1  # the rows (the family's parts: scan.page_jobs) stay until their work has committed

    worker = JobsWorker(env, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _members, current, outbox = _state(engine, harvest.id, "崩溃测试")
            if current == members and outbox == 0:
                break
            time.sleep(0.25)
    finally:
        worker.stop()
    assert (current, outbox) == (members, 0), (tmp_path / "worker.log").read_text()[-3000:]

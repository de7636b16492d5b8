"""SIGKILL in the middle of writing: nothing half-written survives, the chains verify, work can be redone.

Real processes on the test database (SQLite file or PostgreSQL): `flask --app gi_trace import` killed
while it writes a large file, and gunicorn (master and workers) killed while clients post events.
"""
from __future__ import annotations

import csv
import random
import subprocess
import threading
import time

from sqlmodel import func, select

from gi_trace.accounts.services import create_token
from gi_trace.db import get_engine
from gi_trace.registry.models import Producer, ProducerProduct
from gi_trace.registry.uscc import ALPHABET, check_character
from gi_trace.tracing import chain
from gi_trace.tracing.models import Batch, Event
from tests.factories_tracing import Grower
from tests.reliability.processes import BIN, ROOT, Gunicorn, flask, post_json, process_env, writer_active

IMPORT_ROWS = 60_000


def _producers_csv(path, n: int) -> None:
    rnd = random.Random(6)
    towns = ["640521" + s for s in ("100", "101", "102", "103", "104", "105", "200", "201", "202", "204", "205")]
    seen = set()
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["uscc", "registry_no", "name", "kind", "county_code", "town_code", "products"])
        for i in range(n):
            while True:
                body = "93640521" + "".join(rnd.choice(ALPHABET) for _ in range(9))
                if body not in seen:
                    seen.add(body)
                    break
            out.writerow([body + check_character(body), "", f"枸杞合作社{i}", "cooperative", "640521",
                          rnd.choice(towns), "zhongning-goji"])


def _count(session, model) -> int:
    session.expire_all()
    session.rollback()  # a fresh snapshot
    return session.exec(select(func.count()).select_from(model)).one()


def test_import_killed_mid_write_leaves_nothing_and_can_be_rerun(app, session, database_url, tmp_path):
    path = tmp_path / "producers.csv"
    _producers_csv(path, IMPORT_ROWS)
    env = process_env(database_url, tmp_path / "instance")
    before = _count(session, Producer)
    engine = get_engine(app)
    proc = subprocess.Popen([str(BIN / "flask"), "--app", "gi_trace", "import", "producers", str(path)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not writer_active(database_url, engine):  # wait for the write phase
            assert proc.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.01)
        time.sleep(0.2)  # well inside the write phase
    finally:
        proc.kill()  # SIGKILL
        proc.wait(timeout=10)
    assert proc.returncode == -9
    assert _count(session, Producer) == before  # none of the file's rows, not some of them
    assert _count(session, ProducerProduct) == 0

    verified = flask(env, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    rerun = flask(env, "import", "producers", str(path), timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _count(session, Producer) == before + IMPORT_ROWS
    assert _count(session, ProducerProduct) == IMPORT_ROWS


CLIENTS = 4
KILL_AFTER = 40


def test_server_killed_mid_stream_of_event_writes_keeps_every_acknowledged_event(app, session, database_url,
                                                                                 tmp_path):
    grower = Grower.make(session)
    batch = grower.tested(session)
    _token, raw = create_token(session, grower.user, "crash test")
    session.commit()
    batch_id, code, start = batch.id, batch.code, batch.event_count
    env = process_env(database_url, tmp_path / "instance")
    server = Gunicorn(env, workers=2)
    acknowledged: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set() and i < 500:
            i += 1
            try:
                status, body = post_json(f"{server.url}/api/v1/batches/{code}/events", {
                    "stage": "storage", "occurred_at": "2025-08-05T10:00:00+08:00",
                    "data": {"place": f"仓库{n}-{i}"}}, raw, timeout=5)
            except OSError:  # the server is gone: connection refused / reset
                return
            if status == 201:
                acknowledged.append(body["event"]["seq"])
            elif status != 409:  # a lost race is retried; anything else is a failure
                failures.append(f"{status} {body}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # mid-stream: requests are in flight in the workers
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        server.stop()
    assert failures == []
    assert len(acknowledged) >= KILL_AFTER

    def check() -> int:
        session.expire_all()
        session.rollback()
        stored = session.get(Batch, batch_id)
        events = session.exec(select(Event).where(Event.batch_id == batch_id).order_by(Event.seq)).all()
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert stored.event_count == len(events)
        assert chain.verify_batch(session, stored).ok
        assert set(acknowledged) <= {e.seq for e in events}  # every 201 was durable
        return len(events)

    stored = check()
    assert stored >= start + len(acknowledged)
    verified = flask(env, "verify")
    assert verified.returncode == 0 and "OK: 1 batches verified" in verified.stdout, verified.stdout + verified.stderr

    # After a restart the chain simply continues.
    server = Gunicorn(env, workers=2)
    try:
        for i in range(3):
            status, body = post_json(f"{server.url}/api/v1/batches/{code}/events", {
                "stage": "storage", "occurred_at": "2025-08-05T10:00:00+08:00", "data": {"place": f"重启{i}"}}, raw)
            assert status == 201, body
            acknowledged.append(body["event"]["seq"])
    finally:
        server.stop()
    assert check() == stored + 3
    verified = flask(env, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

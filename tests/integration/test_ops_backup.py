"""Backups are consistent copies that restore to the same records."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

from gi_trace import create_app
from gi_trace.accounts.models import User
from gi_trace.db import get_engine
from gi_trace.errors import Conflict
from gi_trace.ops.backup import BackupError, backup, restore
from gi_trace.registry.models import Producer
from gi_trace.tracing import services as tracing
from gi_trace.tracing.models import Batch
from tests import factories
from tests.factories_tracing import STORED, Grower




def _counts(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in ("producer", "authorisationdecision", "region")}
    finally:
        engine.dispose()


def test_backup_then_restore_gives_the_same_records(session, database_url, empty_database_url, tmp_path, runner):
    for _ in range(3):
        factories.authorised_producer()
    session.commit()
    result = runner.invoke(args=["backup", str(tmp_path / "backups") + "/"])
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "backups").iterdir())
    assert len(files) == 1 and not files[0].name.endswith(".partial")
    # later writes are not in the backup
    factories.ProducerFactory()
    session.commit()
    restore(empty_database_url, files[0])
    restored = _counts(empty_database_url)
    assert restored["producer"] == 3 and restored["authorisationdecision"] == 3 and restored["region"] == 44


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path, empty_database_url):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError):
        restore(empty_database_url, junk)


def test_backup_of_unknown_backend_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError):
        backup("mysql://x/y", tmp_path / "b")


def _verify(url: str, app_config: dict) -> tuple[int, str]:
    """`flask --app gi_trace verify` against the database at `url`."""
    restored = create_app({**app_config, "DATABASE_URL": url})
    try:
        result = restored.test_cli_runner().invoke(args=["verify", "--all-broken"])
        return result.exit_code, result.output
    finally:
        get_engine(restored).dispose()


def _chains(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT b.code, count(e.id) FROM batch b JOIN event e ON e.batch_id = b.id "
                                          "GROUP BY b.code")).all())
    finally:
        engine.dispose()


def test_restored_backup_of_traced_batches_verifies(session, database_url, empty_database_url, tmp_path, runner,
                                                      app_config):
    grower = Grower.make(session)
    batches = [grower.tested(session) for _ in range(3)] + [grower.harvested(session)]
    session.commit()
    result = runner.invoke(args=["backup", str(tmp_path / "gi.backup")])
    assert result.exit_code == 0, result.output
    restore(empty_database_url, tmp_path / "gi.backup")
    code, output = _verify(empty_database_url, app_config)
    assert code == 0 and "OK: 4 batches verified" in output, output
    assert _chains(empty_database_url) == {b.code: b.event_count for b in batches} == _chains(database_url)


WRITER_CAP = 1000


def test_backup_taken_while_events_are_written_restores_a_verifying_copy(app, session, database_url, empty_database_url,
                                                                         tmp_path, runner, app_config):
    grower = Grower.make(session)
    batch_ids = [grower.tested(session).id for _ in range(2)]
    # Bulk so the copy spans many pages (SQLite's backup copies 1024 pages a step).
    session.execute(insert(Producer), [{"registry_no": f"BK-{i:07d}", "name": f"备份测试户{i}" * 4,
                                        "kind": "household", "county_code": "640521", "town_code": "640521100",
                                        "address": "宁安镇" * 40} for i in range(30_000)])
    session.commit()
    user_id = grower.user.id
    stop = threading.Event()
    written, errors = [], []

    def writer() -> None:
        try:
            with app.test_request_context():
                while not stop.is_set() and len(written) < WRITER_CAP:
                    with Session(get_engine(app), expire_on_commit=False) as s:
                        batch = s.get(Batch, batch_ids[len(written) % 2])
                        try:
                            tracing.record_event(s, s.get(User, user_id), batch, tracing.EventInput(
                                stage="storage", occurred_at=STORED, data={"place": f"仓库{len(written)}"}))
                            s.commit()
                            written.append(1)
                        except Conflict:
                            s.rollback()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5 and thread.is_alive():
            threading.Event().wait(0.01)
        result = runner.invoke(args=["backup", str(tmp_path / "live.backup")])
        during = len(written)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert result.exit_code == 0, result.output
    # The writer was running before and while the copy was made, and the copy did not have to wait for it to
    # stop (SQLite's stepwise backup restarted on every commit and finished only when the writes paused).
    assert 5 <= during < WRITER_CAP
    restore(empty_database_url, tmp_path / "live.backup")
    code, output = _verify(empty_database_url, app_config)
    assert code == 0 and "OK: 2 batches verified" in output, output
    restored = _chains(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT code, event_count FROM batch")).all())
    finally:
        engine.dispose()
    assert restored == counts  # every batch's counter matches the events copied with it

"""Backups are consistent copies that restore to the same records."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gi_trace.ops.backup import BackupError, backup, restore
from tests import factories
from tests.conftest import IS_POSTGRES


@pytest.fixture
def scratch_url(tmp_path, database_url):
    """An empty database of the same backend to restore into."""
    if not IS_POSTGRES:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"gi_trace_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _counts(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in ("producer", "authorisationdecision", "region")}
    finally:
        engine.dispose()


def test_backup_then_restore_gives_the_same_records(session, database_url, scratch_url, tmp_path, runner):
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
    restore(scratch_url, files[0])
    restored = _counts(scratch_url)
    assert restored["producer"] == 3 and restored["authorisationdecision"] == 3 and restored["region"] == 44


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path, scratch_url):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError):
        restore(scratch_url, junk)


def test_backup_of_unknown_backend_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError):
        backup("mysql://x/y", tmp_path / "b")

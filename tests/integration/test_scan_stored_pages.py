"""Stored trace pages (gi_trace.scan.stored_pages): invalidated by the write, built by the job, printed by a
scan, never stale."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlmodel import select

from gi_trace import db, jobs
from gi_trace.jobs.models import OutboxEntry
from gi_trace.scan.models import StoredPage, StoredPageLive
from gi_trace.tracing import chain
from gi_trace.tracing.models import Event
from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.factories_tracing import PLANTED


def _page(client, code: str, lang: str = "zh") -> str:
    response = client.get(f"/t/{code}", query_string={"lang": lang})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _without_scan_count(html: str) -> str:
    """The page minus what changes from one scan to the next (the count and the repeat-scan caution)."""
    html = re.sub(r'<p class="scans">.*?</p>', "", html)
    return re.sub(r'<p class="caution" role="alert">.*?</p>', "", html)


def _settle(session) -> int:
    """Commit (the unit of work invalidates pages and writes the outbox), then do the jobs' work as the
    worker would (the same function its task runs)."""
    session.commit()
    return jobs.drain()


def _stored(session, batch_id: int) -> StoredPage | None:
    """The batch's stored page if one is in use (a write takes it out of use; the job replaces it)."""
    session.expire_all()
    if session.get(StoredPageLive, batch_id) is None:
        return None
    return session.get(StoredPage, batch_id)


def test_writing_events_stores_the_pages_of_the_batch_and_of_the_batches_made_from_it(client, session):
    grower, harvest, lot = lot_from_tested_harvest(session)
    session.commit()
    assert _stored(session, lot.id) is None  # not built in the write: the outbox says what to build
    assert session.exec(select(OutboxEntry.kind)).all() == ["stored_pages"]
    assert jobs.drain() == 1
    assert session.exec(select(OutboxEntry)).all() == []
    for batch in (harvest, lot):
        stored = _stored(session, batch.id)
        assert stored is not None and stored.head_hash == batch.head_hash and stored.verifies
        assert "采摘" in stored.body_zh and "Harvest" in stored.body_en
    lot_head = lot.head_hash
    # A correction on the harvest batch behind the lot: the lot's own record is unchanged, its page is not.
    planting = session.exec(select(Event).where(Event.batch_id == harvest.id, Event.stage == "planting")).one()
    grower.event(session, harvest, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞10号"},
                 corrects_event_id=planting.id, correction_reason="品种录错")
    session.commit()
    # Committed, job not run yet: the lot's page is gone with the harvest's, so a scan builds it live.
    assert _stored(session, lot.id) is None and _stored(session, harvest.id) is None
    assert "品种录错" in _page(client, lot.code)
    jobs.drain()
    stored = _stored(session, lot.id)
    assert stored.head_hash == lot_head == lot.head_hash
    assert "品种录错" in stored.body_zh and "宁杞10号" in stored.body_zh
    assert "品种录错" in _page(client, lot.code)


def test_a_scan_prints_the_stored_page_and_the_check_replaces_a_changed_one(client, session, runner):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    _settle(session)
    # Edited in the database outside the app: the scan prints what is stored, without rebuilding it ...
    session.execute(text("UPDATE storedpage SET body_zh = REPLACE(body_zh, '采摘', '摘采') WHERE batch_id = :b"),
                    {"b": lot.id})
    session.commit()
    assert "摘采" in _page(client, lot.code)
    # ... and `pages rebuild --check` finds the page that differs from its record and replaces it.
    result = runner.invoke(args=["pages", "rebuild", "--check"])
    assert result.exit_code == 0, result.output
    assert "1 differed from their record" in result.output
    html = _page(client, lot.code)
    assert "摘采" not in html and "采摘" in html


@pytest.mark.parametrize("lang, words", [("zh", ("从田间到货架", "采摘地")), ("en", ("From plot to shelf", "Harvested in"))])
def test_stored_and_live_pages_print_the_same(client, session, lang, words):
    # (One language per test: the test client's requests share the fixture's app context, locale included.)
    _grower, harvest, lot = lot_from_tested_harvest(session, trademark_name="红宝牌")
    unit = unit_code(session, lot)
    _settle(session)
    codes = (harvest.code, lot.code, unit.code)
    stored = {code: _without_scan_count(_page(client, code, lang)) for code in codes}
    session.execute(text("DELETE FROM storedpage"))
    session.commit()
    for code, html in stored.items():
        assert _without_scan_count(_page(client, code, lang)) == html, code
    assert all(w in stored[lot.code] for w in words)


def test_a_stale_page_is_built_live_and_rebuilt_by_the_command(client, session, runner):
    _grower, harvest, lot = lot_from_tested_harvest(session)
    _settle(session)
    town = harvest.origin_town_code
    # A town renamed by a regulator: every stored page that names it is built with the old name.
    session.execute(text("UPDATE region SET name_zh = '新宁安镇' WHERE code = :c"), {"c": town})
    session.commit()
    html = _page(client, lot.code)
    assert "采摘地 新宁安镇" in html  # built live, with the new name
    old_basis = _stored(session, lot.id).basis
    result = runner.invoke(args=["pages", "rebuild", "--stale"])
    assert result.exit_code == 0, result.output
    assert "2 pages written" in result.output
    stored = _stored(session, lot.id)
    assert stored.basis != old_basis and "新宁安镇" in stored.body_zh
    result = runner.invoke(args=["pages", "rebuild", "--stale"])
    assert "0 pages written" in result.output


def test_a_rolled_back_write_leaves_nothing_to_rebuild(session):
    grower, harvest, _lot = lot_from_tested_harvest(session)
    session.commit()
    grower.event(session, harvest, "storage", "2025-08-20T10:00:00+08:00", {"place": "冷库"})
    assert harvest.id in db.notes(session)[chain.TOUCHED]
    session.rollback()
    assert chain.TOUCHED not in db.notes(session)


def test_a_page_built_from_the_record_before_a_write_is_never_stored_after_it(client, session, app):
    """The job read the lot's record, then a correction on the harvest behind it committed: the page the
    job built is refused (the harvest's head moved), the scan builds the page live, the next job stores it."""
    from gi_trace.db import get_engine
    from gi_trace.scan import read_path, stored_pages

    grower, harvest, lot = lot_from_tested_harvest(session)
    _settle(session)
    engine = get_engine(app)
    with engine.connect() as conn:
        built = stored_pages._build(conn, [harvest.id, lot.id], read_path.ReferenceCache())
    planting = session.exec(select(Event).where(Event.batch_id == harvest.id, Event.stage == "planting")).one()
    grower.event(session, harvest, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞10号"},
                 corrects_event_id=planting.id, correction_reason="品种录错")
    session.commit()
    assert stored_pages.store_current(engine, built) == 0
    assert _stored(session, lot.id) is None
    assert "品种录错" in _page(client, lot.code)
    jobs.drain()
    assert "品种录错" in _stored(session, lot.id).body_zh


def test_the_job_stores_pages_whose_sources_did_not_change(session, app):
    from gi_trace.db import get_engine
    from gi_trace.scan import read_path, stored_pages

    _grower, harvest, lot = lot_from_tested_harvest(session)
    session.commit()
    engine = get_engine(app)
    with engine.connect() as conn:
        built = stored_pages._build(conn, [harvest.id, lot.id], read_path.ReferenceCache())
    assert stored_pages.store_current(engine, built) == 2
    assert _stored(session, lot.id).head_hash == lot.head_hash


def test_a_failing_refresh_keeps_its_outbox_row_with_the_error_and_is_retried(session, app, monkeypatch):
    from gi_trace.scan import stored_pages

    _grower, _harvest, lot = lot_from_tested_harvest(session)
    session.commit()

    def broken(*_args, **_kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(stored_pages, "store_current", broken)
    assert jobs.drain() == 0
    row = session.exec(select(OutboxEntry)).one()
    assert row.attempts == 1 and "the disk is full" in row.last_error and row.claimed_until is not None
    assert jobs.counts(session).failing == 1
    monkeypatch.undo()
    session.execute(text("UPDATE outbox SET claimed_until = NULL"))  # its retry time has come
    session.commit()
    assert jobs.drain() == 1
    assert _stored(session, lot.id) is not None and jobs.counts(session).pending == 0


def test_postgresql_compresses_the_page_bodies_with_lz4(session):
    """Every write to a family stores its pages again: lz4 costs the server half what pglz did (scan/models.py)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a PostgreSQL column setting")
    rows = session.execute(text("SELECT attname, attcompression FROM pg_attribute "
                                "WHERE attrelid = 'storedpage'::regclass AND attname IN ('body_zh', 'body_en')")).all()
    assert dict(rows) == {"body_zh": "l", "body_en": "l"}

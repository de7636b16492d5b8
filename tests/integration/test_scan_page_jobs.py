"""The jobs that make stored pages current again (gi_trace.scan.page_jobs): a big family in parts that several
workers claim one at a time, a later correction's pages never replaced by an earlier one's."""
from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import select

from gi_trace import jobs
from gi_trace.db import get_engine
from gi_trace.jobs.models import OutboxEntry
from gi_trace.scan import page_jobs, stored_pages
from gi_trace.scan.models import StoredPage, StoredPageLive
from gi_trace.tracing import services
from gi_trace.tracing.models import Event
from tests.factories_tracing import PLANTED, SHIPPED, STORED

LOTS = 12


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(page_jobs, "PART_SIZE", 4)
    monkeypatch.setattr(page_jobs, "QUIET_SECONDS", 0.05)


def _family(session, grower):
    """A harvest split into LOTS lots, each stored somewhere of its own, with every page stored."""
    harvest = grower.tested(session)
    lots = services.split(session, grower.user, harvest, [{"quantity_kg": 10.0} for _ in range(LOTS)],
                          occurred_at=STORED).children
    for n, lot in enumerate(lots):
        grower.event(session, lot, "storage", SHIPPED, {"place": f"冷库 {n}"})
    session.commit()
    jobs.drain()
    return harvest, lots


def _correct(session, grower, harvest, reason: str) -> None:
    planting = session.exec(select(Event).where(Event.batch_id == harvest.id, Event.stage == "planting")
                            .order_by(Event.seq.desc())).first()
    grower.event(session, harvest, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞10号"},
                 corrects_event_id=planting.id, correction_reason=reason)
    session.commit()


def _pages(session, ids) -> dict:
    """{batch id: body_zh} of the stored pages in use."""
    session.expire_all()
    live = {r for r in session.exec(select(StoredPageLive.batch_id).where(StoredPageLive.batch_id.in_(ids)))}
    return {p.batch_id: p.body_zh for p in session.exec(select(StoredPage).where(StoredPage.batch_id.in_(live)))}


def _kinds(session) -> list[str]:
    session.expire_all()
    return [row.kind for row in session.exec(select(OutboxEntry).order_by(OutboxEntry.id))]


def test_a_big_family_is_written_as_parts_and_each_is_claimed_alone(app, session, grower, small_parts):
    harvest, lots = _family(session, grower)
    ids = [harvest.id, *(lot.id for lot in lots)]
    _correct(session, grower, harvest, "品种录错-分块")
    assert _pages(session, ids) == {} and _kinds(session) == ["stored_pages"]
    row = session.exec(select(OutboxEntry)).one()
    page_jobs._refresh_job(app, [row.payload], lambda: [])  # what a worker does with the writer's row
    parts = [r.payload["batches"] for r in session.exec(
        select(OutboxEntry).where(OutboxEntry.kind == page_jobs.PART_KIND).order_by(OutboxEntry.id))]
    assert [len(p) for p in parts] == [4, 4, 4, 1] and sorted(i for p in parts for i in p) == sorted(ids)
    assert _pages(session, ids) == {}  # nothing built yet: the parts are for the workers
    page_jobs._refresh_job(app, [row.payload], lambda: [])  # another worker that waited too: nothing to add
    assert _kinds(session).count(page_jobs.PART_KIND) == len(parts)
    # Two workers claiming at once each get one part (the writer's row, older, goes first).
    engine = get_engine(app)
    claims = jobs._registry(app).claims
    first = jobs._claim(engine, 60, claims)
    assert first[0] == "stored_pages"
    second, third = jobs._claim(engine, 60, claims), jobs._claim(engine, 60, claims)
    assert second[0] == third[0] == page_jobs.PART_KIND and len(second[2]) == len(third[2]) == 1
    assert second[2][0].payload != third[2][0].payload
    session.execute(OutboxEntry.__table__.update().values(claim="", claimed_until=None))  # the workers died
    session.commit()
    jobs.drain()
    pages = _pages(session, ids)
    assert sorted(pages) == sorted(ids) and all("品种录错-分块" in body for body in pages.values())
    assert _kinds(session) == []


def test_two_workers_drain_the_parts_at_once_and_every_page_is_current(app, session, grower, small_parts):
    harvest, lots = _family(session, grower)
    ids = [harvest.id, *(lot.id for lot in lots)]
    _correct(session, grower, harvest, "品种录错-并行")
    done, errors = [], []

    def worker() -> None:
        try:
            with app.app_context():
                done.append(jobs.drain(app))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    jobs.drain()  # parts written after a worker looked for the last time
    pages = _pages(session, ids)
    assert sorted(pages) == sorted(ids) and all("品种录错-并行" in body for body in pages.values())
    assert _kinds(session) == [] and sum(done) >= 1 + LOTS // 4


def test_parts_of_an_earlier_correction_store_the_pages_of_the_later_one(app, session, grower, small_parts):
    harvest, lots = _family(session, grower)
    ids = [harvest.id, *(lot.id for lot in lots)]
    _correct(session, grower, harvest, "第一次更正")
    page_jobs._refresh_job(app, [{"batches": [harvest.id]}], lambda: [])  # the first correction's parts
    session.execute(OutboxEntry.__table__.delete().where(OutboxEntry.kind == stored_pages.JOB_KIND))
    session.commit()
    first_parts = len(_kinds(session))
    # One part runs before the second correction commits: its pages show the first correction only ...
    assert first_parts == 4
    part = jobs._claim(get_engine(app), 60, jobs._registry(app).claims)
    page_jobs._part_job(app, [row.payload for row in part[2]], lambda: [])
    session.execute(OutboxEntry.__table__.delete().where(OutboxEntry.claim == part[1]))
    session.commit()
    early = _pages(session, ids)
    assert len(early) == 4 and all("第一次更正" in body for body in early.values())
    # ... and the second correction takes them out of use; the first correction's other parts, which run
    # after it, build from the record as it is now.
    _correct(session, grower, harvest, "第二次更正")
    assert _pages(session, ids) == {}
    jobs.drain()
    pages = _pages(session, ids)
    assert sorted(pages) == sorted(ids)
    assert all("第一次更正" in body and "第二次更正" in body for body in pages.values())
    assert _kinds(session) == []


def test_writes_that_keep_coming_are_taken_in_before_a_big_family_is_split(app, session, grower, small_parts):
    harvest, lots = _family(session, grower)
    other, other_lots = _family(session, grower)
    _correct(session, grower, harvest, "第一批")
    _correct(session, grower, other, "第二批")  # written while the first one's rows wait to be split
    later = [[{"batches": [other.id]}], [], []]
    calls = []

    def heartbeat() -> list:
        calls.append(1)
        return later.pop(0) if later else []

    page_jobs._refresh_job(app, [{"batches": [harvest.id]}], heartbeat)
    assert len(calls) >= 2  # it waited, and went on waiting after a write came in
    parts = [r.payload["batches"] for r in session.exec(
        select(OutboxEntry).where(OutboxEntry.kind == page_jobs.PART_KIND).order_by(OutboxEntry.id))]
    both = sorted([harvest.id, other.id, *(lot.id for lot in lots + other_lots)])
    assert sorted(i for p in parts for i in p) == both  # one split for both families
    jobs.drain()
    pages = _pages(session, both)
    assert sorted(pages) == both and not _kinds(session)


def test_a_split_waits_for_the_writes_to_stop_but_not_for_ever(app, monkeypatch):
    monkeypatch.setattr(page_jobs, "QUIET_SECONDS", 0.1)
    monkeypatch.setattr(page_jobs, "MAX_WAIT_SECONDS", 0.6)
    more = iter(range(10_000_000, 20_000_000))  # a write handed over at every heartbeat, without end
    started = time.monotonic()
    ids = page_jobs._quiet(get_engine(app), {1}, lambda: [{"batches": [next(more)]}])
    assert 0.6 <= time.monotonic() - started < 5 and len(ids) > 2

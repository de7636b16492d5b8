"""Many writers at once on one batch and one authorisation.

tests/integration/test_tracing_concurrency.py shows a lost race is a retryable 409 with a few
writers on SQLite; here 20 writers on PostgreSQL append events AND issue unit codes under the same
batch, retrying 409s like a real client, and two regulators decide on one authorisation at the
same instant (released together by a barrier).
"""
from __future__ import annotations

import threading
import pytest
from sqlmodel import Session, func, select

from gi_trace.accounts.models import User
from gi_trace.authorisation import rules, services as auth
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.db import commit, get_engine
from gi_trace.errors import Conflict, Refused
from gi_trace.registry.models import Producer, Product
from gi_trace.timeutil import local_today
from gi_trace.tracing import chain, services, units
from gi_trace.tracing.models import Batch, Event, UnitCode
from tests import factories
from tests.conftest import IS_POSTGRES
from tests.factories_tracing import Grower

WRITERS = 20
ROUNDS = 5
UNITS_EACH = 2
PACKAGE_KG = 0.25
WHEN = "2025-08-05T10:00:00+08:00"
ATTEMPTS = 200


def _retrying(app, action, conflicts: list) -> object:
    """Run `action(session)` in its own session and commit, retrying a 409 like an API client."""
    for _attempt in range(ATTEMPTS):
        with Session(get_engine(app), expire_on_commit=False) as s:
            try:
                result = action(s)
                s.commit()
                return result
            except Conflict:
                s.rollback()
                conflicts.append(1)
    raise AssertionError(f"still conflicting after {ATTEMPTS} attempts")


@pytest.mark.skipif(not IS_POSTGRES, reason="row locks under real concurrency need PostgreSQL "
                                            "(SQLite serialises all writers; see test_tracing_concurrency)")
def test_twenty_writers_keep_every_event_and_unique_unit_codes(app, session, runner):
    grower = Grower.make(session)
    batch = grower.tested(session)
    session.commit()
    batch_id, user_id, start = batch.id, grower.user.id, batch.event_count
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    conflicts: list[int] = []
    issued: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            with app.test_request_context():
                barrier.wait(timeout=30)
                for i in range(ROUNDS):
                    def event(s, i=i):
                        return services.record_event(
                            s, s.get(User, user_id), s.get(Batch, batch_id),
                            services.EventInput(stage="storage", occurred_at=WHEN, data={"place": f"仓库{n}-{i}"}))

                    def label(s):
                        return units.issue_units(s, s.get(User, user_id), s.get(Batch, batch_id), UNITS_EACH,
                                                 PACKAGE_KG)

                    _retrying(app, event, conflicts)
                    got = _retrying(app, label, conflicts)
                    with lock:
                        issued.extend(u.code for u in got)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    print(f"\n{WRITERS} writers: {WRITERS * ROUNDS} events, {len(issued)} unit codes, {len(conflicts)} retried 409s")

    session.expire_all()
    batch = session.get(Batch, batch_id)
    events = session.exec(select(Event).where(Event.batch_id == batch_id).order_by(Event.seq)).all()
    total = start + WRITERS * ROUNDS
    assert [e.seq for e in events] == list(range(1, total + 1))
    assert all(e.prev_hash == (events[k - 1].hash if k else "") for k, e in enumerate(events))
    assert batch.event_count == total and batch.head_hash == events[-1].hash
    assert sorted(e.data["place"] for e in events if e.stage == "storage") == \
        sorted(f"仓库{n}-{i}" for n in range(WRITERS) for i in range(ROUNDS))
    assert chain.verify_batch(session, batch).ok
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0 and "OK: 1 batches verified" in result.output, result.output

    stored = session.exec(select(UnitCode).where(UnitCode.batch_id == batch_id)).all()
    expected = WRITERS * ROUNDS * UNITS_EACH
    assert len(issued) == len(set(issued)) == expected
    assert sorted(u.code for u in stored) == sorted(issued)
    assert sorted(u.serial for u in stored) == list(range(1, expected + 1))
    assert batch.units_issued == expected


def _replay(decisions) -> rules.Status:
    """Apply the history one decision at a time: each must be valid from the state before it."""
    state = rules.Status(rules.NONE)
    for d in sorted(decisions, key=rules.sort_key):
        state = rules.next_status(state, d)  # raises InvalidTransition on a decision taken from a stale state
    return state


RACES = 5


@pytest.mark.parametrize("first, second", [("suspend", "suspend"), ("suspend", "revoke")])
def test_two_regulators_deciding_at_once_never_both_act_on_the_same_state(app, session, first, second):
    today = local_today()
    regulators = [factories.UserFactory(username=f"city{k}", role="regulator").id for k in range(2)]
    producers = [factories.authorised_producer().id for _ in range(RACES)]
    product_id = factories.goji().id
    session.commit()
    outcomes: list[tuple[int, str, str]] = []
    errors: list[BaseException] = []

    def regulator(k: int, action: str, producer_id: int, barrier: threading.Barrier) -> None:
        try:
            with app.test_request_context():
                for _attempt in range(50):
                    with Session(get_engine(app), expire_on_commit=False) as s:
                        user, producer = s.get(User, regulators[k]), s.get(Producer, producer_id)
                        product = s.get(Product, product_id)
                        if barrier is not None:
                            barrier.wait(timeout=30)
                            barrier = None
                        try:
                            auth.decide(s, user, producer, product,
                                        auth.DecisionInput(action, today, reason=f"监督抽检 {k}"))
                            s.commit()
                            outcomes.append((producer_id, action, "recorded"))
                            return
                        except Conflict:  # SQLite: a stale snapshot; retry like a client
                            s.rollback()
                        except Refused:
                            s.rollback()
                            outcomes.append((producer_id, action, "refused"))
                            return
                raise AssertionError("regulator never got through")
        except BaseException as exc:
            errors.append(exc)

    for producer_id in producers:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=regulator, args=(k, action, producer_id, barrier))
                   for k, action in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []

    session.expire_all()
    for producer_id in producers:
        mine = [o for o in outcomes if o[0] == producer_id]
        assert len(mine) == 2
        history = auth.history(session, producer_id, product_id)
        recorded = [o[1] for o in mine if o[2] == "recorded"]
        assert history[0].action == "approve"
        assert sorted(d.action for d in history[1:]) == sorted(recorded)
        final = _replay(history)  # no two decisions taken from the same prior state
        assert auth.status(session, producer_id, product_id, today) == final
        if first == second:  # the same decision twice: exactly one is recorded, the other refused
            assert sorted(o[2] for o in mine) == ["recorded", "refused"]
        else:
            assert final.state == (rules.REVOKED if "revoke" in recorded else rules.SUSPENDED)
    count = session.exec(select(func.count()).select_from(AuthorisationDecision)).one()
    assert count == RACES + sum(1 for o in outcomes if o[2] == "recorded")


@pytest.mark.skipif(not IS_POSTGRES, reason="a writer and a page builder at once need PostgreSQL (SQLite runs "
                                            "one writer at a time; see test_scan_pages for the sequential race)")
def test_a_page_built_before_an_uncommitted_write_waits_for_it_and_is_not_stored(app, session):
    """Two writes on the two parents of a merged batch, and a job storing the merged batch's page built
    before the second write commits: the job waits for the writer's row, sees the new head and stores
    nothing; the job that the write queued then stores a page with both corrections."""
    from gi_trace import jobs
    from gi_trace.scan import read_path, stored_pages
    from gi_trace.scan.models import StoredPage, StoredPageLive
    from tests.factories_tracing import PLANTED, STORED

    grower = Grower.make(session)
    first, second = grower.tested(session), grower.tested(session)
    merged = services.merge(session, grower.user, [(first, None), (second, None)], occurred_at=STORED).children[0]
    session.commit()
    jobs.drain()
    plantings = {b.id: session.exec(select(Event.id).where(Event.batch_id == b.id, Event.stage == "planting")).one()
                 for b in (first, second)}

    def correct(s: Session, parent_id: int, cultivar: str) -> None:
        parent = s.get(Batch, parent_id)
        services.record_event(s, s.get(User, grower.user.id), parent, services.EventInput(
            stage="planting", occurred_at=PLANTED, data={"plot_id": grower.plot.id, "cultivar": cultivar},
            corrects_event_id=plantings[parent_id], correction_reason=f"品种更正为{cultivar}"))

    with Session(get_engine(app), expire_on_commit=False) as s:
        correct(s, first.id, "宁杞10号")
        commit(s)
    engine = get_engine(app)
    with engine.connect() as conn:  # the job reads the records: the first correction, not the second
        built = stored_pages._build(conn, [merged.id], read_path.ReferenceCache())
    holder = Session(engine, expire_on_commit=False)
    correct(holder, second.id, "宁杞1号")
    holder.flush()  # the second parent's row is written and held, not committed
    stored: list[int] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            with app.app_context():
                stored.append(stored_pages.store_current(engine, built))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive(), "the job should wait for the writer's row before it stores the page"
    commit(holder)
    holder.close()
    thread.join(30)
    assert not thread.is_alive() and not errors, errors
    assert stored == [0]
    session.expire_all()
    assert session.get(StoredPageLive, merged.id) is None  # out of use: scans build the page live
    jobs.drain()
    session.expire_all()
    body = session.get(StoredPage, merged.id).body_zh
    assert "品种更正为宁杞10号" in body and "品种更正为宁杞1号" in body

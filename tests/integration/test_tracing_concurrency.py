"""Concurrent writers on one batch: the chain stays linear (no two events share a sequence number,
every event points at its predecessor), a lost race is a 409 Conflict that can be retried."""
from __future__ import annotations

import threading

from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.db import get_engine
from gi_trace.errors import Conflict
from gi_trace.tracing import chain, services
from gi_trace.tracing.models import Batch, Event
from tests.factories_tracing import Grower

WRITERS = 4
EVENTS_EACH = 5
WHEN = "2025-08-05T10:00:00+08:00"


def test_concurrent_writers_keep_one_linear_chain(app, session):
    grower = Grower.make(session)
    batch = grower.dried(session)
    session.commit()
    batch_id, user_id, start = batch.id, grower.user.id, batch.event_count
    errors: list[BaseException] = []
    conflicts = []

    def writer(n: int) -> None:
        try:
            with app.test_request_context():
                for i in range(EVENTS_EACH):
                    for _attempt in range(50):
                        with Session(get_engine(app), expire_on_commit=False) as s:
                            try:
                                services.record_event(s, s.get(User, user_id), s.get(Batch, batch_id),
                                                      services.EventInput(stage="storage", occurred_at=WHEN,
                                                                          data={"place": f"仓库{n}-{i}"}))
                                s.commit()
                                break
                            except Conflict:
                                s.rollback()
                                conflicts.append(n)
                    else:
                        raise AssertionError("writer never got through")
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.expire_all()
    batch = session.get(Batch, batch_id)
    events = session.exec(select(Event).where(Event.batch_id == batch_id).order_by(Event.seq)).all()
    assert [e.seq for e in events] == list(range(1, start + WRITERS * EVENTS_EACH + 1))
    assert batch.event_count == len(events)
    assert chain.verify_batch(session, batch).ok
    places = sorted(e.data["place"] for e in events if e.stage == "storage")
    assert places == sorted(f"仓库{n}-{i}" for n in range(WRITERS) for i in range(EVENTS_EACH))

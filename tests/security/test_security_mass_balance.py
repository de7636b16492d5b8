"""Mass balance under any sequence of operations: no kilograms from nothing.

A hypothesis state machine drives the real tracing services on the test database (SQLite or
PostgreSQL): harvest rounds, drying, splits, merges, processing, distribution and corrections of
earlier harvest or drying records, with amounts that are often too large on purpose. Whatever the
services accept or refuse, after every step:

- no batch has sent out more than it holds (available >= 0);
- the kilograms held by all batches plus those distributed never exceed the fresh kilograms
  harvested (drying and processing only lose mass; split and merge move it);
- every batch's projection columns equal a fresh fold of its events (nothing half-written).
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlmodel import select

from gi_trace.errors import DomainError
from gi_trace.tracing import rules as trules
from gi_trace.tracing import services
from gi_trace.tracing.services.ledger import _project
from gi_trace.tracing.models import Batch, Event
from tests.factories_tracing import Grower

EPS = 0.002
_clock = itertools.count()
START = datetime(2025, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
KG = st.floats(min_value=0.5, max_value=2000, allow_nan=False).map(lambda x: round(x, 3))
FRACTION = st.floats(min_value=0.05, max_value=1.3, allow_nan=False)  # > 1 asks for more than there is


def _when() -> str:
    return (START + timedelta(hours=next(_clock))).isoformat()


def make_machine(session, grower: Grower, stats: dict):
    user = grower.user

    class MassBalance(RuleBasedStateMachine):
        batches = Bundle("batches")

        def __init__(self):
            super().__init__()
            self.codes: list[str] = []

        def _do(self, kind: str, operation):
            """Run one operation; a refusal leaves nothing behind (the whole op is rolled back)."""
            try:
                result = operation()
                session.commit()
            except DomainError:
                session.rollback()
                stats[f"{kind} refused"] = stats.get(f"{kind} refused", 0) + 1
                return None
            stats[kind] = stats.get(kind, 0) + 1
            return result

        def _batch(self, code: str) -> Batch:
            return session.exec(select(Batch).where(Batch.code == code)).one()

        @rule(target=batches, kg=KG)
        def harvest(self, kg):
            def op():
                batch = grower.open(session)
                grower.event(session, batch, "planting", _when(), {"plot_id": grower.plot.id})
                grower.event(session, batch, "harvest", _when(), {"plot_id": grower.plot.id, "fresh_kg": kg})
                return batch.code
            code = self._do("harvest", op)
            if code:
                self.codes.append(code)
            return code or self.codes[0] if self.codes else code

        @rule(code=batches, kg=KG)
        def another_round(self, code, kg):
            if code:
                self._do("harvest round", lambda: grower.event(
                    session, self._batch(code), "harvest", _when(), {"plot_id": grower.plot.id, "fresh_kg": kg}))

        @rule(code=batches, ratio=st.floats(min_value=0.1, max_value=1.2))
        def dry(self, code, ratio):
            if code:
                batch = self._batch(code)
                self._do("drying", lambda: grower.event(session, batch, "drying", _when(), {
                    "method": "hot_air", "dried_kg_out": round(batch.quantity_kg * ratio, 3) or 0.001}))

        @rule(target=batches, code=batches, fractions=st.lists(FRACTION, min_size=1, max_size=3))
        def split(self, code, fractions):
            if not code:
                return code
            batch = self._batch(code)
            parts = [{"quantity_kg": round(batch.available_kg * f / len(fractions), 3) or 0.001} for f in fractions]
            result = self._do("split", lambda: services.split(session, user, batch, parts, occurred_at=_when()))
            if result:
                self.codes += [c.code for c in result.children]
                return result.children[0].code
            return code

        @rule(target=batches, a=batches, b=batches, fa=st.none() | FRACTION)
        def merge(self, a, b, fa):
            if not a or not b:
                return a
            ba, bb = self._batch(a), self._batch(b)
            wanted = None if fa is None else round(ba.available_kg * fa, 3) or 0.001
            result = self._do("merge", lambda: services.merge(session, user, [(ba, wanted), (bb, None)],
                                                              occurred_at=_when()))
            if result:
                self.codes.append(result.children[0].code)
                return result.children[0].code
            return a

        @rule(target=batches, code=batches, yields=st.lists(FRACTION, min_size=1, max_size=2))
        def process(self, code, yields):
            if not code:
                return code
            batch = self._batch(code)
            outputs = [{"quantity_kg": round(batch.available_kg * y / len(yields), 3) or 0.001,
                        "product_form": "powder"} for y in yields]
            result = self._do("processing", lambda: services.transform(
                session, user, [(batch, None)], outputs, occurred_at=_when(), extra={"product_form": "powder"}))
            if result:
                self.codes += [c.code for c in result.children]
                return result.children[0].code
            return code

        @rule(code=batches, fraction=FRACTION)
        def distribute(self, code, fraction):
            if code:
                batch = self._batch(code)
                kg = round(batch.available_kg * fraction, 3) or 0.001
                self._do("distribution", lambda: grower.event(session, batch, "distribution", _when(),
                                                              {"recipient": "银川批发市场", "kg": kg}))

        @rule(code=batches, factor=st.floats(min_value=0.1, max_value=3.0))
        def correct(self, code, factor):
            """Correct the batch's first harvest or drying record (e.g. the scale was wrong)."""
            if not code:
                return
            batch = self._batch(code)
            events = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage.in_(
                ("harvest", "drying")), Event.corrects_event_id.is_(None)).order_by(Event.seq)).all()
            if not events:
                return
            target = events[-1]
            data = dict(target.data)
            key = "fresh_kg" if target.stage == "harvest" else "dried_kg_out"
            data[key] = round(data[key] * factor, 3) or 0.001
            self._do("correction", lambda: services.record_event(session, user, batch, services.EventInput(
                stage=target.stage, occurred_at=_when(), data=data, corrects_event_id=target.id,
                correction_reason="称重有误")))

        @invariant()
        def no_kilograms_from_nothing(self):
            if not self.codes:
                return
            rows = session.exec(select(Batch).where(Batch.code.in_(self.codes))).all()
            harvested = held = distributed = 0.0
            for batch in rows:
                assert batch.out_kg <= batch.quantity_kg + EPS, (batch.code, batch.quantity_kg, batch.out_kg)
                events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
                effective = trules.effective_events(list(events))
                harvested += sum(e.quantity_kg or 0 for e in effective if e.stage == "harvest")
                distributed += sum(e.quantity_kg or 0 for e in effective if e.stage == "distribution")
                held += batch.available_kg
                fold = _project(session, batch, list(events))
                assert (round(fold.quantity_kg, 3), round(fold.out_kg, 3)) == (
                    round(batch.quantity_kg, 3), round(batch.out_kg, 3)), batch.code
            assert held + distributed <= harvested + EPS * len(rows), (held, distributed, harvested)

    return MassBalance


@pytest.mark.parametrize("steps", [25])
def test_no_sequence_of_operations_creates_kilograms(session, steps):
    grower = Grower.make(session, area_mu=5000.0)
    session.commit()
    stats: dict[str, int] = {}
    machine = make_machine(session, grower, stats)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=25, stateful_step_count=steps, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck)))
    print("\nmass balance operations:", dict(sorted(stats.items())))
    # The machine must really have exercised each operation, not only been refused.
    for kind in ("harvest", "drying", "split", "merge", "processing", "distribution", "correction"):
        assert stats.get(kind, 0) > 0, (kind, stats)
    for kind in ("split", "distribution"):
        assert stats.get(f"{kind} refused", 0) > 0, (kind, stats)

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

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlmodel import select

from gi_trace.tracing import services
from gi_trace.tracing.models import Batch, Event
from tests.factories_tracing import Grower
from tests.security.ledger_machine import AIMED, BATCHES, EPS, FRACTION, KG, LedgerMachine, holds, run


def harvesting(batch: Batch) -> bool:
    """Another picking round can go into the batch: a harvest batch not yet dried or further on."""
    return batch.kind == "harvest" and batch.stage == "harvest"


def dryable(batch: Batch) -> bool:
    """The batch can be dried: still fresh, nothing left it, not past the harvest stage."""
    return batch.product_form == "fresh" and batch.out_kg <= EPS and batch.stage == "harvest" and holds(batch)


class MassBalance(LedgerMachine):
    """One grower's batches: harvest rounds, drying, distribution and corrections beside split, merge and
    processing."""

    grower: Grower = None

    def user_for(self, batch: Batch):
        return self.grower.user

    @rule(target=BATCHES, kg=KG)
    def harvest(self, kg):
        grower, session = self.grower, self.session

        def op():
            batch = grower.open(session)
            grower.event(session, batch, "planting", self.when(), {"plot_id": grower.plot.id})
            grower.event(session, batch, "harvest", self.when(), {"plot_id": grower.plot.id, "fresh_kg": kg})
            return batch.code
        code = self._do("harvest", op)
        if code:
            self.codes.append(code)
        return code or self.codes[0] if self.codes else code

    @rule(code=BATCHES, kg=KG, aimed=AIMED, data=st.data())
    def another_round(self, code, kg, aimed, data):
        grower, session = self.grower, self.session
        if aimed:
            code = self._fitting(data, harvesting, code)
        if code:
            self._do("harvest round", lambda: grower.event(
                session, self._batch(code), "harvest", self.when(),
                {"plot_id": grower.plot.id, "fresh_kg": kg}))

    @rule(code=BATCHES, ratio=st.floats(min_value=0.1, max_value=1.2), aimed=AIMED, data=st.data())
    def dry(self, code, ratio, aimed, data):
        grower, session = self.grower, self.session
        if aimed:
            code = self._fitting(data, dryable, code)
        if code:
            batch = self._batch(code)
            self._do("drying", lambda: grower.event(session, batch, "drying", self.when(), {
                "method": "hot_air", "dried_kg_out": round(batch.quantity_kg * ratio, 3) or 0.001}))

    @rule(code=BATCHES, fraction=FRACTION, aimed=AIMED, data=st.data())
    def distribute(self, code, fraction, aimed, data):
        grower, session = self.grower, self.session
        if aimed:
            code = self._fitting(data, holds, code)
        if code:
            batch = self._batch(code)
            kg = round(batch.available_kg * fraction, 3) or 0.001
            self._do("distribution", lambda: grower.event(session, batch, "distribution", self.when(),
                                                          {"recipient": "银川批发市场", "kg": kg}))

    @rule(code=BATCHES, factor=st.floats(min_value=0.1, max_value=3.0))
    def correct(self, code, factor):
        """Correct the batch's first harvest or drying record (e.g. the scale was wrong)."""
        session, user = self.session, self.grower.user
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
            stage=target.stage, occurred_at=self.when(), data=data, corrects_event_id=target.id,
            correction_reason="称重有误")))

    @invariant()
    def no_kilograms_from_nothing(self):
        if not self.codes:
            return
        rows = self.session.exec(select(Batch).where(Batch.code.in_(self.codes))).all()
        harvested = held = distributed = 0.0
        for batch in rows:
            came, gone = self.checked(batch)
            harvested += came
            distributed += gone
            held += batch.available_kg
        assert held + distributed <= harvested + EPS * len(rows), (held, distributed, harvested)


@pytest.mark.parametrize("steps", [25])
def test_no_sequence_of_operations_creates_kilograms(session, steps):
    grower = Grower.make(session, area_mu=5000.0)
    session.commit()
    stats: dict[str, int] = {}
    run(MassBalance.bind(session, stats, grower=grower), max_examples=25, steps=steps)
    print("\nmass balance operations:", dict(sorted(stats.items())))
    # The machine must really have exercised each operation, not only been refused, and each kind of operation
    # must also have been refused now and then (a refusal leaves nothing behind).
    # A derandomized run on SQLite or PostgreSQL made 42 merges, 30 dryings, 27 splits and 58 distributions
    # (before the operands were aimed: 1 merge and 9 dryings).
    wanted = {"harvest": 20, "harvest round": 8, "drying": 10, "split": 10, "merge": 10, "processing": 10,
              "distribution": 10, "correction": 10}
    thin = {kind: stats.get(kind, 0) for kind, least in wanted.items() if stats.get(kind, 0) < least}
    assert not thin, (thin, stats)
    never_refused = [kind for kind in ("harvest round", "drying", "split", "merge", "processing",
                                       "distribution", "correction") if not stats.get(f"{kind} refused")]
    assert not never_refused, (never_refused, stats)

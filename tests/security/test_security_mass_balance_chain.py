"""Mass balance across owners under any sequence of operations: no kilogram in two places, none from nothing.

A hypothesis state machine drives the real services on the test database (SQLite or PostgreSQL) for three
parties — a grower, a dealer and a processor: harvest and drying, ship to another party, receive (often
claiming more than was shipped, on purpose), reject, and split/merge/processing by whoever owns the batch
(a merge of two owners' batches must be refused). Whatever the services accept or refuse, after every step:

- no batch has sent out more than it holds, and its projection equals a fresh fold of its events;
- every kilogram that left a batch is in exactly one place: a child batch (split, merge, processing), a
  shipment (in transit, or received — its loss in transit included), or recorded as distributed;
- a received batch holds what its transfer link says, never more than was shipped;
- all the kilograms held, in transit, lost in transit and distributed never exceed what was harvested.
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
from gi_trace.tracing import services, transfers
from gi_trace.tracing.models import Batch, BatchLink, Event, Shipment
from gi_trace.tracing.services.ledger import _project
from tests.factories import authorised_producer, producer_user
from tests.factories_tracing import Grower

EPS = 0.002
_clock = itertools.count()
START = datetime(2025, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
KG = st.floats(min_value=0.5, max_value=2000, allow_nan=False).map(lambda x: round(x, 3))
FRACTION = st.floats(min_value=0.05, max_value=1.3, allow_nan=False)  # > 1 asks for more than there is


def _when() -> str:
    return (START + timedelta(hours=next(_clock))).isoformat()


def make_machine(session, grower: Grower, parties: list, stats: dict):
    users = {grower.producer.id: grower.user, **{p.id: u for p, u in parties}}
    codes_of = {grower.producer.id: grower.producer.code, **{p.id: p.code for p, _u in parties}}
    party_ids = list(users)

    class MassBalanceAcrossOwners(RuleBasedStateMachine):
        batches = Bundle("batches")
        shipments = Bundle("shipments")

        def __init__(self):
            super().__init__()
            self.codes: list[str] = []

        def _do(self, kind: str, operation):
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

        @rule(target=batches, kg=KG, ratio=st.floats(min_value=0.15, max_value=0.3))
        def harvest_and_dry(self, kg, ratio):
            def op():
                batch = grower.open(session)
                grower.event(session, batch, "planting", _when(), {"plot_id": grower.plot.id})
                grower.event(session, batch, "harvest", _when(), {"plot_id": grower.plot.id, "fresh_kg": kg})
                grower.event(session, batch, "drying", _when(), {"method": "hot_air",
                                                                 "dried_kg_out": round(kg * ratio, 3)})
                return batch.code
            code = self._do("harvest", op)
            if code:
                self.codes.append(code)
            return code or (self.codes[0] if self.codes else None)

        @rule(target=shipments, code=batches, to=st.integers(0, 2), fraction=FRACTION)
        def ship(self, code, to, fraction):
            if not code:
                return None
            batch = self._batch(code)
            # Mostly another party; now and then the owner itself (refused).
            receiver = party_ids[(party_ids.index(batch.producer_id) + 1 + to) % len(party_ids)]
            kg = round(batch.available_kg * fraction, 3) or 0.001
            shipment = self._do("ship", lambda: transfers.ship(session, users[batch.producer_id], batch,
                                                               to=codes_of[receiver], quantity_kg=kg,
                                                               shipped_at=_when()))
            return shipment.id if shipment else None

        @rule(target=batches, shipment_id=shipments, fraction=st.floats(min_value=0.6, max_value=1.02))
        def receive(self, shipment_id, fraction):
            if not shipment_id:
                return None
            shipment = session.get(Shipment, shipment_id)
            user = users[shipment.to_party_id]
            kg = round(shipment.quantity_kg * fraction, 3) or 0.001
            batch = self._do("receive", lambda: transfers.receive(session, user, shipment, received_at=_when(),
                                                                  quantity_kg=kg))
            if batch:
                self.codes.append(batch.code)
                return batch.code
            return self.codes[0] if self.codes else None

        @rule(shipment_id=shipments)
        def reject(self, shipment_id):
            if shipment_id:
                shipment = session.get(Shipment, shipment_id)
                self._do("reject", lambda: transfers.reject(session, users[shipment.to_party_id], shipment,
                                                            reason="验收不合格", rejected_at=_when()))

        @rule(target=batches, code=batches, fractions=st.lists(FRACTION, min_size=1, max_size=3))
        def split(self, code, fractions):
            if not code:
                return code
            batch = self._batch(code)
            parts = [{"quantity_kg": round(batch.available_kg * f / len(fractions), 3) or 0.001} for f in fractions]
            result = self._do("split", lambda: services.split(session, users[batch.producer_id], batch, parts,
                                                              occurred_at=_when()))
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
            # The owner of the first batch merges: another owner's batch is refused (not found).
            result = self._do("merge", lambda: services.merge(session, users[ba.producer_id], [(ba, wanted), (bb, None)],
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
                session, users[batch.producer_id], [(batch, None)], outputs, occurred_at=_when(),
                extra={"product_form": "powder"}))
            if result:
                self.codes += [c.code for c in result.children]
                return result.children[0].code
            return code

        @invariant()
        def every_kilogram_is_in_one_place(self):
            if not self.codes:
                return
            rows = session.exec(select(Batch).where(Batch.code.in_(self.codes))).all()
            ids = [b.id for b in rows]
            links = session.exec(select(BatchLink).where(BatchLink.parent_id.in_(ids))).all()
            shipments = session.exec(select(Shipment).where(Shipment.batch_id.in_(ids))).all()
            harvested = held = in_transit = lost = distributed = 0.0
            for batch in rows:
                assert batch.out_kg <= batch.quantity_kg + EPS, (batch.code, batch.quantity_kg, batch.out_kg)
                events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
                effective = trules.effective_events(list(events))
                harvested += sum(e.quantity_kg or 0 for e in effective if e.stage == "harvest")
                gone = sum(e.quantity_kg or 0 for e in effective if e.stage == "distribution")
                distributed += gone
                held += batch.available_kg
                fold = _project(session, batch, list(events))
                assert (round(fold.quantity_kg, 3), round(fold.out_kg, 3)) == (
                    round(batch.quantity_kg, 3), round(batch.out_kg, 3)), batch.code
                # Where the kilograms that left this batch are: exactly one place each.
                to_children = sum(link.quantity_kg for link in links
                                  if link.parent_id == batch.id and link.kind != "transfer")
                shipped = sum(s.quantity_kg for s in shipments
                              if s.batch_id == batch.id and s.status in ("in_transit", "received"))
                assert abs(batch.out_kg - (to_children + shipped + gone)) <= EPS * (1 + len(links)), (
                    batch.code, batch.out_kg, to_children, shipped, gone)
            for s in shipments:
                if s.status == "in_transit":
                    in_transit += s.quantity_kg
                elif s.status == "received":
                    link = session.exec(select(BatchLink).where(BatchLink.child_id == s.received_batch_id)).one()
                    received = session.get(Batch, s.received_batch_id)
                    assert link.kind == "transfer" and link.quantity_kg == s.received_kg == received.quantity_kg
                    assert s.received_kg <= s.quantity_kg + EPS and abs(s.loss_kg - (s.quantity_kg - s.received_kg)) <= EPS
                    assert received.producer_id == s.to_party_id
                    lost += s.loss_kg
            # Drying and processing lose mass, nothing makes it: held + moving + lost + gone <= dried harvests.
            assert held + in_transit + lost + distributed <= harvested + EPS * len(rows), (
                held, in_transit, lost, distributed, harvested)

    return MassBalanceAcrossOwners


@pytest.mark.parametrize("steps", [25])
def test_no_sequence_of_hand_overs_puts_a_kilogram_in_two_places(session, steps):
    grower = Grower.make(session, area_mu=5000.0)
    parties = []
    for kind in ("trader", "processor"):
        party = authorised_producer(kind=kind)
        parties.append((party, producer_user(party)))
    session.commit()
    stats: dict[str, int] = {}
    machine = make_machine(session, grower, parties, stats)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=15, stateful_step_count=steps, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck)))
    print("\nmass balance across owners:", dict(sorted(stats.items())))
    # The sequences must have moved goods between owners at all (the invariants are checked after every step);
    # which hand-over outcomes a derandomized run reaches depends on the code's refusals, so those are printed.
    assert stats.get("harvest", 0) > 0 and stats.get("ship", 0) > 0, stats
    assert stats.get("receive", 0) + stats.get("reject", 0) + stats.get("receive refused", 0) > 0, stats

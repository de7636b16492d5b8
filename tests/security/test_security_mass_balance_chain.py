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

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, invariant, precondition, rule
from sqlmodel import select

from gi_trace.tracing import transfers
from gi_trace.tracing.models import Batch, BatchLink, Shipment
from tests.factories import authorised_producer, producer_user
from tests.factories_tracing import Grower
from tests.security.ledger_machine import AIMED, BATCHES, EPS, FRACTION, KG, LedgerMachine, holds, run

SHIPMENTS = Bundle("shipments")
HARVESTS = 6  # per sequence: the steps after those hand goods over, split, merge and process them


class MassBalanceAcrossOwners(LedgerMachine):
    """A grower, a dealer and a processor: harvest and drying, shipping, receiving and rejecting beside split,
    merge and processing by whoever owns the batch."""

    grower: Grower = None
    users: dict = None  # party id → its user
    codes_of: dict = None  # party id → its code
    shipments = SHIPMENTS

    def __init__(self):
        super().__init__()
        self.shipment_ids: list[int] = []
        self.harvests = 0

    def user_for(self, batch: Batch):
        return self.users[batch.producer_id]

    @precondition(lambda self: self.harvests < HARVESTS)
    @rule(target=BATCHES, kg=KG, ratio=st.floats(min_value=0.15, max_value=0.3))
    def harvest_and_dry(self, kg, ratio):
        grower, session = self.grower, self.session
        self.harvests += 1

        def op():
            batch = grower.open(session)
            grower.event(session, batch, "planting", self.when(), {"plot_id": grower.plot.id})
            grower.event(session, batch, "harvest", self.when(), {"plot_id": grower.plot.id, "fresh_kg": kg})
            grower.event(session, batch, "drying", self.when(), {"method": "hot_air",
                                                                 "dried_kg_out": round(kg * ratio, 3)})
            return batch.code
        code = self._do("harvest", op)
        if code:
            self.codes.append(code)
        return code or (self.codes[0] if self.codes else None)

    @rule(target=SHIPMENTS, code=BATCHES, to=st.integers(0, 7), fraction=FRACTION, aimed=AIMED,
          data=st.data())
    def ship(self, code, to, fraction, aimed, data):
        if aimed:
            code = self._fitting(data, holds, code)
        if not code:
            return None
        batch = self._batch(code)
        # Mostly one of the two other parties; one time in eight the owner itself (refused; not an end of the
        # range, which hypothesis draws more often).
        party_ids = list(self.users)
        others = party_ids[party_ids.index(batch.producer_id) + 1:] + party_ids[:party_ids.index(batch.producer_id)]
        receiver = batch.producer_id if to == 3 else others[to % 2]
        kg = round(batch.available_kg * fraction, 3) or 0.001
        kind = "ship" if receiver != batch.producer_id else "ship to itself"
        shipment = self._do(kind, lambda: transfers.ship(self.session, self.user_for(batch), batch,
                                                         to=self.codes_of[receiver], quantity_kg=kg,
                                                         shipped_at=self.when()))
        if shipment:
            self.shipment_ids.append(shipment.id)
        return shipment.id if shipment else None

    def _in_transit(self, data, otherwise):
        """A shipment still in transit (drawn among those this machine made), or `otherwise` when none is."""
        waiting = self.session.exec(select(Shipment.id).where(Shipment.id.in_(self.shipment_ids),
                                                              Shipment.status == "in_transit")).all()
        waiting = [i for i in self.shipment_ids if i in set(waiting)]  # in the order shipped
        return data.draw(st.sampled_from(waiting)) if waiting else otherwise

    @rule(target=BATCHES, shipment_id=SHIPMENTS, fraction=st.floats(min_value=0.6, max_value=1.02),
          aimed=AIMED, data=st.data())
    def receive(self, shipment_id, fraction, aimed, data):
        return self._receive(shipment_id, fraction, aimed, data)

    @rule(target=BATCHES, shipment_id=SHIPMENTS, aimed=AIMED, data=st.data())
    def receive_in_full(self, shipment_id, aimed, data):
        """Received without a quantity: all that was shipped arrived."""
        return self._receive(shipment_id, None, aimed, data)

    def _receive(self, shipment_id, fraction, aimed, data):
        if aimed:
            shipment_id = self._in_transit(data, shipment_id)
        if not shipment_id:
            return None
        shipment = self.session.get(Shipment, shipment_id)
        user = self.users[shipment.to_party_id]
        kg = None if fraction is None else round(shipment.quantity_kg * fraction, 3) or 0.001
        batch = self._do("receive", lambda: transfers.receive(self.session, user, shipment,
                                                              received_at=self.when(), quantity_kg=kg))
        if batch:
            self.codes.append(batch.code)
            return batch.code
        return self.codes[0] if self.codes else None

    @rule(shipment_id=SHIPMENTS, aimed=st.booleans(), data=st.data())
    def reject(self, shipment_id, aimed, data):
        # Half the time a shipment still in transit: most of them are to be received, not rejected.
        if aimed:
            shipment_id = self._in_transit(data, shipment_id)
        if shipment_id:
            shipment = self.session.get(Shipment, shipment_id)
            self._do("reject", lambda: transfers.reject(self.session, self.users[shipment.to_party_id],
                                                        shipment, reason="验收不合格", rejected_at=self.when()))

    @invariant()
    def every_kilogram_is_in_one_place(self):
        if not self.codes:
            return
        session = self.session
        rows = session.exec(select(Batch).where(Batch.code.in_(self.codes))).all()
        ids = [b.id for b in rows]
        links = session.exec(select(BatchLink).where(BatchLink.parent_id.in_(ids))).all()
        shipments = session.exec(select(Shipment).where(Shipment.batch_id.in_(ids))).all()
        harvested = held = in_transit = lost = distributed = 0.0
        for batch in rows:
            came, gone = self.checked(batch)
            harvested += came
            distributed += gone
            held += batch.available_kg
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
                assert s.received_kg <= s.quantity_kg + EPS
                assert abs(s.loss_kg - (s.quantity_kg - s.received_kg)) <= EPS
                assert received.producer_id == s.to_party_id
                lost += s.loss_kg
        # Drying and processing lose mass, nothing makes it: held + moving + lost + gone <= dried harvests.
        assert held + in_transit + lost + distributed <= harvested + EPS * len(rows), (
            held, in_transit, lost, distributed, harvested)


@pytest.mark.parametrize("steps", [25])
def test_no_sequence_of_hand_overs_puts_a_kilogram_in_two_places(session, steps):
    grower = Grower.make(session, area_mu=5000.0)
    parties = []
    for kind in ("trader", "processor"):
        party = authorised_producer(kind=kind)
        parties.append((party, producer_user(party)))
    session.commit()
    stats: dict[str, int] = {}
    users = {grower.producer.id: grower.user, **{p.id: u for p, u in parties}}
    codes_of = {grower.producer.id: grower.producer.code, **{p.id: p.code for p, _u in parties}}
    run(MassBalanceAcrossOwners.bind(session, stats, grower=grower, users=users, codes_of=codes_of),
        max_examples=20, steps=steps)
    print("\nmass balance across owners:", dict(sorted(stats.items())))
    # The sequences must really hand goods over, split, merge and process them (the invariants are checked
    # after every step), and each kind of operation must also have been refused now and then (a refusal leaves
    # nothing behind).
    # A derandomized run on SQLite or PostgreSQL made 56 shipments, 28 receipts, 6 rejections and 37 merges
    # (before the operands were aimed: 3 shipments, 1 receipt, 1 rejection and 5 merges).
    wanted = {"harvest": 20, "ship": 10, "receive": 5, "reject": 1, "merge": 10, "split": 10,
              "processing": 10}
    thin = {kind: stats.get(kind, 0) for kind, least in wanted.items() if stats.get(kind, 0) < least}
    assert not thin, (thin, stats)
    never_refused = [kind for kind in ("ship", "ship to itself", "receive", "reject", "merge", "split",
                                       "processing") if not stats.get(f"{kind} refused")]
    assert not never_refused, (never_refused, stats)
    # Shipping to one's own party and merging another owner's batch are always refused.
    assert "ship to itself" not in stats and "merge across owners" not in stats, stats

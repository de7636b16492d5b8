"""The hand-overs of an EPCIS export (tracing.epcis): each shipment between parties as a `shipping` event and a
`receiving` (or `return`) event, with the same eventIDs in the sender's and the receiver's export."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlmodel import Session, select

from gi_trace.registry.models import Producer
from gi_trace.tracing.epcis_ids import Ids, iso, offset, qty
from gi_trace.tracing.models import Batch, Event, Shipment
from gi_trace.tracing.rules import local_time


class Handovers:
    """The shipments behind a document's shipping/delivery/receiving/return events, with both parties."""

    STAGES = ("shipping", "delivery", "receiving", "return")

    def __init__(self, session: Session, events: list[Event], batches: dict[int, Batch]):
        wanted = {(e.data or {}).get("shipment") for e in events if e.stage in self.STAGES}
        wanted.discard(None)
        self.shipments = {s.id: s for s in session.exec(select(Shipment).where(Shipment.id.in_(wanted))).all()} \
            if wanted else {}
        party_ids = {p for s in self.shipments.values() for p in (s.from_party_id, s.to_party_id)}
        self.parties = {p.id: p.code for p in session.exec(select(Producer).where(Producer.id.in_(party_ids)))} \
            if party_ids else {}
        batch_ids = {b for s in self.shipments.values() for b in (s.batch_id, s.received_batch_id) if b}
        missing = batch_ids - set(batches)
        self.batches = dict(batches)
        if missing:
            self.batches.update({b.id: b for b in session.exec(select(Batch).where(Batch.id.in_(missing)))})
        ship_events = {s.ship_event_id for s in self.shipments.values() if s.ship_event_id}
        self.ship_seq = {e.id: e.seq for e in session.exec(select(Event).where(Event.id.in_(ship_events)))} \
            if ship_events else {}
        self.emitted: set[str] = set()
        self.certs = None  # epcis._Certificates, set by the export

    def covers(self, e: Event) -> bool:
        return e.stage in self.STAGES and (e.data or {}).get("shipment") in self.shipments

    def _ends(self, ids: Ids, s: Shipment) -> dict:
        sender, receiver = ids.party(self.parties[s.from_party_id]), ids.party(self.parties[s.to_party_id])
        out = {"sourceList": [{"type": "owning_party", "source": sender}, {"type": "possessing_party", "source": sender}],
               "destinationList": [{"type": "owning_party", "destination": receiver},
                                   {"type": "possessing_party", "destination": receiver}]}
        if s.document_no:
            out["bizTransactionList"] = [{"type": "desadv", "bizTransaction": ids.document(s.document_no)}]
        return out

    def _event(self, ids: Ids, s: Shipment, what: str, at: datetime, recorded: datetime, batch: Batch,
               kg: Optional[float], step: str, disposition: str, seq: Optional[int]) -> Optional[dict]:
        event_id = ids.shipment(s, what)
        if event_id in self.emitted:
            return None
        self.emitted.add(event_id)
        item = {"type": "ObjectEvent", "eventID": event_id,
                "eventTime": iso(local_time(at, s.utc_offset_min)), "eventTimeZoneOffset": offset(s.utc_offset_min),
                "recordTime": iso(recorded.astimezone(timezone.utc)), "action": "OBSERVE",
                "quantityList": [qty(ids.class_at(batch, seq), kg)], "bizStep": step, "disposition": disposition,
                **self._ends(ids, s)}
        if self.certs is not None:  # the authorisation of the batch's owner (sender, or receiver on receipt)
            self.certs.add_on(item, batch, local_time(at, s.utc_offset_min).date())
        return item

    def events(self, ids: Ids, e: Event) -> list[dict]:
        """The EPCIS events of one shipment seen from either side (each eventID once per document)."""
        s = self.shipments[e.data["shipment"]]
        source = self.batches[s.batch_id]
        # Goods travel in the form the sender's batch had when shipped (fresh before its drying); a received
        # batch holds them in that form from its first event.
        shipped_seq = self.ship_seq.get(s.ship_event_id)
        out = [self._event(ids, s, "shipping", s.shipped_at, s.created_at, source, s.quantity_kg, "shipping",
                           "in_transit", shipped_seq)]
        if s.status == "received" and s.received_batch_id:
            received = self.batches[s.received_batch_id]
            out.append(self._event(ids, s, "receiving", s.received_at, s.received_at, received, s.received_kg,
                                   "receiving", "in_progress", 0))
            if out[-1] is not None and received.producer_lot:
                out[-1]["gt:lot"] = received.producer_lot  # the receiver's own lot number for what arrived
        elif s.status == "rejected":
            out.append(self._event(ids, s, "return", s.rejected_at, s.rejected_at, source, s.quantity_kg,
                                   "receiving", "returned", shipped_seq))
            if out[-1] is not None and s.reject_reason:
                out[-1]["gt:reason"] = s.reject_reason
        return [item for item in out if item is not None]

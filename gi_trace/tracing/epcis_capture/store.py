"""Idempotence by eventID: what an eventID created is remembered (models_capture); the same event again changes
nothing, the same eventID with other content is refused, and this system's own events sent back (an export
echoed into the system that made it) are recognised by their name-based eventIDs and never recorded twice."""
from __future__ import annotations

import uuid
from typing import Iterable, Optional
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Refused
from gi_trace.tracing import epcis
from gi_trace.tracing.epcis_capture.context import Outcome
from gi_trace.tracing.epcis_capture.identify import read_ref
from gi_trace.tracing.epcis_capture.parse import Incoming, fingerprint, listed
from gi_trace.tracing.epcis_ids import event_uuid
from gi_trace.tracing.models import Batch, Event, ProductLine, Shipment, UnitCode
from gi_trace.tracing.models_capture import CapturedEvent, CapturedName
from gi_trace.tracing.models_recall import Recall, RecallMember

CHANGED = "event_id_conflict"


def changed(event_id: str) -> Refused:
    return Refused(_("Event %(id)s was recorded before with other content. An event is never changed: correct it with a "
                     "new event (gt:corrects) and an errorDeclaration.", id=event_id[:80]), field="eventID", code=CHANGED)


def earlier(session: Session, party_id: int, inc: Incoming) -> Optional[CapturedEvent]:
    """The earlier capture of this eventID, when its content is the same; refused when it is not, or when it came
    from another party."""
    row = session.exec(select(CapturedEvent).where(CapturedEvent.event_id == inc.event_id)).first()
    if row is None:
        return None
    if row.party_id != party_id:
        raise Refused(_("Event %(id)s was captured from another party: eventIDs are unique.", id=inc.event_id[:80]),
                      field="eventID", code="event_id_taken")
    if row.sha256 != inc.sha256:
        raise changed(inc.event_id)
    return row


def remember(session: Session, user: User, inc: Incoming, outcome: Outcome) -> CapturedEvent:
    """Keep the eventID with what it created and the export's names of it."""
    row = CapturedEvent(event_id=inc.event_id, party_id=user.producer_id, captured_by=user.id, sha256=inc.sha256,
                        records=outcome.records, declared_at=outcome.declared_at)
    session.add(row)
    try:
        session.flush()
        session.add_all([CapturedName(capture_id=row.id, name=name) for name in outcome.names])
        session.flush()
    except IntegrityError:  # the same eventID captured by a concurrent request: the request is rolled back
        raise Conflict(_("Event %(id)s is being captured by another request; try again.", id=inc.event_id[:80]),
                       field="eventID") from None
    return row


class Native:
    """This system's own eventIDs of the party's batches an event names (`event:<code>:<seq>`, `op:…`,
    `shipment:…`, `units:…`, see tracing.epcis_ids); an event with one of them is already recorded here."""

    def __init__(self, session: Session, party_id: int):
        self.session, self.party_id = session, party_id
        self._handovers: Optional[dict[str, int]] = None

    def recorded(self, inc: Incoming) -> bool:
        """True when the event is one of this system's own; refused when its content differs from ours."""
        if not _name_based(inc.event_id):
            return False  # this system's eventIDs are name-based (v5) UUIDs; a sender's own ids are not looked up
        for batch in self._batches(inc.raw):
            # Not cached: a withdrawal captured earlier in the document adds derived recall events to its members.
            name = native_ids(self.session, batch).get(inc.event_id)
            if name is not None and not self._captured_record(name):
                return self._same(batch, inc)
        if inc.raw.get("sourceList") or inc.raw.get("destinationList"):
            # A hand-over in the export of the party's batch may name only the other party's batch.
            batch_id = self._handover_ids().get(inc.event_id)
            if batch_id is not None:
                return self._same(self.session.get(Batch, batch_id), inc)
        return False

    def _captured_record(self, name: str) -> bool:
        """True when the record behind a name was itself captured (the packing of captured unit codes has the name
        this system would give it, but it is the sender's event to keep)."""
        if not name.startswith(("units:", "shipment:")):
            return False
        stem = name.rsplit(":", 1)[0] + ":"
        return self.session.exec(select(CapturedName.id).where(CapturedName.name.startswith(stem))).first() is not None

    def _same(self, batch: Batch, inc: Incoming) -> bool:
        ours = self._exported(batch, inc).get(inc.event_id)
        if ours is None or fingerprint(ours) != inc.sha256:
            raise changed(inc.event_id)
        return True

    def _handover_ids(self) -> dict[str, int]:
        """eventID → the party's batch of each shipment it sent or received."""
        if self._handovers is None:
            rows = self.session.exec(select(Shipment.op_id, Shipment.from_party_id, Shipment.batch_id,
                                            Shipment.received_batch_id).where(
                (Shipment.from_party_id == self.party_id) | (Shipment.to_party_id == self.party_id))).all()
            self._handovers = {
                event_uuid(f"shipment:{op}:{what}"): (sent if sender == self.party_id else received)
                for op, sender, sent, received in rows for what in ("shipping", "receiving", "return")
                if (sent if sender == self.party_id else received) is not None}
        return self._handovers

    def _exported(self, batch: Batch, inc: Incoming) -> dict[str, dict]:
        """The batch's own export on the host the event names, by eventID."""
        uri = next((u for u in _identifiers(inc.raw) if u.startswith(("http://", "https://"))), "")
        parts = urlsplit(uri)
        base = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
        document = epcis.build_document(self.session, [batch], base, root=batch)
        return {e["eventID"]: e for e in document["epcisBody"]["eventList"]}

    def _batches(self, raw: dict) -> list[Batch]:
        found: dict[int, Batch] = {}
        for uri in _identifiers(raw):
            ref = read_ref(uri)
            if ref is None:
                continue
            batch = None
            if ref.serial or (ref.code and not ref.gtin):
                unit = self.session.exec(select(UnitCode).where(UnitCode.code == (ref.serial or ref.code))).first()
                batch = self.session.get(Batch, unit.batch_id) if unit is not None else None
            if batch is None and ref.code:
                batch = self.session.exec(select(Batch).where(Batch.code == ref.code)).first()
            elif batch is None and ref.dl:
                batch = self.session.exec(select(Batch).join(ProductLine, ProductLine.id == Batch.product_line_id)
                                          .where(ProductLine.gtin14 == ref.gtin, Batch.producer_lot == ref.lot)).first()
            if batch is not None and batch.producer_id == self.party_id:
                found[batch.id] = batch
        return list(found.values())


def _name_based(event_id: str) -> bool:
    if not event_id.startswith("urn:uuid:"):
        return False
    try:
        return uuid.UUID(event_id[9:]).version == 5
    except ValueError:
        return False


def _identifiers(raw: dict) -> Iterable[str]:
    for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
        for entry in listed(raw.get(key)):
            if isinstance(entry, dict) and isinstance(entry.get("epcClass"), str):
                yield entry["epcClass"]
    for key in ("epcList", "childEPCs"):
        for value in listed(raw.get(key)):
            if isinstance(value, str):
                yield value
    if isinstance(raw.get("parentID"), str):
        yield raw["parentID"]


def native_ids(session: Session, batch: Batch) -> dict[str, str]:
    """eventID → name of every event this system's export derives for the batch's records."""
    names = []
    events = session.exec(select(Event.seq, Event.op_id).where(Event.batch_id == batch.id)).all()
    names += [f"event:{batch.code}:{seq}" for seq, _op in events]
    names += [f"op:{op}" for op in {op for _seq, op in events if op}]
    shipments = session.exec(select(Shipment.op_id).where(
        (Shipment.batch_id == batch.id) | (Shipment.received_batch_id == batch.id))).all()
    names += [f"shipment:{op}:{what}" for op in shipments for what in ("shipping", "receiving", "return")]
    groups: dict = {}
    for serial, issued_at in session.exec(select(UnitCode.serial, UnitCode.issued_at)
                                          .where(UnitCode.batch_id == batch.id)).all():
        groups.setdefault(issued_at, []).append(serial)
    for serials in groups.values():
        names += [f"units:{batch.code}:{min(serials)}-{max(serials)}:{what}" for what in ("commissioning", "packing")]
    # What a recall reaching the batch derives (tracing.epcis_recall): the member's holding event and its lift.
    sources = session.exec(select(Recall.source_code).join(RecallMember, RecallMember.recall_id == Recall.id)
                           .where(RecallMember.batch_id == batch.id)).all()
    names += [f"{what}:{source}:{batch.code}" for source in sources for what in ("recall", "recall-lift")]
    return {event_uuid(name): name for name in names}

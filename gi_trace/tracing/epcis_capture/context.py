"""What every capture handler shares: the capturing party, its batches, the document, and the records an event made.

A handler returns an `Outcome`: the records it created (for the answer), the names the EPCIS export gives them
(so the export carries the eventIDs they were sent with, see models_capture) and, for a correction, when the
sender declared the corrected event erroneous. A domain refusal names its field in the service's terms
(`occurred_at`, `data.plot_id`); `renamed` turns it into the event's own (`eventTime`, `readPoint.id`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace import formatting as fmt
from gi_trace.accounts.models import User
from gi_trace.authorisation import rules as auth_rules
from gi_trace.authorisation.services import status as authorisation_status
from gi_trace.errors import DomainError, Refused, ValidationError
from gi_trace.registry.models import Producer, Product
from gi_trace.tracing import codes, rules
from gi_trace.tracing.epcis_capture.identify import Batches, Ref, read_ref
from gi_trace.tracing.epcis_capture.parse import Incoming, listed
from gi_trace.tracing.epcis_ids import event_uuid
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.models_capture import CapturedEvent


@dataclass
class Outcome:
    """What capturing one event did."""

    records: list[dict] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    declared_at: Optional[datetime] = None
    made: Optional[Event] = None  # the stage event recorded, for a handler that looks at it

    def event(self, batch: Batch, event: Event) -> "Outcome":
        self.records.append({"kind": "event", "batch": batch.code, "seq": event.seq})
        self.names.append(f"event:{batch.code}:{event.seq}")  # the export's name of a stage event
        return self

    def batch(self, batch: Batch) -> "Outcome":
        self.records.append({"kind": "batch", "batch": batch.code})
        return self


@dataclass
class Context:
    """One capture request: the party's account, its batches, the document's events and what was handled."""

    session: Session
    user: User
    batches: Batches
    events: dict[int, Incoming] = field(default_factory=dict)  # by index in the document
    handled: dict[int, Outcome] = field(default_factory=dict)  # events another event's handler recorded (pairs)

    @property
    def party_id(self) -> int:
        return self.user.producer_id

    def party(self) -> Producer:
        return self.session.get(Producer, self.party_id)

    def by_event_id(self, event_id: str) -> Optional[Incoming]:
        return next((e for e in self.events.values() if e.event_id == event_id), None)

    def check_mark(self, inc: Incoming, producer_id: int, product_id: int) -> None:
        """An event that carries certificationInfo claims its owner's GI authorisation: refused unless the owner
        was authorised for the product on the event's day."""
        if "certificationInfo" not in inc.raw:
            return
        day = inc.at.date()
        state = authorisation_status(self.session, producer_id, product_id, day).state
        if state != auth_rules.AUTHORISED:
            product = self.session.get(Product, product_id)
            owner = self.session.get(Producer, producer_id)
            raise Refused(_("certificationInfo claims the GI mark of %(product)s for %(owner)s, who was not authorised "
                            "to use it on %(day)s: unauthorised use of the GI mark.", product=fmt.name(product),
                            owner=owner.name, day=fmt.day(day)), field="certificationInfo",
                          code="unauthorised_gi_mark")

    def target_event(self, batch: Batch, event_id: Any) -> Event:
        """The batch's event an eventID names (a captured one, or this system's own), for a correction."""
        if not isinstance(event_id, str) or not event_id:
            raise ValidationError(_("gt:corrects must be the eventID of the event it corrects."), field="gt:corrects")
        row = self.session.exec(select(CapturedEvent).where(CapturedEvent.event_id == event_id)).first()
        events = list(self.session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all())
        if row is not None:
            seqs = {r.get("seq") for r in row.records if r.get("kind") == "event" and r.get("batch") == batch.code}
            found = [e for e in events if e.seq in seqs]
        else:
            found = [e for e in events if event_uuid(f"event:{batch.code}:{e.seq}") == event_id]
        if not found:
            raise Refused(_("gt:corrects names no event of batch %(code)s.", code=codes.display(batch.code)),
                          field="gt:corrects", code="unknown_event")
        return found[0]


def quantity(entry: Any, field: str) -> float:
    """The kilograms of a quantity element (uom KGM; no uom: kilograms too, as the CBV's default unit is the
    class's own and ours is the kilogram)."""
    if not isinstance(entry, dict) or entry.get("quantity") is None:
        raise ValidationError(_("Give the quantity in kilograms (quantity, uom KGM)."), field=field + ".quantity")
    if entry.get("uom") not in (None, "KGM"):
        raise ValidationError(_("Quantities are in kilograms here (uom KGM), not %(uom)s.", uom=str(entry["uom"])[:10]),
                              field=field + ".uom" if field else "uom")
    value = entry["quantity"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValidationError(_("The quantity must be more than zero."), field=field + ".quantity")
    return rules.kg(value)


def one_class(inc: Incoming, key: str = "quantityList", *, weighed: bool = True) -> tuple[Optional[Ref], Any, str]:
    """The single class and kilograms of an event about one batch: (identifier, kg, its field); the kilograms are
    None for an event that moves none (`weighed=False`: planting, tests, storage, withdrawal)."""
    entries = listed(inc.raw.get(key))
    if len(entries) != 1 or not isinstance(entries[0], dict):
        raise ValidationError(_("This event concerns one batch: give exactly one %(key)s entry.", key=key), field=key)
    kg = quantity(entries[0], f"{key}[0]") if weighed or entries[0].get("quantity") is not None else None
    return read_ref(entries[0].get("epcClass")), kg, f"{key}[0].epcClass"


def renamed(exc: DomainError, fields: dict[str, str], default: str) -> DomainError:
    """The refusal with its field named as the event names it: `fields` first, then data.x → gt:x, else
    `default` (the event's goods)."""
    name = exc.field or ""
    if name in fields:
        exc.field = fields[name]
    elif name.startswith("data."):
        exc.field = "gt:" + name[5:]
    elif name not in ("eventTime", "eventID", "certificationInfo") and not name.startswith(
            ("quantityList", "inputQuantityList", "outputQuantityList", "epcList", "childEPCs", "parentID",
             "readPoint", "bizLocation", "sourceList", "destinationList", "bizTransactionList", "sensorElementList",
             "gt:", "ilmd")):
        exc.field = default
    return exc


# Service fields every handler names the same way.
COMMON_FIELDS = {"occurred_at": "eventTime", "shipped_at": "eventTime", "received_at": "eventTime",
                 "rejected_at": "eventTime", "purchased_at": "eventTime", "stage": "bizStep", "location": "bizLocation.id",
                 "corrects_event_id": "gt:corrects", "correction_reason": "gt:correctionReason"}

"""Hand-over between parties (ship → receive or reject) and market purchases (收购).

Mass balance across owners: shipping takes the kilograms out of the sender's batch at once (an event
"shipping" in it); receiving makes a new batch of the receiver, linked to the shipped batch by a
`transfer` link, holding what arrived (never more than was shipped; the rest is a loss in transit),
and records the delivery in the sender's batch too; rejecting returns the kilograms to the sender's
batch. A purchase of a registered seller's batch is a shipment received at once; a purchase from an
unregistered farmer opens a batch whose origin is declared, not verified.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session, or_, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, DomainError, NotFound, Refused, ValidationError
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.registry.services import get_product, protected_towns
from gi_trace.tracing import recall as recalls
from gi_trace.tracing import origin as origins
from gi_trace.tracing import quality
from gi_trace.tracing import rules
from gi_trace.tracing.models import SHIPMENT_STATUSES, Batch, BatchLink, Event, Purchase, Shipment
from gi_trace.tracing.services.batches import _check_lot, _new_code, claim_code
from gi_trace.tracing.services.flags import raise_flag
from gi_trace.tracing.services.gates import require_authorised, require_not_recalled
from gi_trace.tracing.services.ledger import _append, _events, _flush, _op_time, _project, lock_batch, template_of
from gi_trace.tracing.services.lineage_ops import _inherit
from gi_trace.tracing.services.visibility import _get, _require_owner, _require_producer, batch_by_code
from gi_trace.types import utcnow

MAX_DOCUMENT_NO = 64
MAX_REASON = 1000
MAX_NAME = 200


# --- parties --------------------------------------------------------------------------------

def party_by_code(session: Session, code: Any, field: str) -> Producer:
    """A registered party by its USCC or registry number; a clear error naming the field otherwise."""
    if not isinstance(code, str) or not code.strip():
        raise ValidationError(_("Give the receiving party's credit code or registry number."), field=field)
    text = rules.no_nul(code, field).strip()
    party = session.exec(select(Producer).where(or_(Producer.uscc == text.upper(),
                                                    Producer.registry_no == text))).first()
    if party is None:
        raise ValidationError(_("No registered party has the code %(code)s.", code=text[:40]), field=field)
    return party


def _quantity(value: Any, field: str) -> float:
    amount = rules.kg(rules._number(value, field))
    if amount <= 0:
        raise ValidationError(_("The quantity must be more than zero."), field=field)
    return amount


def _optional_text(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(_("%(field)s must be text.", field=field), field=field)
    text = rules.no_nul(value, field).strip()
    if len(text) > limit:
        raise ValidationError(_("%(field)s is longer than %(n)s characters.", field=field, n=limit), field=field)
    return text


def _when(value: Any, field: str) -> tuple[datetime, int]:
    """A time given as ISO 8601 (now when empty), errors naming the field."""
    if value is None or value == "":
        return _op_time(None)
    return rules.parse_time(value, field)


def _check_time(when: datetime, previous: Optional[datetime], field: str) -> None:
    try:
        rules.check_time(when, utcnow(), previous)
    except Refused as exc:
        raise Refused(exc.message, field=field, code=exc.code) from None


def _origin_of(session: Session, batch: Batch) -> origins.Origin:
    return origins.origin_of(session, batch, protected_towns(session, batch.product_id))


# --- ship -------------------------------------------------------------------------------------

def ship(session: Session, user: User, batch: Batch, *, to: Any, quantity_kg: Any, shipped_at: Any = None,
         document_no: Any = None) -> Shipment:
    """Ship kilograms of the user's batch to another registered party; they leave the batch at once."""
    _require_owner(user, batch)
    receiver = party_by_code(session, to, "to")
    if receiver.id == batch.producer_id:
        raise ValidationError(_("You cannot ship to yourself; split the batch instead."), field="to")
    amount = _quantity(quantity_kg, "quantity_kg")
    document = _optional_text(document_no, "document_no", MAX_DOCUMENT_NO)
    when, offset = _when(shipped_at, "shipped_at")
    return _ship(session, user, batch, receiver, amount, when, offset, document)


def _ship(session: Session, user: User, batch: Batch, receiver: Producer, amount: float, when: datetime,
          offset: int, document: str, purchase_id: Optional[int] = None) -> Shipment:
    lock_batch(session, batch)
    if purchase_id is None:  # the owner ships: the one gate for moving goods (a purchase gates its buyer)
        require_authorised(session, batch.producer_id, session.get(Product, batch.product_id))
    if batch.is_withdrawn:
        raise Refused(_("Batch %(code)s has been withdrawn: it cannot be shipped.", code=batch.code),
                      field="batch", code="withdrawn")
    require_not_recalled(session, batch, field="batch")
    if batch.test_state == "failed" and _origin_of(session, batch).verified:
        raise Refused(_("Batch %(code)s failed its test (%(failures)s): it cannot be handed over as a GI product "
                        "until the failure is cleared.", code=batch.code,
                        failures="; ".join(quality.test_verdict(session, batch).failures)),
                      field="batch", code="test_failed")
    _check_time(when, batch.last_event_at, "shipped_at")
    events = _events(session, batch)
    available = _project(session, batch, events).available_kg
    if amount > available + rules.EPSILON_KG:
        raise Refused(_("Batch %(code)s holds %(available)s kg; it cannot give %(wanted)s kg.", code=batch.code,
                        available=available, wanted=amount), field="quantity_kg", code="quantity_from_nothing")
    sender = session.get(Producer, batch.producer_id)
    shipment = Shipment(batch_id=batch.id, from_party_id=batch.producer_id, to_party_id=receiver.id,
                        quantity_kg=amount, shipped_at=when, utc_offset_min=offset, document_no=document,
                        op_id=uuid.uuid4().hex, purchase_id=purchase_id, created_by=user.id)
    session.add(shipment)
    _flush(session)
    event = Event(batch_id=batch.id, seq=0, stage="shipping", occurred_at=when, utc_offset_min=offset,
                  quantity_kg=amount, recorded_by=user.id, recorded_at=utcnow(), hash="",
                  data={"role": "input", "shipment": shipment.id, "from": sender.code, "to": receiver.code,
                        **({"document_no": document} if document else {})})
    _append(session, batch, event, events)
    shipment.ship_event_id = event.id
    session.add(shipment)
    _flush(session)
    return shipment


# --- receive / reject -------------------------------------------------------------------------

def incoming(session: Session, user: User, shipment_id: Any) -> Shipment:
    """A shipment addressed to the user's party; any other is NotFound (its existence is not revealed)."""
    party_id = _require_producer(user)
    shipment = _get(session, Shipment, shipment_id)
    if shipment is None or shipment.to_party_id != party_id:
        raise NotFound(_("No such shipment."), field="shipment")
    return shipment


def _require_in_transit(shipment: Shipment) -> None:
    if shipment.status != "in_transit":
        said = (_("This shipment has already been received.") if shipment.status == "received"
                else _("This shipment has already been refused."))
        raise Conflict(said, field="shipment", code=f"already_{shipment.status}")


def receive(session: Session, user: User, shipment: Shipment, *, received_at: Any = None, quantity_kg: Any = None,
            producer_lot: Any = None, code: Optional[str] = None) -> Batch:
    """Accept a shipment: a new batch of the receiver holding what arrived, linked to the shipped batch (`code`: its
    trace code where a captured EPCIS document names it)."""
    party_id = _require_producer(user)
    if shipment.to_party_id != party_id:
        raise NotFound(_("No such shipment."), field="shipment")
    _require_in_transit(shipment)
    amount = shipment.quantity_kg if quantity_kg in (None, "") else _quantity(quantity_kg, "quantity_kg")
    if amount > shipment.quantity_kg + rules.EPSILON_KG:
        raise ValidationError(_("%(received)s kg cannot arrive when %(shipped)s kg were shipped.", received=amount,
                                shipped=shipment.quantity_kg), field="quantity_kg")
    when, offset = _when(received_at, "received_at")
    if when < shipment.shipped_at:
        raise ValidationError(_("The goods cannot arrive before they were shipped."), field="received_at")
    _check_time(when, None, "received_at")
    lot = producer_lot if producer_lot not in (None, "") else None
    return _receive(session, user, shipment, amount, when, offset, lot, code)


def _receive(session: Session, user: User, shipment: Shipment, amount: float, when: datetime, offset: int,
             producer_lot: Optional[str], code: Optional[str] = None) -> Batch:
    source = session.get(Batch, shipment.batch_id)
    lock_batch(session, source)
    session.refresh(shipment, with_for_update=True)
    _require_in_transit(shipment)
    product = session.get(Product, source.product_id)
    require_authorised(session, shipment.to_party_id, product)  # a new batch: the same gate as opening one
    template = template_of(product)
    sender = session.get(Producer, shipment.from_party_id)
    receiver = session.get(Producer, shipment.to_party_id)
    loss = rules.kg(shipment.quantity_kg - amount)
    lot = _check_lot(session, receiver.id, producer_lot)
    child = Batch(code=claim_code(session, code) if code else _new_code(session), producer_id=receiver.id,
                  product_id=source.product_id, kind="received",
                  unit=source.unit, cultivar=source.cultivar, product_form=source.product_form, producer_lot=lot,
                  created_by=user.id)
    origins.keep(child, origins.combine([_origin_of(session, source)]))
    session.add(child)
    _flush(session)
    inherited = _inherit(session, [source], template, "transfer")
    common = {"shipment": shipment.id, "from": sender.code, "to": receiver.code,
              **({"document_no": shipment.document_no} if shipment.document_no else {})}
    arrival = Event(batch_id=child.id, seq=0, stage="receiving", occurred_at=when, utc_offset_min=offset,
                    quantity_kg=amount, recorded_by=user.id, recorded_at=utcnow(), hash="",
                    data={"role": "output", "from_batch": source.code, "shipped_kg": shipment.quantity_kg,
                          "loss_kg": loss, "inherited": inherited, **common})
    _append(session, child, arrival, [])
    delivery = Event(batch_id=source.id, seq=0, stage="delivery", occurred_at=when, utc_offset_min=offset,
                     quantity_kg=None, recorded_by=user.id, recorded_at=utcnow(), hash="",
                     data={"role": "delivered", "to_batch": child.code, "received_kg": amount, "loss_kg": loss,
                           **common})
    _append(session, source, delivery)
    session.add(BatchLink(parent_id=source.id, child_id=child.id, quantity_kg=amount, kind="transfer",
                          event_id=arrival.id, parent_event_id=delivery.id))
    # Goods shipped before their batch was recalled arrive recalled: the new batch joins the recall.
    recalls.inherit(session, child, [source.id])
    shipment.status = "received"
    shipment.received_at = when
    shipment.received_kg = amount
    shipment.loss_kg = loss
    shipment.received_batch_id = child.id
    shipment.closed_by = user.id
    session.add(shipment)
    _flush(session)
    return child


def reject(session: Session, user: User, shipment: Shipment, *, reason: Any, rejected_at: Any = None) -> Shipment:
    """Refuse a shipment: its kilograms return to the sender's batch (an event in it)."""
    party_id = _require_producer(user)
    if shipment.to_party_id != party_id:
        raise NotFound(_("No such shipment."), field="shipment")
    _require_in_transit(shipment)
    text = _optional_text(reason, "reason", MAX_REASON)
    if not text:
        raise ValidationError(_("Give the reason for refusing the goods."), field="reason")
    when, offset = _when(rejected_at, "rejected_at")
    _check_time(when, None, "rejected_at")
    if when < shipment.shipped_at:
        raise ValidationError(_("The goods cannot be refused before they were shipped."), field="rejected_at")
    source = session.get(Batch, shipment.batch_id)
    lock_batch(session, source)
    session.refresh(shipment, with_for_update=True)
    _require_in_transit(shipment)
    receiver = session.get(Producer, shipment.to_party_id)
    event = Event(batch_id=source.id, seq=0, stage="return", occurred_at=max(when, source.last_event_at or when),
                  utc_offset_min=offset, quantity_kg=shipment.quantity_kg, recorded_by=user.id,
                  recorded_at=utcnow(), hash="",
                  data={"role": "return", "shipment": shipment.id, "to": receiver.code, "reason": text})
    _append(session, source, event)
    shipment.status = "rejected"
    shipment.rejected_at = when
    shipment.reject_reason = text
    shipment.closed_by = user.id
    session.add(shipment)
    _flush(session)
    return shipment


def shipments_of(session: Session, user: User, direction: str = "in", status: Optional[str] = None, *,
                 limit: int = 100, offset: int = 0) -> list[Shipment]:
    """The party's shipments, incoming or outgoing, newest first."""
    party_id = _require_producer(user)
    if direction not in ("in", "out"):
        raise ValidationError(_("direction must be in or out."), field="direction")
    if status not in (None, "", *SHIPMENT_STATUSES):
        raise ValidationError(_("status must be one of: %(states)s.", states=", ".join(SHIPMENT_STATUSES)),
                              field="status")
    column = Shipment.to_party_id if direction == "in" else Shipment.from_party_id
    query = select(Shipment).where(column == party_id)
    if status:
        query = query.where(Shipment.status == status)
    query = query.order_by(Shipment.shipped_at.desc(), Shipment.id.desc()).limit(limit).offset(offset)
    return list(session.exec(query).all())


# --- purchases ----------------------------------------------------------------------------------

@dataclass
class PurchaseInput:
    """What a dealer records for one purchase at the market."""

    quantity_kg: Any
    seller: Any = None  # a registered seller's USCC or registry number
    seller_name: Any = ""  # an unregistered farmer's name (personal information: never public)
    town_code: Any = None  # where the unregistered farmer says the goji grew
    purchased_at: Any = None
    source_batch: Any = None  # the seller's batch code, when its package carries one
    grade: Any = ""
    price_yuan_per_kg: Any = None
    product: Any = None  # product slug; default 中宁枸杞
    producer_lot: Any = None


@dataclass
class PurchaseResult:
    purchase: Purchase
    batch: Batch
    shipment: Optional[Shipment] = None


def purchase(session: Session, user: User, data: PurchaseInput, *, code: Optional[str] = None) -> PurchaseResult:
    """Record a purchase: a registered seller's batch gives kilograms as a shipment received at once; an
    unregistered seller's goods open a batch of declared, not verified, origin (`code`: the new batch's trace code
    where a captured EPCIS document names it)."""
    buyer_id = _require_producer(user)
    amount = _quantity(data.quantity_kg, "quantity_kg")
    when, offset = _when(data.purchased_at, "purchased_at")
    _check_time(when, None, "purchased_at")
    grade = _optional_text(data.grade, "grade", 16)
    price = None
    if data.price_yuan_per_kg not in (None, ""):
        price = rules._number(data.price_yuan_per_kg, "price_yuan_per_kg")
        if price < 0:
            raise ValidationError(_("The price cannot be negative."), field="price_yuan_per_kg")
    seller = None
    if data.seller not in (None, ""):
        seller = party_by_code(session, data.seller, "seller")
        if seller.id == buyer_id:
            raise ValidationError(_("You cannot buy from yourself."), field="seller")
    source = None
    if data.source_batch not in (None, ""):
        if not isinstance(data.source_batch, str):
            raise ValidationError(_("%(field)s must be text.", field="source_batch"), field="source_batch")
        try:
            source = batch_by_code(session, data.source_batch)
        except NotFound as exc:
            raise ValidationError(exc.message, field="source_batch") from None
        if seller is None:
            seller = session.get(Producer, source.producer_id)
        if source.producer_id != seller.id:
            raise ValidationError(_("Batch %(code)s does not belong to this seller.", code=source.code),
                                  field="source_batch")
        if seller.id == buyer_id:
            raise ValidationError(_("You cannot buy from yourself."), field="source_batch")
    name = _optional_text(data.seller_name, "seller_name", MAX_NAME)
    town = None
    if seller is None:
        if not name:
            raise ValidationError(_("Choose a registered seller, or give the farmer's name and town."),
                                  field="seller_name")
        town = _town(session, data.town_code)
    else:
        name = name or seller.name
        town = seller.town_code
    buyer = session.get(Producer, buyer_id)
    if source is not None:
        product = session.get(Product, source.product_id)
    else:
        slug = data.product if isinstance(data.product, str) and data.product else None
        product = get_product(session, slug) if slug else default_product(session)
    require_authorised(session, buyer_id, product)  # the purchase makes the buyer a batch: the one gate
    record = Purchase(buyer_id=buyer_id, seller_id=seller.id if seller else None, seller_name=name if seller is None
                      else "", town_code=town, quantity_kg=amount, grade=grade, price_yuan_per_kg=price,
                      purchased_at=when, utc_offset_min=offset, source_batch_id=source.id if source else None,
                      batch_id=0, created_by=user.id)
    if source is not None:
        # The seller's batch gives the kilograms: a shipment received at once, one transaction.
        record.batch_id = source.id  # provisional (NOT NULL); replaced by the received batch below
        session.add(record)
        _flush(session)
        try:
            shipment = _ship(session, user, source, buyer, amount, when, offset, "", purchase_id=record.id)
            batch = _receive(session, user, shipment, amount, when, offset,
                             data.producer_lot if data.producer_lot not in (None, "") else None, code)
        except DomainError as exc:
            if exc.field in ("shipped_at", "received_at"):
                exc.field = "purchased_at"  # the buyer gave one time: name its field
            raise
        record.batch_id = batch.id
        session.add(record)
        _flush(session)
        return PurchaseResult(record, batch, shipment)
    lot = _check_lot(session, buyer_id, data.producer_lot if data.producer_lot not in (None, "") else None)
    batch = Batch(code=claim_code(session, code) if code else _new_code(session), producer_id=buyer_id,
                  product_id=product.id, kind="purchased",
                  unit=product.unit or "kg", product_form=rules.DRIED, producer_lot=lot, created_by=user.id)
    batch.origin_state = origins.DECLARED
    session.add(batch)
    _flush(session)
    batch.origin_break_code = batch.code
    inherited = {"origin_town_code": town, "harvest_year": rules.local_time(when, offset).year,
                 "product_form": rules.DRIED}
    event = Event(batch_id=batch.id, seq=0, stage="purchase", occurred_at=when, utc_offset_min=offset,
                  location_town_code=None, quantity_kg=amount, recorded_by=user.id, recorded_at=utcnow(), hash="",
                  data={"role": "output", "origin": "declared", "declared_town_code": town,
                        "seller": seller.code if seller else None, "to": buyer.code, "inherited": inherited,
                        **({"grade": grade} if grade else {})})
    _append(session, batch, event, [])
    limit = rules.declared_purchase_limit(product.max_dried_yield_kg_per_mu)
    if limit is not None and amount > limit + rules.EPSILON_KG:  # recorded, never refused: a regulator checks
        raise_flag(session, batch, "declared_purchase_large", {
            "kg": amount, "area": rules.HOUSEHOLD_MAX_MU, "cap": product.max_dried_yield_kg_per_mu,
            "limit": limit}, event=event)
    record.batch_id = batch.id
    session.add(record)
    _flush(session)
    return PurchaseResult(record, batch, None)


def _town(session: Session, code: Any) -> str:
    if not isinstance(code, str) or not code.strip():
        raise ValidationError(_("Give the town the goji came from."), field="town_code")
    region = session.get(Region, code.strip())
    if region is None or region.level != "town":
        raise ValidationError(_("Unknown town code %(code)s.", code=code.strip()[:12]), field="town_code")
    return region.code


def default_product(session: Session) -> Product:
    """The product a purchase is of when none is named (the purchase form offers its grades)."""
    return get_product(session, GOJI_SLUG)

"""Batch tracing services: open batches, record stage events, split/merge/process, withdraw,
plausibility flags and the GI-label gate. Plain functions over a session; they add and flush,
never commit. Rules are in `tracing.rules`, the hash chain in `tracing.chain`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.authorisation import rules as auth_rules
from gi_trace.authorisation.services import status as authorisation_status
from gi_trace.errors import Conflict, Forbidden, NotFound, Refused, ValidationError
from gi_trace.registry.models import Plot, Producer, Product, Region, Trademark
from gi_trace.registry.reference import GENERIC_STAGES
from gi_trace.registry.services import protected_towns, require_regulator_scope
from gi_trace.timeutil import LOCAL_TZ, local_today
from gi_trace.tracing import chain, codes, rules
from gi_trace.tracing.models import (
    BATCH_KINDS,
    FLAG_KINDS,
    Batch,
    BatchLink,
    Event,
    PlausibilityFlag,
    ProductLine,
)
from gi_trace.types import utcnow

MAX_PARTS = 100
LINEAGE_STAGE = {"split": "split", "merge": "merge", "transform": "processing"}
CHILD_KIND = {"split": "lot", "merge": "merged", "transform": "processed"}


# --- lookups and who may see what ---------------------------------------------------------

def batch_by_code(session: Session, text: str) -> Batch:
    """The batch with this trace code; a malformed code is refused before any database lookup."""
    code = codes.parse(text or "")
    if code is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=(text or "")[:40]), field="code")
    batch = session.exec(select(Batch).where(Batch.code == code)).first()
    if batch is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=code), field="code")
    return batch


def can_see_batch(user: Optional[User], batch: Batch, producer: Optional[Producer] = None) -> bool:
    """Admins and city regulators see every batch, county regulators their county's, producers their own."""
    if user is None:
        return False
    if user.role == "admin":
        return True
    if user.role == "producer":
        return user.producer_id == batch.producer_id
    if user.role == "regulator":
        return user.county_code is None or (producer is not None and producer.county_code == user.county_code)
    return False


def visible_batch(session: Session, user: Optional[User], text: str) -> Batch:
    """A batch the user may see; another producer's batch is NotFound (its existence is not revealed)."""
    batch = batch_by_code(session, text)
    producer = session.get(Producer, batch.producer_id)
    if not can_see_batch(user, batch, producer):
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    return batch


def own_batch(session: Session, user: Optional[User], text: str) -> Batch:
    """A batch of the user's own business, for changes; any other batch is NotFound."""
    batch = batch_by_code(session, text)
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    return batch


MAX_ID = 2**31 - 1  # integer primary keys; a larger number overflows the database driver


def _get(session: Session, model, ident: Optional[int]):
    """session.get for an id from user input: None for anything that cannot be a row id."""
    if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident <= MAX_ID:
        return None
    return session.get(model, ident)


def _require_producer(user: Optional[User]) -> int:
    if user is None or user.role != "producer" or user.producer_id is None:
        raise Forbidden(_("Only a producer account can record batches."))
    return user.producer_id


def template_of(product: Product) -> list:
    """The product's stage template (a generic chain of custody when a product has none yet)."""
    return product.stage_template or GENERIC_STAGES


# --- authorisation ------------------------------------------------------------------------

def authorisation_refusal(status: auth_rules.Status, product: Product) -> Optional[str]:
    """Why a producer may not use the product's GI mark on a status, or None when it may."""
    name = product.name_zh
    since = status.since.isoformat() if status.since else ""
    if status.state == auth_rules.AUTHORISED:
        return None
    if status.state == auth_rules.SUSPENDED:
        return _("Your authorisation to use the %(product)s GI mark is suspended since %(since)s: %(reason)s",
                 product=name, since=since, reason=status.reason or "-")
    if status.state == auth_rules.REVOKED:
        return _("Your authorisation to use the %(product)s GI mark was revoked on %(since)s: %(reason)s",
                 product=name, since=since, reason=status.reason or "-")
    if status.state == auth_rules.EXPIRED:
        until = status.valid_until.isoformat() if status.valid_until else since
        return _("Your authorisation to use the %(product)s GI mark expired after %(until)s; apply to renew it.",
                 product=name, until=until)
    if status.state == auth_rules.PENDING:
        return _("Your application to use the %(product)s GI mark (%(since)s) is still pending.",
                 product=name, since=since)
    if status.state == auth_rules.REJECTED:
        return _("Your application to use the %(product)s GI mark was rejected on %(since)s.",
                 product=name, since=since)
    return _("Your business has not applied for authorisation to use the %(product)s GI mark.", product=name)


def require_authorised(session: Session, producer_id: int, product: Product, on: Optional[date] = None) -> None:
    """Refused, naming the reason, unless the producer's authorisation is in force (today by default)."""
    status = authorisation_status(session, producer_id, product.id, on or local_today())
    reason = authorisation_refusal(status, product)
    if reason:
        raise Refused(reason, field="product", code=f"authorisation_{status.state}")


# --- opening a batch ----------------------------------------------------------------------

@dataclass
class BatchInput:
    """What a producer gives to open a harvest batch."""

    product_slug: str = ""
    cultivar: str = ""
    trademark_id: Optional[int] = None
    producer_lot: Optional[str] = None
    product_line_id: Optional[int] = None
    quantity_kg: Optional[float] = None


def _new_code(session: Session) -> str:
    for _attempt in range(5):
        code = codes.new_code()
        if session.exec(select(Batch.id).where(Batch.code == code)).first() is None:
            return code
    raise Conflict(_("Could not find a free trace code; try again."))  # pragma: no cover - 64 random bits


def _check_lot(session: Session, producer_id: int, lot: Optional[str]) -> Optional[str]:
    if lot is None:
        return None
    if not isinstance(lot, str) or len(lot.strip()) > 40:
        raise ValidationError(_("The lot number must be text of at most 40 characters."), field="producer_lot")
    lot = rules.no_nul(lot, "producer_lot").strip() or None
    if lot and session.exec(select(Batch.id).where(Batch.producer_id == producer_id,
                                                   Batch.producer_lot == lot)).first():
        raise Conflict(_("You already have a batch with lot number %(lot)s.", lot=lot), field="producer_lot")
    return lot


def open_batch(session: Session, user: User, product: Product, data: BatchInput) -> Batch:
    """Open a harvest batch for the user's business; only while its authorisation is in force."""
    producer_id = _require_producer(user)
    require_authorised(session, producer_id, product)
    if data.quantity_kg:
        raise Refused(_("A new batch holds nothing yet: its quantity comes from the harvests recorded on it, or "
                        "from the batches it is split, merged or processed from (no quantity from nothing)."),
                      field="quantity_kg", code="quantity_from_nothing")
    trademark_name = ""
    if data.trademark_id is not None:
        trademark = _get(session, Trademark, data.trademark_id)
        if trademark is None or trademark.producer_id != producer_id:
            raise ValidationError(_("Choose one of your own registered trademarks."), field="trademark_id")
        trademark_name = trademark.name
    if data.product_line_id is not None:
        line = _get(session, ProductLine, data.product_line_id)
        if line is None or line.producer_id != producer_id or line.product_id != product.id:
            raise ValidationError(_("Choose one of your own product lines of this product."), field="product_line_id")
    if not isinstance(data.cultivar, str) or len(data.cultivar) > 64:
        raise ValidationError(_("The cultivar must be text of at most 64 characters."), field="cultivar")
    rules.no_nul(data.cultivar, "cultivar")
    batch = Batch(
        code=_new_code(session), producer_id=producer_id, product_id=product.id, kind="harvest",
        unit=product.unit or "kg", cultivar=data.cultivar.strip(), trademark_id=data.trademark_id,
        trademark_name=trademark_name, product_form=rules.FRESH,
        producer_lot=_check_lot(session, producer_id, data.producer_lot), product_line_id=data.product_line_id,
        created_by=user.id,
    )
    session.add(batch)
    _flush(session)
    return batch


# --- recording events ---------------------------------------------------------------------

def _flush(session: Session) -> None:
    try:
        session.flush()
    except (IntegrityError, OperationalError):
        # A lost race: another writer took the next sequence number (UNIQUE(batch_id, seq)), or SQLite's
        # snapshot went stale. The caller's transaction is spoilt; the request (or CLI scope) rolls it back.
        raise Conflict(_("The batch was changed by someone else at the same time; please try again.")) from None


def lock_batch(session: Session, batch: Batch) -> Batch:
    """Re-read the batch holding its row lock (PostgreSQL), so its chain grows one event at a time."""
    session.flush()
    session.refresh(batch, with_for_update=True)
    return batch


def parse_location(session: Session, location: Any) -> tuple[Optional[str], str]:
    """A location given as a town code, a named place, or {"town_code", "name"}."""
    if location is None or location == "":
        return None, ""
    town, name = None, ""
    if isinstance(location, str):
        text = location.strip()
        if text.isdigit():
            town = text
        else:
            name = text
    elif isinstance(location, dict):
        town = location.get("town_code") or None
        name = location.get("name") or ""
        if (town is not None and not isinstance(town, str)) or not isinstance(name, str):
            raise ValidationError(_("location must be a town code, a place name or {town_code, name}."),
                                  field="location")
    else:
        raise ValidationError(_("location must be a town code, a place name or {town_code, name}."), field="location")
    rules.no_nul(name, "location")
    if town is not None:
        rules.no_nul(town, "location")
    if len(name) > 200:
        raise ValidationError(_("The place name is longer than 200 characters."), field="location")
    if town is not None:
        region = session.get(Region, town)
        if region is None or region.level != "town":
            raise ValidationError(_("Unknown town code %(code)s.", code=town), field="location")
    return town, name.strip()


def _project(session: Session, batch: Batch, events: list) -> rules.Projection:
    product = session.get(Product, batch.product_id)
    return rules.project(events, template=template_of(product), grade_scale=product.grade_scale,
                         max_moisture_pct=product.max_moisture_pct, initial_form=rules.FRESH,
                         batch_code=batch.code)


def _events(session: Session, batch: Batch) -> list[Event]:
    return list(session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all())


def _apply(batch: Batch, p: rules.Projection) -> None:
    batch.quantity_kg = p.quantity_kg
    batch.out_kg = p.out_kg
    batch.stage = p.stage
    batch.product_form = p.product_form
    batch.test_state = p.test_state
    batch.tested_at = p.tested_at
    batch.grains_per_50g = p.grains_per_50g
    batch.grade = p.grade
    batch.origin_town_code = p.origin_town_code
    batch.harvest_year = p.harvest_year
    batch.withdrawn_at = p.withdrawn_at
    batch.withdrawn_reason = p.withdrawn_reason
    if p.last_occurred_at is not None:
        batch.last_event_at = p.last_occurred_at


def _append(session: Session, batch: Batch, event: Event, events: Optional[list] = None) -> Event:
    """Check the batch's projection with the new event, then chain and store it."""
    existing = events if events is not None else _events(session, batch)
    event.seq = batch.event_count + 1  # provisional, for the projection's ordering
    projection = _project(session, batch, existing + [event])
    chain.append(session, batch, event)
    if batch.first_event_at is None or event.occurred_at < batch.first_event_at:
        batch.first_event_at = event.occurred_at
    _apply(batch, projection)
    session.add(batch)
    _flush(session)
    return event


@dataclass
class EventInput:
    """A stage event as given by the portal or the API."""

    stage: str
    occurred_at: Any
    quantity_kg: Optional[float] = None
    location: Any = None
    data: Any = None
    corrects_event_id: Optional[int] = None
    correction_reason: str = ""


def record_event(session: Session, user: User, batch: Batch, data: EventInput) -> Event:
    """Record one stage event after every refusal rule; raise the plausibility flags it deserves.

    A processing event turns the batch into new processed batches (see `transform`); its result is
    the batch's own "input" event.
    """
    _require_owner(user, batch)
    if batch.is_withdrawn:
        raise Refused(_("Batch %(code)s has been withdrawn; nothing more can be recorded on it.", code=batch.code),
                      code="withdrawn")
    if not isinstance(data.stage, str) or not data.stage:
        raise ValidationError(_("stage is required."), field="stage")
    product = session.get(Product, batch.product_id)
    template = template_of(product)
    occurred_at, offset = rules.parse_time(data.occurred_at)
    town, place = parse_location(session, data.location)
    lock_batch(session, batch)
    events = _events(session, batch)

    corrected: Optional[Event] = None
    if data.corrects_event_id is not None:
        corrected = _correction_target(batch, events, data)
        spec = rules.stage_map(template).get(corrected.stage)
        rules.check_time(occurred_at, utcnow(), None)
    else:
        if data.stage in ("split", "merge", "withdrawal"):
            raise ValidationError(_("Use the split, merge or withdraw operation for %(stage)s.", stage=data.stage),
                                  field="stage")
        current = _projection_before(session, batch, events)
        spec = rules.check_stage(template, batch.kind, current.stage, current.recorded_stages, data.stage)
        rules.check_time(occurred_at, utcnow(), batch.last_event_at)
    cleaned, quantity = rules.clean_data(spec, data.data, data.quantity_kg)

    if data.stage == "processing":
        if corrected is not None:
            raise Refused(_("A processing step cannot be corrected; record a new event instead."), field="stage")
        input_kg = cleaned.pop("input_kg", None)
        outputs = cleaned.pop("outputs")
        result = transform(session, user, [(batch, input_kg)], outputs, occurred_at=occurred_at, offset_min=offset,
                           location=(town, place), extra=cleaned)
        return result.input_events[0]

    if data.stage == "drying" and cleaned.get("fresh_kg_in") is None:
        # Record the fresh weight that went in as a fact, not as a default left implicit.
        target_seq = corrected.seq if corrected is not None else None
        before = [e for e in events if target_seq is None or e.seq < target_seq]
        cleaned["fresh_kg_in"] = _project(session, batch, before).quantity_kg
    plot: Optional[Plot] = None
    if data.stage in ("planting", "harvest"):
        plot = _own_protected_plot(session, batch, product, cleaned.get("plot_id"))
        town = plot.town_code
        if not batch.cultivar and (cleaned.get("cultivar") or plot.cultivar):
            batch.cultivar = cleaned.get("cultivar") or plot.cultivar
    event = Event(
        batch_id=batch.id, seq=0, stage=data.stage, occurred_at=occurred_at, utc_offset_min=offset,
        location_town_code=town, location_name=place, quantity_kg=quantity, data=cleaned,
        recorded_by=user.id, recorded_at=utcnow(), hash="",
        corrects_event_id=corrected.id if corrected else None,
        correction_reason=(data.correction_reason or "").strip(),
    )
    _append(session, batch, event, events)
    for flag in plausibility(session, batch, product, event):
        raise_flag(session, batch, flag.kind, flag.params, event=event)
    return event


def _projection_before(session: Session, batch: Batch, events: list) -> rules.Projection:
    return _project(session, batch, events)


def _correction_target(batch: Batch, events: list[Event], data: EventInput) -> Event:
    target = next((e for e in events if e.id == data.corrects_event_id), None)
    if target is None:
        raise ValidationError(_("Event %(id)s is not an event of this batch.", id=data.corrects_event_id),
                              field="corrects_event_id")
    if not isinstance(data.correction_reason, str) or not data.correction_reason.strip():
        raise ValidationError(_("Say why the event is corrected."), field="correction_reason")
    rules.no_nul(data.correction_reason, "correction_reason")
    if len(data.correction_reason) > 1000:
        raise ValidationError(_("The reason is longer than 1000 characters."), field="correction_reason")
    if (target.data or {}).get("role") or target.stage in ("split", "merge", "withdrawal", "processing"):
        raise Refused(_("Split, merge, processing and withdrawal records cannot be corrected."),
                      field="corrects_event_id")
    if target.stage != data.stage:
        raise ValidationError(_("A correction keeps the stage of the event it corrects (%(stage)s).",
                                stage=target.stage), field="stage")
    return target


def _own_protected_plot(session: Session, batch: Batch, product: Product, plot_id: Optional[int]) -> Plot:
    plot = _get(session, Plot, plot_id)
    if plot is None or plot.producer_id != batch.producer_id:
        raise ValidationError(_("Choose one of your own registered plots."), field="data.plot_id")
    if plot.town_code not in protected_towns(session, product.id):
        raise Refused(_("Plot %(plot)s lies in town %(town)s, outside the protected area of %(product)s.",
                        plot=plot.name or plot.id, town=plot.town_code, product=product.name_zh),
                      field="data.plot_id", code="outside_protected_area")
    return plot


def _require_owner(user: Optional[User], batch: Batch) -> None:
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")


# --- plausibility -------------------------------------------------------------------------

def plausibility(session: Session, batch: Batch, product: Product, event: Event) -> list[rules.FlagSpec]:
    """The flags an event deserves (以地定产、以产核标); recorded, never refused."""
    flags: list[rules.FlagSpec] = []
    data = event.data or {}
    if event.stage == "harvest":
        day = event.occurred_at.astimezone(LOCAL_TZ).date()
        if not rules.in_season(day, product.season_start_mmdd, product.season_end_mmdd):
            flags.append(rules.FlagSpec("out_of_season", rules.FLAG_MESSAGES["out_of_season"], {
                "day": day.isoformat(), "start": product.season_start_mmdd, "end": product.season_end_mmdd}))
        fresh = season_harvest_kg(session, batch.producer_id, product.id, day.year)
        dried = rules.kg(rules.dried_equivalent(fresh, product.fresh_dried_ratio_max))
        area = producer_area_mu(session, batch.producer_id, product.id)
        if rules.yield_over_cap(dried, area, product.max_dried_yield_kg_per_mu):
            flags.append(rules.FlagSpec("yield_over_cap", rules.FLAG_MESSAGES["yield_over_cap"], {
                "year": day.year, "dried": dried, "area": round(area, 2), "cap": product.max_dried_yield_kg_per_mu,
                "limit": rules.kg(area * product.max_dried_yield_kg_per_mu)}))
    elif event.stage == "drying":
        fresh = data.get("fresh_kg_in")
        if fresh is None:
            fresh = _fresh_before_drying(session, batch, event)
        dried = data["dried_kg_out"]
        if rules.ratio_outside_band(fresh, dried, product.fresh_dried_ratio_min, product.fresh_dried_ratio_max):
            flags.append(rules.FlagSpec("drying_ratio", rules.FLAG_MESSAGES["drying_ratio"], {
                "ratio": round(fresh / dried, 2), "low": product.fresh_dried_ratio_min,
                "high": product.fresh_dried_ratio_max}))
    return flags


def _fresh_before_drying(session: Session, batch: Batch, event: Event) -> float:
    events = [e for e in _events(session, batch) if e.seq < event.seq]
    return _project(session, batch, events).quantity_kg


def season_harvest_kg(session: Session, producer_id: int, product_id: int, year: int) -> float:
    """Fresh kilograms a producer harvested of a product in a (local) year, corrections applied."""
    start = datetime(year, 1, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)
    corrected = select(Event.corrects_event_id).where(Event.corrects_event_id.is_not(None))
    total = session.exec(
        select(func.coalesce(func.sum(Event.quantity_kg), 0.0))
        .join(Batch, Batch.id == Event.batch_id)
        .where(Batch.producer_id == producer_id, Batch.product_id == product_id, Event.stage == "harvest",
               Event.occurred_at >= start, Event.occurred_at < end, Event.id.not_in(corrected))
    ).one()
    return float(total or 0.0)


def producer_area_mu(session: Session, producer_id: int, product_id: int) -> float:
    """Planted area (亩) of the producer's plots inside the product's protected area."""
    towns = protected_towns(session, product_id)
    rows = session.exec(select(Plot.town_code, Plot.area_mu).where(Plot.producer_id == producer_id)).all()
    return float(sum(area for town, area in rows if town in towns))


def raise_flag(session: Session, batch: Batch, kind: str, params: dict, *, event: Optional[Event] = None,
               message: Optional[str] = None) -> Optional[PlausibilityFlag]:
    """Record a plausibility flag for regulators; the batch shows "under review" while it is open.

    Does nothing (returns None) when the same kind is already open on the batch.
    """
    if kind not in FLAG_KINDS:
        raise ValueError(f"unknown flag kind {kind!r}")
    existing = session.exec(select(PlausibilityFlag.id).where(PlausibilityFlag.batch_id == batch.id,
                                                              PlausibilityFlag.kind == kind,
                                                              PlausibilityFlag.status == "open")).first()
    if existing is not None:
        return None
    template = message or rules.FLAG_MESSAGES[kind]
    try:
        english = template % params
    except (KeyError, TypeError, ValueError):
        english = template
    flag = PlausibilityFlag(batch_id=batch.id, event_id=event.id if event else None, producer_id=batch.producer_id,
                            kind=kind, message=english[:1000], params=params)
    session.add(flag)
    batch.open_flags += 1
    session.add(batch)
    session.flush()
    return flag


def check_label_quantity(session: Session, batch: Batch, units: int,
                         package_kg: Optional[float]) -> Optional[PlausibilityFlag]:
    """以产核标: flag the batch when `units` packages of `package_kg` exceed what it holds."""
    if rules.labels_over_quantity(units, package_kg, batch.quantity_kg):
        return raise_flag(session, batch, "labels_over_quantity", {
            "units": units, "package": package_kg, "quantity": batch.quantity_kg})
    return None


def reviewable_flag(session: Session, user: User, flag_id: int) -> PlausibilityFlag:
    """A flag the regulator may review (NotFound, or Forbidden for another county's)."""
    flag = _get(session, PlausibilityFlag, flag_id)
    if flag is None:
        raise NotFound(_("No such flag."), field="flag")
    producer = session.get(Producer, flag.producer_id)
    require_regulator_scope(user, producer.county_code)
    return flag


def review_flag(session: Session, user: User, flag_id: int, outcome: str, note: str = "") -> PlausibilityFlag:
    """A regulator closes a flag as cleared (plausible after all) or confirmed (a finding)."""
    flag = reviewable_flag(session, user, flag_id)
    if outcome not in ("cleared", "confirmed"):
        raise ValidationError(_("The outcome must be cleared or confirmed."), field="outcome")
    if flag.status != "open":
        raise Conflict(_("This flag has already been reviewed."), field="flag")
    flag.status = outcome
    flag.review_outcome = outcome
    flag.review_note = rules.no_nul(note or "", "note").strip()[:2000]
    flag.reviewed_by = user.id
    flag.reviewed_at = utcnow()
    batch = session.get(Batch, flag.batch_id)
    batch.open_flags = max(0, batch.open_flags - 1)
    session.add_all([flag, batch])
    session.flush()
    return flag


def flags_for(session: Session, user: User, status: str = "open", limit: int = 100,
              offset: int = 0) -> list[PlausibilityFlag]:
    """Plausibility flags a regulator may review (county regulators: their county), oldest first."""
    if user.role not in ("regulator", "admin"):
        raise Forbidden(_("Only regulators can do this."))
    if status not in ("open", "cleared", "confirmed", "all"):
        raise ValidationError(_("The status must be open, cleared, confirmed or all."), field="status")
    query = select(PlausibilityFlag)
    if status != "all":
        query = query.where(PlausibilityFlag.status == status)
    if user.role == "regulator" and user.county_code:
        query = query.join(Producer, Producer.id == PlausibilityFlag.producer_id).where(
            Producer.county_code == user.county_code)
    return list(session.exec(query.order_by(PlausibilityFlag.raised_at, PlausibilityFlag.id)
                             .limit(limit).offset(offset)).all())


def open_flags(session: Session, batch: Batch) -> list[PlausibilityFlag]:
    return list(session.exec(select(PlausibilityFlag).where(PlausibilityFlag.batch_id == batch.id,
                                                            PlausibilityFlag.status == "open")
                             .order_by(PlausibilityFlag.id)).all())


# --- the GI-label gate --------------------------------------------------------------------

@dataclass(frozen=True)
class LabelPermission:
    """Whether a batch may carry the GI label now, and why not."""

    allowed: bool
    code: str  # ok, withdrawn, not_authorised, test_failed, untested
    reason: str = ""


def label_allowed(session: Session, batch: Batch) -> LabelPermission:
    """No unit codes, label sheets or "passed" page unless the latest test passed, the batch is not
    withdrawn and the producer's authorisation is in force today."""
    if batch.is_withdrawn:
        return LabelPermission(False, "withdrawn", _("The batch has been withdrawn: %(reason)s",
                                                     reason=batch.withdrawn_reason or "-"))
    product = session.get(Product, batch.product_id)
    status = authorisation_status(session, batch.producer_id, product.id, local_today())
    refusal = authorisation_refusal(status, product)
    if refusal:
        return LabelPermission(False, "not_authorised", refusal)
    if batch.test_state == "failed":
        return LabelPermission(False, "test_failed", _("The latest test of this batch failed; it may not carry the GI "
                                                       "label until a later test passes."))
    if batch.test_state != "passed":
        return LabelPermission(False, "untested", _("No passing test (合格证) has been recorded for this batch yet."))
    return LabelPermission(True, "ok")


def require_label_allowed(session: Session, batch: Batch) -> None:
    """Refused with the reason unless the batch may carry the GI label."""
    permission = label_allowed(session, batch)
    if not permission.allowed:
        raise Refused(permission.reason, code=f"label_{permission.code}")


# --- lineage operations -------------------------------------------------------------------

@dataclass
class LineageResult:
    children: list[Batch]
    input_events: list[Event]
    output_events: list[Event]
    links: list[BatchLink]


def _lineage(session: Session, user: User, kind: str, inputs: list[tuple[Batch, float]], outputs: list[dict], *,
             occurred_at: datetime, offset_min: int, location: tuple[Optional[str], str],
             extra: Optional[dict] = None) -> LineageResult:
    """Move kilograms from input batches into new child batches, one event in every batch touched."""
    producer_id = _require_producer(user)
    now = utcnow()
    for batch, _kg in inputs:
        _require_owner(user, batch)
    locked = sorted({b.id: b for b, _kg in inputs}.values(), key=lambda b: b.id)  # one lock order: no deadlocks
    if len(locked) != len(inputs):
        raise ValidationError(_("A batch is listed twice."), field="inputs")
    for batch in locked:
        lock_batch(session, batch)
    products = {b.product_id for b, _kg in inputs}
    if len(products) > 1:
        raise Refused(_("Batches of different products cannot be combined."), field="inputs")
    product = session.get(Product, products.pop())
    template = template_of(product)
    if kind == "merge" and len({b.product_form for b, _kg in inputs}) > 1:
        raise Refused(_("Batches of different forms (fresh and dried) cannot be merged; dry them first."),
                      field="inputs")
    before: dict[int, tuple[list, rules.Projection]] = {}
    for batch, _kg in inputs:
        if batch.is_withdrawn:
            raise Refused(_("Batch %(code)s has been withdrawn.", code=batch.code), field="inputs", code="withdrawn")
        rules.check_time(occurred_at, now, batch.last_event_at)
        events = _events(session, batch)
        before[batch.id] = (events, _project(session, batch, events))
    if kind == "transform":
        for batch, _kg in inputs:
            position = before[batch.id][1]
            rules.check_stage(template, batch.kind, position.stage, position.recorded_stages, "processing")
    taken: list[tuple[Batch, float]] = []
    for batch, wanted in inputs:
        available = before[batch.id][1].available_kg
        amount = available if wanted is None else rules.kg(wanted)
        rules.check_outflow(available, amount, batch.code)
        taken.append((batch, amount))
    total_in = rules.kg(sum(a for _b, a in taken))
    total_out = rules.kg(sum(o["quantity_kg"] for o in outputs))
    if kind in ("split", "merge") and total_out > total_in + rules.EPSILON_KG:
        raise Refused(_("The parts (%(out)s kg) exceed what is taken (%(in)s kg).", out=total_out, **{"in": total_in}),
                      field="parts", code="quantity_from_nothing")
    if kind == "transform" and total_out > total_in + rules.EPSILON_KG:
        raise Refused(_("Processing cannot make more (%(out)s kg) than goes in (%(in)s kg).", out=total_out,
                        **{"in": total_in}), field="data.outputs", code="quantity_from_nothing")

    op_id = uuid.uuid4().hex
    stage = LINEAGE_STAGE[kind]
    town, place = location
    parents = [b for b, _a in taken]
    inherited = _inherit(session, parents, template, kind)
    children: list[Batch] = []
    for out in outputs:
        lot = _check_lot(session, producer_id, out.get("producer_lot"))
        form = out.get("product_form") or (extra or {}).get("product_form") if kind == "transform" else None
        child = Batch(
            code=_new_code(session), producer_id=producer_id, product_id=product.id, kind=CHILD_KIND[kind],
            unit=product.unit or "kg", cultivar=_common(p.cultivar for p in parents),
            trademark_id=parents[0].trademark_id, trademark_name=parents[0].trademark_name,
            product_form=form or parents[0].product_form, producer_lot=lot,
            product_line_id=parents[0].product_line_id if kind != "transform" else None, created_by=user.id,
        )
        session.add(child)
        children.append(child)
    _flush(session)

    input_events = []
    for batch, amount in taken:
        event = Event(batch_id=batch.id, seq=0, stage=stage, occurred_at=occurred_at, utc_offset_min=offset_min,
                      location_town_code=town, location_name=place, quantity_kg=amount,
                      data={"role": "input", "to": [c.code for c in children], **(extra or {})},
                      op_id=op_id, recorded_by=user.id, recorded_at=utcnow(), hash="")
        input_events.append(_append(session, batch, event, before[batch.id][0]))
    output_events, links = [], []
    for child, out in zip(children, outputs):
        share = out["quantity_kg"] / total_out if total_out else 0
        sources = [{"code": b.code, "quantity_kg": rules.kg(a * share) if kind == "transform" else (
            rules.kg(a) if kind == "merge" else out["quantity_kg"])} for b, a in taken]
        data = {"role": "output", "from": sources, "inherited": inherited, **(extra or {})}
        if kind == "transform":
            data["product_form"] = child.product_form
        event = Event(batch_id=child.id, seq=0, stage=stage, occurred_at=occurred_at, utc_offset_min=offset_min,
                      location_town_code=town, location_name=place, quantity_kg=out["quantity_kg"], data=data,
                      op_id=op_id, recorded_by=user.id, recorded_at=utcnow(), hash="")
        _append(session, child, event, [])
        output_events.append(event)
        for (parent, _a), source, parent_event in zip(taken, sources, input_events):
            link = BatchLink(parent_id=parent.id, child_id=child.id, quantity_kg=source["quantity_kg"],
                             kind=kind if kind != "transform" else "transform", event_id=event.id,
                             parent_event_id=parent_event.id)
            session.add(link)
            links.append(link)
    _flush(session)
    return LineageResult(children, input_events, output_events, links)


def _common(values) -> str:
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else ""


def _inherit(session: Session, parents: list[Batch], template: list, kind: str) -> dict:
    """What a made batch takes over from its parents: position, test state, grade, origin."""
    states = {p.test_state for p in parents}
    test_state = "failed" if "failed" in states else ("passed" if states == {"passed"} else "untested")
    worst = None
    if all(p.grains_per_50g is not None for p in parents):
        worst = max(parents, key=lambda p: p.grains_per_50g)
    towns = {p.origin_town_code for p in parents}
    years = [p.harvest_year for p in parents if p.harvest_year]
    tested = [p.tested_at for p in parents if p.tested_at]
    return {
        "stage": rules.earliest_stage(template, [p.stage for p in parents]),
        "test_state": test_state,
        "tested_at": min(tested).isoformat() if tested and test_state == "passed" else None,
        "grains_per_50g": worst.grains_per_50g if worst else None,
        "grade": worst.grade if worst else None,
        "origin_town_code": towns.pop() if len(towns) == 1 else None,
        "harvest_year": min(years) if years else None,
        "product_form": parents[0].product_form,
    }


def _op_time(occurred_at: Any) -> tuple[datetime, int]:
    if occurred_at is None or occurred_at == "":
        now = utcnow()
        return now, int(now.astimezone(LOCAL_TZ).utcoffset() / timedelta(minutes=1))
    return rules.parse_time(occurred_at)


def _parts(parts: Any, name: str) -> list[dict]:
    if not isinstance(parts, list) or not parts or len(parts) > MAX_PARTS:
        raise ValidationError(_("Give between 1 and %(n)s parts.", n=MAX_PARTS), field=name)
    return rules._outputs(parts, name)


def split(session: Session, user: User, batch: Batch, parts: Any, *, occurred_at: Any = None,
          location: Any = None) -> LineageResult:
    """Split a batch into parts (e.g. packing lots): [{quantity_kg, producer_lot?}]."""
    _require_owner(user, batch)
    cleaned = _parts(parts, "parts")
    when, offset = _op_time(occurred_at)
    total = rules.kg(sum(p["quantity_kg"] for p in cleaned))
    return _lineage(session, user, "split", [(batch, total)], cleaned, occurred_at=when, offset_min=offset,
                    location=parse_location(session, location))


def merge(session: Session, user: User, inputs: list[tuple[Batch, Optional[float]]], *, occurred_at: Any = None,
          location: Any = None, producer_lot: Optional[str] = None) -> LineageResult:
    """Merge several batches (all they hold, or the kg given for each) into one new batch."""
    if len(inputs) < 2:
        raise ValidationError(_("A merge needs at least two batches."), field="inputs")
    if len(inputs) > MAX_PARTS:
        raise ValidationError(_("Give between 1 and %(n)s parts.", n=MAX_PARTS), field="inputs")
    for batch, _kg in inputs:
        _require_owner(user, batch)
    when, offset = _op_time(occurred_at)
    amounts = []
    for batch, wanted in inputs:
        if wanted is not None:
            wanted = rules.kg(rules._number(wanted, "inputs.quantity_kg"))
            if wanted <= 0:
                raise ValidationError(_("The quantity must be more than zero."), field="inputs.quantity_kg")
        amounts.append(wanted if wanted is not None else batch.available_kg)
    total = rules.kg(sum(amounts))
    if total <= 0:
        raise Refused(_("The batches to merge hold nothing."), field="inputs", code="quantity_from_nothing")
    output = {"quantity_kg": total}
    if producer_lot:
        output["producer_lot"] = producer_lot
    return _lineage(session, user, "merge", list(zip([b for b, _k in inputs], amounts)), [output],
                    occurred_at=when, offset_min=offset, location=parse_location(session, location))


def transform(session: Session, user: User, inputs: list[tuple[Batch, Optional[float]]], outputs: Any, *,
              occurred_at: Any = None, offset_min: Optional[int] = None, location: Any = None,
              extra: Optional[dict] = None) -> LineageResult:
    """Processing: inputs (kg of each, default all) become new processed batches (outputs <= inputs)."""
    for batch, _kg in inputs:
        _require_owner(user, batch)
    if not inputs:
        raise ValidationError(_("Processing needs at least one input batch."), field="inputs")
    cleaned = rules._outputs(outputs, "data.outputs")
    if isinstance(occurred_at, datetime) and offset_min is not None:
        when, offset = occurred_at, offset_min
    else:
        when, offset = _op_time(occurred_at)
    loc = location if isinstance(location, tuple) else parse_location(session, location)
    extra = dict(extra or {})
    if not extra.get("product_form"):
        forms = {o.get("product_form") for o in cleaned}
        if None in forms:
            raise ValidationError(_("Product form is required (data.product_form)."), field="data.product_form")
    return _lineage(session, user, "transform", inputs, cleaned, occurred_at=when, offset_min=offset,
                    location=loc, extra=extra)


# --- withdrawal ---------------------------------------------------------------------------

def withdraw(session: Session, user: User, batch: Batch, reason: str, *, occurred_at: Any = None) -> Event:
    """Withdraw a batch (its owner, or a regulator in scope): recorded as an event, never a delete."""
    producer = session.get(Producer, batch.producer_id)
    if user is None:
        raise Forbidden(_("Please log in."))
    if user.role == "producer":
        _require_owner(user, batch)
    else:
        if not can_see_batch(user, batch, producer):
            raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
        require_regulator_scope(user, producer.county_code)
    reason = rules.no_nul(reason, "reason").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError(_("Give the reason for withdrawing the batch."), field="reason")
    if len(reason) > 1000:
        raise ValidationError(_("The reason is longer than 1000 characters."), field="reason")
    if batch.is_withdrawn:
        raise Conflict(_("Batch %(code)s has already been withdrawn.", code=batch.code))
    when, offset = _op_time(occurred_at)
    lock_batch(session, batch)
    rules.check_time(when, utcnow(), None)
    event = Event(batch_id=batch.id, seq=0, stage="withdrawal", occurred_at=when, utc_offset_min=offset,
                  data={"reason": reason, "by_role": user.role}, recorded_by=user.id, recorded_at=utcnow(), hash="")
    _append(session, batch, event)
    batch.withdrawn_by = user.id
    session.add(batch)
    session.flush()
    return event


def batch_kinds() -> tuple[str, ...]:
    return BATCH_KINDS

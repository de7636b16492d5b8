"""Plausibility flags (以地定产、以产核标): raised on events and label runs, reviewed by regulators."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import func
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, NotFound, ValidationError
from gi_trace.registry.models import Plot, Producer, Product
from gi_trace.registry.services import protected_towns, require_regulator_scope
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing import rules
from gi_trace.tracing.models import FLAG_KINDS, Batch, Event, PlausibilityFlag
from gi_trace.tracing.services.ledger import _events, _project
from gi_trace.tracing.services.visibility import _get
from gi_trace.types import utcnow


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

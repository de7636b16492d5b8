"""Recording stage events (with corrections) and withdrawing a batch, after every refusal rule."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session

from gi_trace import formatting as fmt
from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, NotFound, Refused, ValidationError
from gi_trace.registry.models import Plot, Producer, Product
from gi_trace.registry.services import protected_towns, region_name, require_regulator_scope
from gi_trace.registry import limits
from gi_trace.tracing import quality
from gi_trace.tracing import recall as recalls
from gi_trace.tracing import rules
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.services import inputs
from gi_trace.tracing.services.flags import plausibility, raise_flag
from gi_trace.tracing.services.gates import GOODS_MOVING_STAGES, require_authorised, require_not_recalled
from gi_trace.tracing.services.ledger import (
    _append,
    _events,
    _op_time,
    _project,
    lock_batch,
    parse_location,
    template_of,
)
from gi_trace.tracing.services.lineage_ops import transform
from gi_trace.tracing.services.visibility import _get, _require_owner, can_see_batch
from gi_trace.types import utcnow


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
    require_not_recalled(session, batch)
    if not isinstance(data.stage, str) or not data.stage:
        raise ValidationError(_("stage is required."), field="stage")
    product = session.get(Product, batch.product_id)
    if data.stage in GOODS_MOVING_STAGES or data.stage == "processing":
        require_authorised(session, batch.producer_id, product)
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

    if data.stage == "testing":
        _judge_against_limits(session, product, cleaned, occurred_at, offset)

    if data.stage == "drying" and cleaned.get("fresh_kg_in") is None:
        # Record the fresh weight that went in as a fact, not as a default left implicit.
        target_seq = corrected.seq if corrected is not None else None
        before = [e for e in events if target_seq is None or e.seq < target_seq]
        cleaned["fresh_kg_in"] = _project(session, batch, before).quantity_kg
    plot: Optional[Plot] = None
    if data.stage in ("planting", "harvest"):
        plot = _own_protected_plot(session, batch, product, cleaned.get("plot_id"))
        town = plot.town_code
        if data.stage == "harvest":
            inputs.check_harvest(session, plot, rules.local_time(occurred_at, offset).date())
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


def judge_test(session: Session, user: User, batch: Batch, data: EventInput) -> quality.Outcome:
    """A test's computed verdict before it is recorded (the portal says beside the lab's conclusion when the two
    disagree); raises what recording it would raise for bad input, and records nothing."""
    _require_owner(user, batch)
    product = session.get(Product, batch.product_id)
    spec = rules.stage_map(template_of(product)).get("testing")
    if spec is None:
        raise ValidationError(_("Unknown stage %(stage)s; this product's stages are: %(stages)s.", stage="testing",
                                stages=", ".join(rules.stage_map(template_of(product)))), field="stage")
    occurred_at, offset = rules.parse_time(data.occurred_at)
    cleaned, _quantity = rules.clean_data(spec, data.data, None)
    _judge_against_limits(session, product, cleaned, occurred_at, offset)
    return quality.evaluate(cleaned)


def _judge_against_limits(session: Session, product: Product, cleaned: dict, occurred_at, offset: int) -> None:
    """Keep in the test's event the limits in force on its sampling date (its verdict is computed from them);
    refuse a test that lacks a value those limits check."""
    reported = rules.local_time(occurred_at, offset).date()
    sampled = date.fromisoformat(cleaned["sampled_at"]) if cleaned.get("sampled_at") else reported
    if sampled > reported:
        raise ValidationError(_("The sample cannot be taken after the test is reported (%(day)s).",
                                day=fmt.day(reported)), field="data.sampled_at")
    found = limits.in_force(session, product, sampled)
    missing = quality.missing_values(found, cleaned)
    if missing:
        raise ValidationError(_("The product's limits check %(field)s: give the measured value.",
                                field=missing[0]), field=f"data.{missing[0]}")
    cleaned["limits"] = quality.limits_snapshot(found, [r["substance"] for r in cleaned.get("residues") or []])


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
                        plot=plot.name or plot.id, town=region_name(session, plot.town_code),
                        product=fmt.name(product)),
                      field="data.plot_id", code="outside_protected_area")
    return plot


def withdraw(session: Session, user: User, batch: Batch, reason: str, *, occurred_at: Any = None) -> Event:
    """Withdraw a batch (its owner, or a regulator in scope): recorded as an event, never a delete.

    The withdrawal recalls the batch and every batch made from it, transitively, in this transaction
    (`tracing.recall.start`): from the commit on, none of them is shown or issued as sellable.
    """
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
    recalls.start(session, batch, reason=reason, recalled_at=when, user_id=user.id, by_role=user.role,
                  event_id=event.id)
    return event

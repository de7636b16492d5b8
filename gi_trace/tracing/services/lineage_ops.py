"""Lineage operations: split, merge and transform (processing) move kilograms into new child batches."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session

from gi_trace.accounts.models import User
from gi_trace.errors import Refused, ValidationError
from gi_trace.observability import metrics
from gi_trace.registry.models import Product
from gi_trace.registry.services import protected_towns
from gi_trace.tracing import origin as origins
from gi_trace.tracing import quality, rules
from gi_trace.tracing.models import Batch, BatchLink, Event
from gi_trace.tracing.services.batches import _check_lot, _new_code, claim_code
from gi_trace.tracing.services.gates import require_authorised, require_not_recalled
from gi_trace.tracing.services.ledger import (
    _append,
    _events,
    _flush,
    _op_time,
    _project,
    lock_batch,
    parse_location,
    template_of,
)
from gi_trace.tracing.services.visibility import _require_owner, _require_producer
from gi_trace.types import utcnow


MAX_PARTS = 100
LINEAGE_STAGE = {"split": "split", "merge": "merge", "transform": "processing"}
CHILD_KIND = {"split": "lot", "merge": "merged", "transform": "processed"}


@dataclass
class LineageResult:
    children: list[Batch]
    input_events: list[Event]
    output_events: list[Event]
    links: list[BatchLink]


def _lineage(session: Session, user: User, kind: str, inputs: list[tuple[Batch, float]], outputs: list[dict], *,
             occurred_at: datetime, offset_min: int, location: tuple[Optional[str], str],
             extra: Optional[dict] = None, new_codes: Optional[list] = None) -> LineageResult:
    """Move kilograms from input batches into new child batches, one event in every batch touched. `new_codes`:
    the children's trace codes where a captured EPCIS document names them (None: new random codes)."""
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
    require_authorised(session, producer_id, product)  # new batches: the same gate as opening one
    template = template_of(product)
    if kind == "merge" and len({b.product_form for b, _kg in inputs}) > 1:
        raise Refused(_("Batches of different forms (fresh and dried) cannot be merged; dry them first."),
                      field="inputs")
    before: dict[int, tuple[list, rules.Projection]] = {}
    for batch, _kg in inputs:
        if batch.is_withdrawn:
            raise Refused(_("Batch %(code)s has been withdrawn.", code=batch.code), field="inputs", code="withdrawn")
        require_not_recalled(session, batch, field="inputs")
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
    protected = protected_towns(session, product.id)
    made_of = origins.combine(origins.origin_of(session, p, protected) for p in parents)
    children: list[Batch] = []
    for i, out in enumerate(outputs):
        lot = _check_lot(session, producer_id, out.get("producer_lot"))
        named = new_codes[i] if new_codes and i < len(new_codes) else None
        form = out.get("product_form") or (extra or {}).get("product_form") if kind == "transform" else None
        child = Batch(
            code=claim_code(session, named) if named else _new_code(session), producer_id=producer_id,
            product_id=product.id, kind=CHILD_KIND[kind],
            unit=product.unit or "kg", cultivar=_common(p.cultivar for p in parents),
            trademark_id=parents[0].trademark_id, trademark_name=parents[0].trademark_name,
            product_form=form or parents[0].product_form, producer_lot=lot,
            product_line_id=parents[0].product_line_id if kind != "transform" else None, created_by=user.id,
        )
        origins.keep(child, made_of)
        session.add(child)
        children.append(child)
    _flush(session)
    metrics.wrote(session, "batch", len(children))

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


def _combined_state(states: set) -> str:
    """The test state of a batch made from inputs in these states."""
    return ("failed" if "failed" in states else "ungraded" if "ungraded" in states and states <= {
        "passed", "ungraded"} else "passed" if states == {"passed"} else "untested")


def _inherit(session: Session, parents: list[Batch], template: list, kind: str) -> dict:
    """What a made batch takes over from its parents: position, test state, grade, origin."""
    states = {p.test_state for p in parents}
    test_state = _combined_state(states)
    carried = quality.combine(quality.carried(p.quality, p.test_state, p.code) for p in parents)
    reports = {((p.quality or {}).get("latest") or {}).get("report_no") or None for p in parents}
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
        # every input's uncleared failure travels with its kilograms (tracing.quality); were they cleared by a
        # regulator's decision, each failed input would pass (quality.Ledger.flow_down)
        **carried,
        "test_state_if_cleared": _combined_state({"passed" if s == "failed" else s for s in states}),
        "report_no": reports.pop() if len(reports) == 1 else None,  # the inputs' latest report, when they share it
    }


def _parts(parts: Any, name: str) -> list[dict]:
    if not isinstance(parts, list) or not parts or len(parts) > MAX_PARTS:
        raise ValidationError(_("Give between 1 and %(n)s parts.", n=MAX_PARTS), field=name)
    return rules._outputs(parts, name)


def split(session: Session, user: User, batch: Batch, parts: Any, *, occurred_at: Any = None,
          location: Any = None, new_codes: Optional[list] = None) -> LineageResult:
    """Split a batch into parts (e.g. packing lots): [{quantity_kg, producer_lot?}]."""
    _require_owner(user, batch)
    cleaned = _parts(parts, "parts")
    when, offset = _op_time(occurred_at)
    total = rules.kg(sum(p["quantity_kg"] for p in cleaned))
    return _lineage(session, user, "split", [(batch, total)], cleaned, occurred_at=when, offset_min=offset,
                    location=parse_location(session, location), new_codes=new_codes)


def merge(session: Session, user: User, inputs: list[tuple[Batch, Optional[float]]], *, occurred_at: Any = None,
          location: Any = None, producer_lot: Optional[str] = None, new_codes: Optional[list] = None) -> LineageResult:
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
                    occurred_at=when, offset_min=offset, location=parse_location(session, location),
                    new_codes=new_codes)


def transform(session: Session, user: User, inputs: list[tuple[Batch, Optional[float]]], outputs: Any, *,
              occurred_at: Any = None, offset_min: Optional[int] = None, location: Any = None,
              extra: Optional[dict] = None, new_codes: Optional[list] = None) -> LineageResult:
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
                    location=loc, extra=extra, new_codes=new_codes)

"""Batch tracing API under /api/v1: batches, events, split/merge/process, traces, EPCIS, public view.

Producers see and change only their own batches: any other code answers 404, as an unknown one does.
Views parse the JSON body, call one service, commit once and return JSON.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import current_app, request
from flask_babel import gettext as _
from sqlmodel import select

from gi_trace.access import ANY_USER, PUBLIC, access, actor
from gi_trace.api import api_bp, json_body, openapi_paths
from gi_trace.db import get_session
from gi_trace.errors import NotFound, ValidationError
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.registry.services import get_product
from gi_trace.tracing import chain, codes, epcis, lineage, rules, services
from gi_trace.tracing.models import Batch, Event, PlausibilityFlag, UnitCode

MAX_LIMIT = 200


# --- JSON shapes --------------------------------------------------------------------------

def _base() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")


def trace_url(code: str) -> str:
    return f"{_base()}/t/{code}"


def batch_json(batch: Batch, product_slug: Optional[str] = None) -> dict:
    """A batch as the API returns it."""
    return {
        "code": batch.code,
        "display_code": codes.display(batch.code),
        "trace_url": trace_url(batch.code),
        "qr_png_url": f"{trace_url(batch.code)}/qr.png",
        "qr_svg_url": f"{trace_url(batch.code)}/qr.svg",
        "product": product_slug,
        "producer_id": batch.producer_id,
        "kind": batch.kind,
        "unit": batch.unit,
        "quantity_kg": batch.quantity_kg,
        "out_kg": batch.out_kg,
        "available_kg": batch.available_kg,
        "cultivar": batch.cultivar,
        "product_form": batch.product_form,
        "producer_lot": batch.producer_lot,
        "trademark": batch.trademark_name or None,
        "stage": batch.stage or None,
        "test_state": batch.test_state,
        "grade": batch.grade,
        "grains_per_50g": batch.grains_per_50g,
        "origin_town_code": batch.origin_town_code,
        "harvest_year": batch.harvest_year,
        "under_review": batch.under_review,
        "withdrawn": batch.is_withdrawn,
        "withdrawn_reason": batch.withdrawn_reason or None,
        "event_count": batch.event_count,
        "head_hash": batch.head_hash,
        "created_at": batch.created_at.isoformat(),
    }


def event_json(event: Event) -> dict:
    """An event as recorded; times in UTC and in the offset it was given in."""
    return {
        "id": event.id,
        "seq": event.seq,
        "stage": event.stage,
        "occurred_at": rules.local_time(event.occurred_at, event.utc_offset_min).isoformat(),
        "utc_offset_min": event.utc_offset_min,
        "location": {"town_code": event.location_town_code, "name": event.location_name or None},
        "quantity_kg": event.quantity_kg,
        "data": event.data,
        "op_id": event.op_id,
        "recorded_by": event.recorded_by,
        "recorded_at": event.recorded_at.isoformat(),
        "corrects_event_id": event.corrects_event_id,
        "correction_reason": event.correction_reason or None,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def flag_json(flag: PlausibilityFlag) -> dict:
    return {"id": flag.id, "kind": flag.kind, "message": rules.flag_text(flag.kind, flag.params or {}),
            "status": flag.status, "raised_at": flag.raised_at.isoformat(), "event_id": flag.event_id}


def _slug(session, batch: Batch) -> str:
    return session.get(Product, batch.product_id).slug


def _optional_int(body: dict, name: str) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(_("%(field)s must be a whole number.", field=name), field=name)
    return value


def _optional_text(body: dict, name: str) -> Optional[str]:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(_("%(field)s must be text.", field=name), field=name)
    return value


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(_("%(field)s must be a whole number.", field=name), field=name) from None
    return max(low, min(high, value))


# --- batches ------------------------------------------------------------------------------

@api_bp.post("/batches")
@access("producer")
def create_batch():
    """Open a harvest batch (the producer's authorisation for the product must be in force)."""
    body = json_body()
    session = get_session()
    slug = body.get("product", GOJI_SLUG)
    if not isinstance(slug, str):
        raise ValidationError(_("%(field)s must be text.", field="product"), field="product")
    rules.no_nul(slug, "product")
    product = get_product(session, slug)
    data = services.BatchInput(
        cultivar=_optional_text(body, "cultivar") or "",
        trademark_id=_optional_int(body, "trademark_id"),
        producer_lot=_optional_text(body, "producer_lot"),
        product_line_id=_optional_int(body, "product_line_id"),
        quantity_kg=body.get("quantity_kg") if body.get("quantity_kg") not in (0, None) else None,
    )
    batch = services.open_batch(session, actor(), product, data)
    return batch_json(batch, product.slug), 201


@api_bp.get("/batches")
@access(*ANY_USER)
def list_batches():
    """The user's batches (producers: their own), newest first."""
    session = get_session()
    user = actor()
    query = select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc())
    if user.role == "producer":
        query = query.where(Batch.producer_id == user.producer_id)
    elif user.role == "regulator" and user.county_code:
        query = query.join(Producer, Producer.id == Batch.producer_id).where(Producer.county_code == user.county_code)
    limit = _int_arg("limit", 50, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 10**9)
    rows = session.exec(query.limit(limit).offset(offset)).all()
    slugs = {p.id: p.slug for p in session.exec(select(Product)).all()}
    return {"batches": [batch_json(b, slugs.get(b.product_id)) for b in rows], "limit": limit, "offset": offset}


@api_bp.get("/batches/<code>")
@access(*ANY_USER)
def get_batch(code: str):
    """One batch with its events and open flags."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
    body = batch_json(batch, _slug(session, batch))
    body["events"] = [event_json(e) for e in events]
    body["flags"] = [flag_json(f) for f in services.open_flags(session, batch)]
    permission = services.label_allowed(session, batch)
    body["label"] = {"allowed": permission.allowed, "code": permission.code, "reason": permission.reason or None}
    return body


@api_bp.post("/batches/<code>/events")
@access("producer")
def create_event(code: str):
    """Record a stage event (or a correction of one)."""
    body = json_body()
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    data = services.EventInput(
        stage=body.get("stage"), occurred_at=body.get("occurred_at"), quantity_kg=body.get("quantity_kg"),
        location=body.get("location"), data=body.get("data"),
        corrects_event_id=_optional_int(body, "corrects_event_id"),
        correction_reason=_optional_text(body, "correction_reason") or "",
    )
    event = services.record_event(session, actor(), batch, data)
    flags = session.exec(select(PlausibilityFlag).where(PlausibilityFlag.event_id == event.id)).all()
    made = []
    if event.op_id:
        made = list(session.exec(select(Batch).join(Event, Event.batch_id == Batch.id)
                                 .where(Event.op_id == event.op_id, Batch.id != batch.id)).all())
    slug = _slug(session, batch)
    return {"event": event_json(event), "batch": batch_json(batch, slug), "flags": [flag_json(f) for f in flags],
            "children": [batch_json(c, slug) for c in made]}, 201


def _lineage_json(session, result: services.LineageResult) -> dict:
    slug = _slug(session, result.children[0])
    return {"children": [batch_json(c, slug) for c in result.children],
            "inputs": [{"code": e.batch_id and session.get(Batch, e.batch_id).code, "quantity_kg": e.quantity_kg}
                       for e in result.input_events]}


@api_bp.post("/batches/<code>/split")
@access("producer")
def split_batch(code: str):
    """Split a batch into parts: {parts: [{quantity_kg, producer_lot?}], occurred_at?, location?}."""
    body = json_body()
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    result = services.split(session, actor(), batch, body.get("parts"), occurred_at=body.get("occurred_at"),
                            location=body.get("location"))
    return _lineage_json(session, result), 201


def _inputs(session, body: dict, name: str = "inputs") -> list[tuple[Batch, Optional[float]]]:
    items = body.get(name)
    if not isinstance(items, list) or not items or len(items) > services.MAX_PARTS:
        raise ValidationError(_("%(field)s must list the batches: [{code, quantity_kg?}].", field=name), field=name)
    result = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"code": item}
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise ValidationError(_("%(field)s must list the batches: [{code, quantity_kg?}].", field=name),
                                  field=f"{name}[{i}]")
        batch = services.own_batch(session, actor(), item["code"])
        qty = item.get("quantity_kg")
        if qty is not None:
            qty = rules._number(qty, f"{name}[{i}].quantity_kg")
        result.append((batch, qty))
    return result


@api_bp.post("/batches/merge")
@access("producer")
def merge_batches():
    """Merge batches into a new one: {inputs: [{code, quantity_kg?}], producer_lot?, occurred_at?, location?}."""
    body = json_body()
    session = get_session()
    inputs = _inputs(session, body)
    result = services.merge(session, actor(), inputs, occurred_at=body.get("occurred_at"),
                            location=body.get("location"), producer_lot=_optional_text(body, "producer_lot"))
    return _lineage_json(session, result), 201


@api_bp.post("/batches/process")
@access("producer")
def process_batches():
    """Processing: {inputs: [{code, quantity_kg?}], outputs: [{quantity_kg, product_form?, producer_lot?}],
    product_form, process?, occurred_at?, location?}."""
    body = json_body()
    session = get_session()
    inputs = _inputs(session, body)
    extra: dict[str, Any] = {}
    for key in ("product_form", "process"):
        value = _optional_text(body, key)
        if value:
            extra[key] = rules._text(value, key)
    result = services.transform(session, actor(), inputs, body.get("outputs"), occurred_at=body.get("occurred_at"),
                                location=body.get("location"), extra=extra)
    return _lineage_json(session, result), 201


@api_bp.post("/batches/<code>/withdraw")
@access("producer", "regulator", "admin")
def withdraw_batch(code: str):
    """Withdraw a batch with a reason (its owner or a regulator); recorded as an event."""
    body = json_body()
    session = get_session()
    user = actor()
    batch = services.own_batch(session, user, code) if user.role == "producer" else \
        services.visible_batch(session, user, code)
    event = services.withdraw(session, user, batch, body.get("reason"), occurred_at=body.get("occurred_at"))
    return {"event": event_json(event), "batch": batch_json(batch, _slug(session, batch))}


# --- plausibility flags (regulators) ------------------------------------------------------

def review_flag_json(session, flag: PlausibilityFlag) -> dict:
    batch = session.get(Batch, flag.batch_id)
    return {**flag_json(flag), "batch": batch.code, "producer_id": flag.producer_id,
            "review_outcome": flag.review_outcome or None, "review_note": flag.review_note or None,
            "reviewed_at": flag.reviewed_at.isoformat() if flag.reviewed_at else None}


@api_bp.get("/flags")
@access("regulator", "admin")
def list_flags():
    """Plausibility flags to review (以地定产、以产核标); county regulators see their county's."""
    session = get_session()
    flags = services.flags_for(session, actor(), request.args.get("status", "open"),
                               limit=_int_arg("limit", 100, 1, MAX_LIMIT), offset=_int_arg("offset", 0, 0, 10**9))
    return {"flags": [review_flag_json(session, f) for f in flags]}


@api_bp.post("/flags/<int:flag_id>/review")
@access("regulator", "admin")
def review_flag(flag_id: int):
    """Close a flag: {outcome: cleared|confirmed, note?}."""
    body = json_body()
    session = get_session()
    flag = services.review_flag(session, actor(), flag_id, body.get("outcome"), _optional_text(body, "note") or "")
    return review_flag_json(session, flag)


# --- traces, verification, EPCIS ----------------------------------------------------------

def trace_json(session, batch: Batch, result: lineage.Trace) -> dict:
    towns = {r.code: r for r in session.exec(select(Region).where(Region.level == "town")).all()}
    nodes = [{"code": n.code, "kind": n.kind, "producer_id": n.producer_id, "product_form": n.product_form,
              "quantity_kg": n.quantity_kg, "origin_town_code": n.origin_town_code, "harvest_year": n.harvest_year,
              "withdrawn": bool(n.withdrawn)} for n in sorted(result.nodes.values(), key=lambda n: n.id)]
    code_of = {n.id: n.code for n in result.nodes.values()}
    code_of[batch.id] = batch.code
    harvests = []
    if result.direction == "backward":
        for n in result.harvest_batches():
            town = towns.get(n.origin_town_code)
            harvests.append({"code": n.code, "town_code": n.origin_town_code,
                             "town": town.name_zh if town else None,
                             "plots": result.plots.get(n.id, [])})
    return {
        "root": batch.code,
        "direction": result.direction,
        "batches": nodes,
        "links": [{"parent": code_of[e.parent_id], "child": code_of[e.child_id], "quantity_kg": e.quantity_kg,
                   "kind": e.kind} for e in result.edges],
        "harvests": harvests,
        "towns": result.towns() if result.direction == "backward" else [],
    }


@api_bp.get("/batches/<code>/trace")
@access(*ANY_USER)
def batch_trace(code: str):
    """Backward (every source, down to harvests, plots and towns) or forward (everything made from it)."""
    direction = request.args.get("direction", "backward")
    if direction not in ("backward", "forward"):
        raise ValidationError(_("direction must be backward or forward."), field="direction")
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    result = lineage.trace(session, batch, direction, with_plots=direction == "backward")
    return trace_json(session, batch, result)


@api_bp.get("/batches/<code>/verify")
@access(*ANY_USER)
def batch_verify(code: str):
    """Recompute the batch's hash chain."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    result = chain.verify_batch(session, batch)
    return {"code": batch.code, "verifies": result.ok, "events": result.events, "broken_seq": result.broken_seq,
            "reason": result.reason or None}


@api_bp.get("/batches/<code>/epcis")
@access(*ANY_USER)
def batch_epcis(code: str):
    """The batch's events as an EPCIS 2.0 JSON-LD document (scope=batch, or backward: every source's too)."""
    scope = request.args.get("scope", "batch")
    if scope not in ("batch", "backward"):
        raise ValidationError(_("scope must be batch or backward."), field="scope")
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    batches = [batch]
    if scope == "backward":
        found = lineage.trace(session, batch, "backward")
        if found.nodes:
            batches += list(session.exec(select(Batch).where(Batch.id.in_(list(found.nodes)))).all())
    document = epcis.build_document(session, batches, _base())
    response = current_app.json.response(document)
    response.mimetype = "application/ld+json"
    return response


# --- the public view ----------------------------------------------------------------------

def public_json(session, batch: Batch) -> dict:
    """What anyone may read about a code: product, producer, origin, tests, timeline, sources, integrity."""
    product = session.get(Product, batch.product_id)
    producer = session.get(Producer, batch.producer_id)
    template = services.template_of(product)
    towns = {r.code: r for r in session.exec(select(Region).where(Region.level == "town")).all()}
    permission = services.label_allowed(session, batch)
    status = services.authorisation_status(session, batch.producer_id, product.id)
    events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
    timeline = []
    for e in rules.effective_events(list(events)):
        data = e.data or {}
        facts: dict[str, Any] = {}
        if e.stage == "testing":
            outcome = rules.test_outcome(product.max_moisture_pct, data)
            grade = rules.grade_for(product.grade_scale, data.get("grains_per_50g"))
            facts = {"passed": outcome.passed, "grade": grade["grade"] if grade else None,
                     "grains_per_50g": data.get("grains_per_50g"), "moisture_pct": data.get("moisture_pct"),
                     "lab": data.get("lab"), "report_no": data.get("report_no")}
        elif e.stage == "drying":
            facts = {"method": data.get("method")}
        elif e.stage == "processing" or data.get("role"):
            facts = {"product_form": data.get("product_form")}
        town = towns.get(e.location_town_code)
        timeline.append({"seq": e.seq, "stage": e.stage, "stage_name": rules.stage_label(template, e.stage),
                         "occurred_at": rules.local_time(e.occurred_at, e.utc_offset_min).isoformat(),
                         "place": (town.name_zh if town else None) or e.location_name or None,
                         "quantity_kg": e.quantity_kg, "corrected": e.corrects_event_id is not None, "facts": facts})
    found = lineage.trace(session, batch, "backward")
    origin = towns.get(batch.origin_town_code)
    verified = chain.verify_batch(session, batch)
    return {
        "code": batch.code,
        "display_code": codes.display(batch.code),
        "product": {"slug": product.slug, "name_zh": product.name_zh, "name_en": product.name_en},
        "producer": {"name": producer.name, "code": producer.code},
        "trademark": batch.trademark_name or None,
        "origin_town": origin.name_zh if origin else None,
        "kind": batch.kind,
        "product_form": batch.product_form,
        "grade": batch.grade,
        "test_state": batch.test_state,
        "gi_label": {"allowed": permission.allowed, "code": permission.code, "reason": permission.reason or None},
        "authorisation": {"state": status.state, "since": status.since.isoformat() if status.since else None},
        "withdrawn": batch.is_withdrawn,
        "withdrawn_reason": batch.withdrawn_reason or None,
        "verifies": verified.ok,
        "timeline": timeline,
        "sources": [{"code": n.code, "town": (towns[n.origin_town_code].name_zh
                                              if n.origin_town_code in towns else None),
                     "harvest_year": n.harvest_year} for n in found.harvest_batches() if n.id != batch.id],
        "source_towns": [towns[t].name_zh for t in found.towns() if t in towns],
    }


@api_bp.get("/trace/<code>")
@access(PUBLIC)
def public_trace(code: str):
    """The public view of a batch code or a package's unit code (no token)."""
    session = get_session()
    parsed = codes.parse(code)
    if parsed is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=code[:40]), field="code")
    batch = session.exec(select(Batch).where(Batch.code == parsed)).first()
    unit = None
    if batch is None:
        unit = session.exec(select(UnitCode).where(UnitCode.code == parsed)).first()
        batch = session.get(Batch, unit.batch_id) if unit else None
    if batch is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=parsed), field="code")
    body = public_json(session, batch)
    if unit is not None:
        body["unit"] = {"code": unit.code, "serial": unit.serial}
    status = 410 if batch.is_withdrawn else 200
    return body, status


# --- OpenAPI ------------------------------------------------------------------------------

def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = _ref("Error")
_ERRORS = {
    "400": _json(_ERR, "Malformed request"),
    "401": _json(_ERR, "No valid bearer token"),
    "403": _json(_ERR, "Not allowed for this role"),
    "404": _json(_ERR, "Unknown code, or another producer's batch"),
    "409": _json(_ERR, "Conflict (e.g. a concurrent change or a duplicate lot number)"),
    "422": _json(_ERR, "Invalid input or refused by a rule (the message says which)"),
}


def _errors(*codes_: str) -> dict:
    return {c: _ERRORS[c] for c in codes_}


_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "Trace code (with or without hyphens)"}
_NUM = {"type": "number"}
_NULL_STR = {"type": ["string", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
_NULL_NUM = {"type": ["number", "null"]}
_LOCATION = {"oneOf": [{"type": "string"}, {"type": "object", "properties": {
    "town_code": {"type": "string"}, "name": {"type": "string"}}}],
    "description": "A town code, a named place, or {town_code, name}"}

SCHEMAS = {
    "Batch": {"type": "object", "required": ["code", "trace_url", "qr_png_url", "qr_svg_url", "kind", "quantity_kg"],
              "properties": {
                  "code": {"type": "string"}, "display_code": {"type": "string"},
                  "trace_url": {"type": "string"}, "qr_png_url": {"type": "string"}, "qr_svg_url": {"type": "string"},
                  "product": _NULL_STR, "producer_id": {"type": "integer"},
                  "kind": {"type": "string", "enum": ["harvest", "lot", "merged", "processed"]},
                  "unit": {"type": "string"}, "quantity_kg": _NUM, "out_kg": _NUM, "available_kg": _NUM,
                  "cultivar": {"type": "string"}, "product_form": {"type": "string"}, "producer_lot": _NULL_STR,
                  "trademark": _NULL_STR, "stage": _NULL_STR,
                  "test_state": {"type": "string", "enum": ["untested", "passed", "failed"]},
                  "grade": _NULL_STR, "grains_per_50g": _NULL_INT, "origin_town_code": _NULL_STR,
                  "harvest_year": _NULL_INT, "under_review": {"type": "boolean"}, "withdrawn": {"type": "boolean"},
                  "withdrawn_reason": _NULL_STR, "event_count": {"type": "integer"}, "head_hash": {"type": "string"},
                  "created_at": {"type": "string"},
                  "events": {"type": "array", "items": _ref("Event")},
                  "flags": {"type": "array", "items": _ref("Flag")},
                  "label": {"type": "object", "properties": {"allowed": {"type": "boolean"},
                                                             "code": {"type": "string"}, "reason": _NULL_STR}},
              }},
    "Event": {"type": "object", "required": ["id", "seq", "stage", "occurred_at", "hash"], "properties": {
        "id": {"type": "integer"}, "seq": {"type": "integer"}, "stage": {"type": "string"},
        "occurred_at": {"type": "string"}, "utc_offset_min": {"type": "integer"},
        "location": {"type": "object", "properties": {"town_code": _NULL_STR, "name": _NULL_STR}},
        "quantity_kg": _NULL_NUM, "data": {"type": "object"}, "op_id": _NULL_STR, "recorded_by": _NULL_INT,
        "recorded_at": {"type": "string"}, "corrects_event_id": _NULL_INT, "correction_reason": _NULL_STR,
        "prev_hash": {"type": "string"}, "hash": {"type": "string"}}},
    "Flag": {"type": "object", "required": ["id", "kind", "message", "status"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "message": {"type": "string"},
        "status": {"type": "string"}, "raised_at": {"type": "string"}, "event_id": _NULL_INT}},
    "EventInput": {"type": "object", "required": ["stage", "occurred_at"], "properties": {
        "stage": {"type": "string", "description": "A stage of the product's template, e.g. planting, harvest, "
                                                   "drying, testing, storage, processing, distribution"},
        "occurred_at": {"type": "string", "description": "ISO 8601 with its offset, e.g. 2025-07-01T08:00:00+08:00"},
        "quantity_kg": _NUM, "location": _LOCATION,
        "data": {"type": "object", "description": "The stage's fields (see the product's stage template)"},
        "corrects_event_id": {"type": "integer"}, "correction_reason": {"type": "string"}}},
    "EventResult": {"type": "object", "required": ["event", "batch"], "properties": {
        "event": _ref("Event"), "batch": _ref("Batch"), "flags": {"type": "array", "items": _ref("Flag")},
        "children": {"type": "array", "items": _ref("Batch")}}},
    "LineageResult": {"type": "object", "required": ["children"], "properties": {
        "children": {"type": "array", "items": _ref("Batch")},
        "inputs": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "quantity_kg": _NUM}}}}},
    "BatchInputs": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string"}, "quantity_kg": {"type": "number", "description": "Default: all it holds"}}}},
    "Trace": {"type": "object", "required": ["root", "direction", "batches", "links"], "properties": {
        "root": {"type": "string"}, "direction": {"type": "string", "enum": ["backward", "forward"]},
        "batches": {"type": "array", "items": {"type": "object", "required": ["code", "kind"], "properties": {
            "code": {"type": "string"}, "kind": {"type": "string"}, "producer_id": {"type": "integer"},
            "product_form": {"type": "string"}, "quantity_kg": _NUM, "origin_town_code": _NULL_STR,
            "harvest_year": _NULL_INT, "withdrawn": {"type": "boolean"}}}},
        "links": {"type": "array", "items": {"type": "object", "required": ["parent", "child", "quantity_kg"],
                                             "properties": {"parent": {"type": "string"},
                                                            "child": {"type": "string"}, "quantity_kg": _NUM,
                                                            "kind": {"type": "string"}}}},
        "harvests": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "town_code": _NULL_STR, "town": _NULL_STR,
            "plots": {"type": "array", "items": {"type": "object"}}}}},
        "towns": {"type": "array", "items": {"type": "string"}}}},
    "PublicTrace": {"type": "object", "required": ["code", "product", "producer", "gi_label", "verifies", "timeline"],
                    "properties": {
                        "code": {"type": "string"}, "display_code": {"type": "string"},
                        "product": {"type": "object"}, "producer": {"type": "object"}, "trademark": _NULL_STR,
                        "origin_town": _NULL_STR, "kind": {"type": "string"}, "product_form": {"type": "string"},
                        "grade": _NULL_STR, "test_state": {"type": "string"},
                        "gi_label": {"type": "object", "required": ["allowed"], "properties": {
                            "allowed": {"type": "boolean"}, "code": {"type": "string"}, "reason": _NULL_STR}},
                        "authorisation": {"type": "object", "properties": {"state": {"type": "string"},
                                                                           "since": _NULL_STR}},
                        "withdrawn": {"type": "boolean"}, "withdrawn_reason": _NULL_STR,
                        "verifies": {"type": "boolean"},
                        "timeline": {"type": "array", "items": {"type": "object", "required": ["stage", "occurred_at"],
                                                                "properties": {
                                                                    "seq": {"type": "integer"},
                                                                    "stage": {"type": "string"},
                                                                    "stage_name": {"type": "string"},
                                                                    "occurred_at": {"type": "string"},
                                                                    "place": _NULL_STR, "quantity_kg": _NULL_NUM,
                                                                    "corrected": {"type": "boolean"},
                                                                    "facts": {"type": "object"}}}},
                        "sources": {"type": "array", "items": {"type": "object"}},
                        "source_towns": {"type": "array", "items": {"type": "string"}},
                        "unit": {"type": "object", "properties": {"code": {"type": "string"},
                                                                  "serial": {"type": "integer"}}}}},
    "ReviewFlag": {"type": "object", "required": ["id", "kind", "status", "batch"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "message": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "cleared", "confirmed"]}, "raised_at": {"type": "string"},
        "event_id": _NULL_INT, "batch": {"type": "string"}, "producer_id": {"type": "integer"},
        "review_outcome": _NULL_STR, "review_note": _NULL_STR, "reviewed_at": _NULL_STR}},
    "Verify": {"type": "object", "required": ["code", "verifies"], "properties": {
        "code": {"type": "string"}, "verifies": {"type": "boolean"}, "events": {"type": "integer"},
        "broken_seq": _NULL_INT, "reason": _NULL_STR}},
    "EPCISDocument": {"type": "object", "required": ["@context", "type", "schemaVersion", "epcisBody"],
                      "description": "GS1 EPCIS 2.0 JSON-LD (validates against the EPCIS JSON schema)",
                      "properties": {"type": {"const": "EPCISDocument"}, "schemaVersion": {"const": "2.0"},
                                     "epcisBody": {"type": "object"}}},
}

_SEC = [{"bearer": []}]
_BODY = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731

openapi_paths({
    "/batches": {
        "post": {"summary": "Open a harvest batch", "tags": ["tracing"], "security": _SEC,
                 "requestBody": _BODY({"type": "object", "properties": {
                     "product": {"type": "string", "default": GOJI_SLUG}, "cultivar": {"type": "string"},
                     "trademark_id": {"type": "integer"}, "producer_lot": {"type": "string"},
                     "product_line_id": {"type": "integer"}}}),
                 "responses": {"201": _json(_ref("Batch"), "The new batch with its trace and QR URLs"),
                               **_errors("400", "401", "403", "404", "409", "422")}},
        "get": {"summary": "List the user's batches", "tags": ["tracing"], "security": _SEC,
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}},
                               {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": _json({"type": "object", "required": ["batches"], "properties": {
                    "batches": {"type": "array", "items": _ref("Batch")}, "limit": {"type": "integer"},
                    "offset": {"type": "integer"}}}, "Batches, newest first"), **_errors("401", "422")}},
    },
    "/batches/{code}": {"get": {
        "summary": "A batch with its events, open flags and GI-label permission", "tags": ["tracing"],
        "security": _SEC, "parameters": [_CODE],
        "responses": {"200": _json(_ref("Batch"), "The batch"), **_errors("401", "404")}}},
    "/batches/{code}/events": {"post": {
        "summary": "Record a stage event or a correction (processing creates the output batches)",
        "tags": ["tracing"], "security": _SEC, "parameters": [_CODE], "requestBody": _BODY(_ref("EventInput")),
        "responses": {"201": _json(_ref("EventResult"), "The recorded event, the batch, flags raised"),
                      **_errors("400", "401", "403", "404", "409", "422")}}},
    "/batches/{code}/split": {"post": {
        "summary": "Split a batch into parts", "tags": ["tracing"], "security": _SEC, "parameters": [_CODE],
        "requestBody": _BODY({"type": "object", "required": ["parts"], "properties": {
            "parts": {"type": "array", "items": {"type": "object", "required": ["quantity_kg"], "properties": {
                "quantity_kg": _NUM, "producer_lot": {"type": "string"}}}},
            "occurred_at": {"type": "string"}, "location": _LOCATION}}),
        "responses": {"201": _json(_ref("LineageResult"), "The new batches"),
                      **_errors("400", "401", "403", "404", "409", "422")}}},
    "/batches/merge": {"post": {
        "summary": "Merge batches into a new batch", "tags": ["tracing"], "security": _SEC,
        "requestBody": _BODY({"type": "object", "required": ["inputs"], "properties": {
            "inputs": _ref("BatchInputs"), "producer_lot": {"type": "string"}, "occurred_at": {"type": "string"},
            "location": _LOCATION}}),
        "responses": {"201": _json(_ref("LineageResult"), "The merged batch"),
                      **_errors("400", "401", "403", "404", "409", "422")}}},
    "/batches/process": {"post": {
        "summary": "Processing: input batches become processed output batches (outputs <= inputs)",
        "tags": ["tracing"], "security": _SEC,
        "requestBody": _BODY({"type": "object", "required": ["inputs", "outputs"], "properties": {
            "inputs": _ref("BatchInputs"),
            "outputs": {"type": "array", "items": {"type": "object", "required": ["quantity_kg"], "properties": {
                "quantity_kg": _NUM, "product_form": {"type": "string"}, "producer_lot": {"type": "string"}}}},
            "product_form": {"type": "string"}, "process": {"type": "string"}, "occurred_at": {"type": "string"},
            "location": _LOCATION}}),
        "responses": {"201": _json(_ref("LineageResult"), "The processed batches"),
                      **_errors("400", "401", "403", "404", "409", "422")}}},
    "/batches/{code}/withdraw": {"post": {
        "summary": "Withdraw a batch (owner or regulator), recorded as an event", "tags": ["tracing"],
        "security": _SEC, "parameters": [_CODE],
        "requestBody": _BODY({"type": "object", "required": ["reason"], "properties": {
            "reason": {"type": "string"}, "occurred_at": {"type": "string"}}}),
        "responses": {"200": _json({"type": "object", "required": ["event", "batch"], "properties": {
            "event": _ref("Event"), "batch": _ref("Batch")}}, "The withdrawal event and the batch"),
            **_errors("400", "401", "403", "404", "409", "422")}}},
    "/batches/{code}/trace": {"get": {
        "summary": "Backward or forward trace", "tags": ["tracing"], "security": _SEC,
        "parameters": [_CODE, {"name": "direction", "in": "query",
                               "schema": {"type": "string", "enum": ["backward", "forward"], "default": "backward"}}],
        "responses": {"200": _json(_ref("Trace"), "The batches and links reached"), **_errors("401", "404", "422")}}},
    "/batches/{code}/verify": {"get": {
        "summary": "Recompute the batch's hash chain", "tags": ["tracing"], "security": _SEC, "parameters": [_CODE],
        "responses": {"200": _json(_ref("Verify"), "Whether the record verifies"), **_errors("401", "404")}}},
    "/batches/{code}/epcis": {"get": {
        "summary": "The batch's events as an EPCIS 2.0 JSON-LD document", "tags": ["tracing"], "security": _SEC,
        "parameters": [_CODE, {"name": "scope", "in": "query",
                               "schema": {"type": "string", "enum": ["batch", "backward"], "default": "batch"}}],
        "responses": {"200": {"description": "EPCIS document",
                              "content": {"application/ld+json": {"schema": _ref("EPCISDocument")}}},
                      **_errors("401", "404", "422")}}},
    "/flags": {"get": {
        "summary": "Plausibility flags for regulators to review", "tags": ["tracing"], "security": _SEC,
        "parameters": [{"name": "status", "in": "query",
                        "schema": {"type": "string", "enum": ["open", "cleared", "confirmed", "all"]}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                       {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
        "responses": {"200": _json({"type": "object", "required": ["flags"], "properties": {
            "flags": {"type": "array", "items": _ref("ReviewFlag")}}}, "Flags, oldest first"),
            **_errors("401", "403", "422")}}},
    "/flags/{flag_id}/review": {"post": {
        "summary": "Close a flag as cleared or confirmed", "tags": ["tracing"], "security": _SEC,
        "parameters": [{"name": "flag_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": _BODY({"type": "object", "required": ["outcome"], "properties": {
            "outcome": {"type": "string", "enum": ["cleared", "confirmed"]}, "note": {"type": "string"}}}),
        "responses": {"200": _json(_ref("ReviewFlag"), "The reviewed flag"),
                      **_errors("400", "401", "403", "404", "409", "422")}}},
    "/trace/{code}": {"get": {
        "summary": "The public view of a batch or unit code (no token)", "tags": ["tracing"], "security": [],
        "parameters": [_CODE],
        "responses": {"200": _json(_ref("PublicTrace"), "The public view"),
                      "404": _json(_ERR, "Not a registered trace code"),
                      "410": _json(_ref("PublicTrace"), "The batch has been withdrawn (the view says why)")}}},
}, SCHEMAS)

"""Batch API under /api/v1: batches, events, split/merge/process, withdrawal, plausibility flags.

Producers see and change only their own batches: any other code answers 404, as an unknown one does.
Shapes are in `tracing/schemas.py`; traces, EPCIS and the public view in `api_trace.py`; unit codes
and product lines in `api_units.py`.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import select

from gi_trace.access import ANY_USER, access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.registry.models import Producer, Product
from gi_trace.registry.services import get_product
from gi_trace.tracing import recall, rules, services
from gi_trace.tracing.models import Batch, Event, PlausibilityFlag
from gi_trace.tracing import quality
from gi_trace.tracing.schemas import (BatchCreate, BatchDetail, BatchInput, BatchList, BatchListQuery, BatchPublic,
                                      Clearance, ClearanceCreate, EventCreate, EventPublic, EventResult, FlagList,
                                      FlagListQuery, FlagPublic, FlagReview, LabelPermissionPublic, LineageInput,
                                      LineageResult, MergeCreate, ProcessCreate, ReviewFlagPublic, SplitCreate,
                                      TestResultPublic, TestVerdictPublic, Withdrawal, WithdrawCreate)
from gi_trace.tracing.schemas_recall import RecallCreated, RecallReach, RecallState

MAX_LIMIT = 200
CODE = {"code": "Trace code of the batch (with or without hyphens)"}
NOT_YOURS = "Unknown code, or another producer's batch"


def base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "")


def _slug(session, batch: Batch) -> str:
    return session.get(Product, batch.product_id).slug


def _batch(session, batch: Batch, slug: Optional[str] = None) -> BatchPublic:
    return BatchPublic.of(batch, slug or _slug(session, batch), base_url())


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


# --- batches ------------------------------------------------------------------------------

@api_bp.post("/batches")
@access("producer")
@operation(body=BatchCreate, responses={201: (BatchPublic, "The new batch with its trace and QR URLs")},
           errors={404: "Unknown product", 409: "Duplicate lot number"})
def create_batch(body: Load[BatchCreate]):
    """Open a harvest batch (the producer's authorisation for the product must be in force)."""
    given = body()
    session = get_session()
    rules.no_nul(given.product, "product")
    product = get_product(session, given.product)
    data = services.BatchInput(cultivar=given.cultivar or "", trademark_id=given.trademark_id,
                               producer_lot=given.producer_lot, product_line_id=given.product_line_id,
                               quantity_kg=given.quantity_kg or None)
    batch = services.open_batch(session, actor(), product, data)
    return _batch(session, batch, product.slug)


@api_bp.get("/batches")
@access(*ANY_USER)
@operation(query=BatchListQuery, responses={200: BatchList})
def list_batches(query: BatchListQuery):
    """The user's batches (producers: their own), newest first."""
    session = get_session()
    user = actor()
    found = select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc())
    if user.role == "producer":
        found = found.where(Batch.producer_id == user.producer_id)
    elif user.role == "regulator" and user.county_code:
        found = found.join(Producer, Producer.id == Batch.producer_id).where(Producer.county_code == user.county_code)
    limit, offset = _clamp(query.limit, 1, MAX_LIMIT), _clamp(query.offset, 0, 10**9)
    rows = session.exec(found.limit(limit).offset(offset)).all()
    slugs = {p.id: p.slug for p in session.exec(select(Product)).all()}
    return BatchList(batches=[BatchPublic.of(b, slugs.get(b.product_id), base_url()) for b in rows], limit=limit,
                     offset=offset)


@api_bp.get("/batches/<code>")
@access(*ANY_USER)
@operation(responses={200: BatchDetail}, errors={404: NOT_YOURS}, path=CODE)
def get_batch(code: str):
    """A batch with its events, open flags and GI-label permission."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
    permission = services.label_allowed(session, batch)
    return BatchDetail(**BatchPublic.fields_of(batch, _slug(session, batch), base_url()),
                       events=[EventPublic.of(e) for e in events],
                       flags=[FlagPublic.of(f) for f in services.open_flags(session, batch)],
                       label=LabelPermissionPublic(allowed=permission.allowed, code=permission.code,
                                                   reason=permission.reason or None),
                       test_verdict=TestVerdictPublic.of(quality.test_verdict(session, batch)),
                       **_recall_field(session, batch))


def _recall_field(session, batch: Batch) -> dict:
    state = RecallState.of(recall.recall_for(session, batch))
    return {"recall": state} if state is not None else {}


@api_bp.post("/batches/<code>/events")
@access("producer")
@operation(body=EventCreate, responses={201: EventResult}, errors={404: NOT_YOURS, 409: None}, path=CODE)
def create_event(code: str, body: Load[EventCreate]):
    """Record a stage event or a correction (processing creates the output batches)."""
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    given = body()
    data = services.EventInput(
        stage=given.stage, occurred_at=given.occurred_at, quantity_kg=given.quantity_kg, location=given.location,
        data=given.data, corrects_event_id=given.corrects_event_id, correction_reason=given.correction_reason or "")
    event = services.record_event(session, actor(), batch, data)
    flags = session.exec(select(PlausibilityFlag).where(PlausibilityFlag.event_id == event.id)).all()
    made = []
    if event.op_id:
        made = list(session.exec(select(Batch).join(Event, Event.batch_id == Batch.id)
                                 .where(Event.op_id == event.op_id, Batch.id != batch.id)).all())
    slug = _slug(session, batch)
    result = EventResult(event=EventPublic.of(event), batch=_batch(session, batch, slug),
                         flags=[FlagPublic.of(f) for f in flags], children=[_batch(session, c, slug) for c in made])
    if event.stage == "testing":
        result.test = TestResultPublic.of(event.data or {})
        verdict = quality.test_verdict(session, batch)
        result.test_verdict = TestVerdictPublic.of(verdict)
        note = quality.not_clearing_text(quality.evaluate(event.data or {}), verdict)
        if note:
            result.not_clearing = note
    return result


# --- lineage: split, merge, process -------------------------------------------------------

def _lineage(session, result: services.LineageResult) -> LineageResult:
    slug = _slug(session, result.children[0])
    return LineageResult(children=[_batch(session, c, slug) for c in result.children],
                         inputs=[LineageInput(code=session.get(Batch, e.batch_id).code, quantity_kg=e.quantity_kg)
                                 for e in result.input_events])


def _inputs(session, inputs: list[BatchInput]) -> list[tuple[Batch, Optional[float]]]:
    if len(inputs) > services.MAX_PARTS:
        raise ValidationError(_("%(field)s must list the batches: [{code, quantity_kg?}].", field="inputs"),
                              field="inputs")
    return [(services.own_batch(session, actor(), item.code), item.quantity_kg) for item in inputs]


def _dumped(items: list) -> list[dict]:
    return [item.model_dump(exclude_unset=True) for item in items]


@api_bp.post("/batches/<code>/split")
@access("producer")
@operation(body=SplitCreate, responses={201: (LineageResult, "The new batches")}, errors={404: NOT_YOURS, 409: None},
           path=CODE)
def split_batch(code: str, body: Load[SplitCreate]):
    """Split a batch into parts."""
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    given = body()
    result = services.split(session, actor(), batch, _dumped(given.parts), occurred_at=given.occurred_at,
                            location=given.location)
    return _lineage(session, result)


@api_bp.post("/batches/merge")
@access("producer")
@operation(body=MergeCreate, responses={201: (LineageResult, "The merged batch")}, errors={404: NOT_YOURS, 409: None})
def merge_batches(body: Load[MergeCreate]):
    """Merge batches into a new batch."""
    given = body()
    session = get_session()
    result = services.merge(session, actor(), _inputs(session, given.inputs), occurred_at=given.occurred_at,
                            location=given.location, producer_lot=given.producer_lot)
    return _lineage(session, result)


@api_bp.post("/batches/process")
@access("producer")
@operation(body=ProcessCreate, responses={201: (LineageResult, "The processed batches")},
           errors={404: NOT_YOURS, 409: None})
def process_batches(body: Load[ProcessCreate]):
    """Processing: input batches become processed output batches (outputs <= inputs)."""
    given = body()
    session = get_session()
    inputs = _inputs(session, given.inputs)
    extra: dict[str, Any] = {}
    for key in ("product_form", "process"):
        value = getattr(given, key)
        if value:
            extra[key] = rules._text(value, key)
    result = services.transform(session, actor(), inputs, _dumped(given.outputs), occurred_at=given.occurred_at,
                                location=given.location, extra=extra)
    return _lineage(session, result)


@api_bp.post("/batches/<code>/withdraw")
@access("producer", "regulator", "admin")
@operation(body=WithdrawCreate, responses={200: Withdrawal},
           errors={403: "Another county's batch", 404: NOT_YOURS, 409: "Already withdrawn"}, path=CODE)
def withdraw_batch(code: str, body: Load[WithdrawCreate]):
    """Withdraw a batch with a reason (its owner or a regulator): recorded as an event, and a recall of the
    batch and of every batch made from it (splits, merges, processing, hand-overs to other owners)."""
    session = get_session()
    user = actor()
    batch = services.own_batch(session, user, code) if user.role == "producer" else \
        services.visible_batch(session, user, code)
    given = body()
    event = services.withdraw(session, user, batch, given.reason, occurred_at=given.occurred_at)
    info = recall.recall_for(session, batch)
    return Withdrawal(event=EventPublic.of(event), batch=_batch(session, batch),
                      recall=RecallCreated(recall_id=info.recall_id,
                                            reach=RecallReach.of(recall.members_reach(session, info.recall_id))))


@api_bp.post("/batches/<code>/clearances")
@access("regulator", "admin")
@operation(body=ClearanceCreate, responses={201: (Clearance, "The recorded decision and the batch's verdict")},
           errors={403: "Another county's batch", 404: "Unknown code", 409: "No uncleared test failure"}, path=CODE)
def clear_failure(code: str, body: Load[ClearanceCreate]):
    """A regulator clears a batch's test failure (SO₂, residue, banned substance, or one carried in from a
    source batch) with a recorded decision: reason and the new report number. Never an edit of the test."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    given = body()
    event = services.clear_failure(session, actor(), batch, reason=given.reason, report_no=given.report_no,
                                   occurred_at=given.occurred_at)
    return Clearance(event=EventPublic.of(event), batch=_batch(session, batch),
                     test_verdict=TestVerdictPublic.of(quality.test_verdict(session, batch)))


# --- plausibility flags (regulators) ------------------------------------------------------

def _review(session, flag: PlausibilityFlag) -> ReviewFlagPublic:
    return ReviewFlagPublic.of(flag, session.get(Batch, flag.batch_id).code)


@api_bp.get("/flags")
@access("regulator", "admin")
@operation(query=FlagListQuery, responses={200: FlagList})
def list_flags(query: FlagListQuery):
    """Plausibility flags to review (以地定产、以产核标); county regulators see their county's."""
    session = get_session()
    flags = services.flags_for(session, actor(), query.status, limit=_clamp(query.limit, 1, MAX_LIMIT),
                               offset=_clamp(query.offset, 0, 10**9))
    return FlagList(flags=[_review(session, f) for f in flags])


@api_bp.post("/flags/<int:flag_id>/review")
@access("regulator", "admin")
@operation(body=FlagReview, responses={200: (ReviewFlagPublic, "The reviewed flag")},
           errors={404: "Unknown flag, or another county's", 409: "Already reviewed"})
def review_flag(flag_id: int, body: Load[FlagReview]):
    """Close a flag as cleared or confirmed."""
    session = get_session()
    services.reviewable_flag(session, actor(), flag_id)
    given = body()
    flag = services.review_flag(session, actor(), flag_id, given.outcome, given.note or "")
    return _review(session, flag)

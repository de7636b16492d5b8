"""Capturing a whole EPCIS document as one unit of work: every event or none.

Events are applied in the order of their eventTime (a document need not be sorted; equal times keep the document's
order, receipts after shipments of the same instant, a correction after the event it corrects). Each event runs in
a savepoint: a refused event is undone alone, so that the events after it are still checked and the answer lists
every refused event with its reason; when any is refused the caller's unit of work writes nothing at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session

from gi_trace.accounts.models import User
from gi_trace.db import open_for_savepoints
from gi_trace.errors import DomainError, Forbidden, Refused
from gi_trace.tracing.epcis_capture import apply, identify, parse, store
from gi_trace.tracing.epcis_capture.context import Context, Outcome
from gi_trace.tracing.epcis_capture.parse import Incoming, Problem

CAPTURED, ALREADY = "captured", "already_captured"


@dataclass
class EventResult:
    index: int
    event_id: str
    status: str  # CAPTURED or ALREADY
    records: list[dict] = field(default_factory=list)


@dataclass
class Result:
    events: list[EventResult]

    @property
    def captured(self) -> int:
        return sum(1 for e in self.events if e.status == CAPTURED)


class CaptureRefused(Refused):
    """Some events (or the document) are refused: nothing is written; `refused` lists each with its reason."""

    code = "capture_refused"

    def __init__(self, problems: list[Problem], events: dict[int, Any]):
        refused = [{"index": p.index, "eventID": _event_id(events.get(p.index)), "message": p.message,
                    "field": p.field} for p in problems]
        count = sum(1 for p in problems if p.index is not None)
        if count:
            message = _("Events refused: %(num)s; nothing was recorded. The first: %(first)s", num=count,
                        first=problems[0].message)
        else:
            message = problems[0].message
        super().__init__(message, field=problems[0].field, refused=refused)


def _event_id(event: Any) -> Optional[str]:
    value = event.get("eventID") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


def capture(session: Session, user: User, document: Any) -> Result:
    """Record the document's events for the user's party, or raise CaptureRefused listing every refusal."""
    if user is None or user.role != "producer" or user.producer_id is None:
        raise Forbidden(_("Events are captured by a producer's or trader's own account."))
    problems = parse.schema_problems(document)
    events = document["epcisBody"]["eventList"] if not problems else []
    raw_by_index = dict(enumerate(events))
    if problems:
        raise CaptureRefused(problems, _raw(document))
    ready: list[Incoming] = []
    for index, raw in enumerate(events):
        try:
            ready.append(parse.incoming(index, raw))
        except DomainError as exc:
            problems.append(Problem(index, exc.message, parse.event_field(index, exc.field)))
    ctx = Context(session, user, identify.Batches(session, user.producer_id, identify.hints(events)),
                  {inc.index: inc for inc in ready})
    native = store.Native(session, user.producer_id)
    results: dict[int, EventResult] = {}
    seen: dict[str, Incoming] = {}
    open_for_savepoints(session)
    for inc in _ordered(ready):
        try:
            with session.begin_nested():  # a refused event is undone alone; the request writes all or nothing
                results[inc.index] = _one(ctx, native, seen, inc)
        except DomainError as exc:
            problems.append(Problem(inc.index, exc.message, parse.event_field(inc.index, exc.field)))
    if problems:
        problems.sort(key=lambda p: -1 if p.index is None else p.index)
        raise CaptureRefused(problems, raw_by_index)
    return Result([results[i] for i in sorted(results)])


def _one(ctx: Context, native: store.Native, seen: dict[str, Incoming], inc: Incoming) -> EventResult:
    twin = seen.get(inc.event_id)
    if twin is not None:
        if twin.sha256 != inc.sha256:
            raise store.changed(inc.event_id)
        return EventResult(inc.index, inc.event_id, ALREADY)
    seen[inc.event_id] = inc
    row = store.earlier(ctx.session, ctx.party_id, inc)
    if row is not None:
        return EventResult(inc.index, inc.event_id, ALREADY, list(row.records))
    outcome: Optional[Outcome] = ctx.handled.get(inc.index)
    if outcome is None:
        if native.recorded(inc):
            return EventResult(inc.index, inc.event_id, ALREADY)
        outcome = apply.handle(ctx, inc)
    store.remember(ctx.session, ctx.user, inc, outcome)
    return EventResult(inc.index, inc.event_id, CAPTURED, outcome.records)


def _raw(document: Any) -> dict[int, Any]:
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    return dict(enumerate(events)) if isinstance(events, list) else {}


def _ordered(ready: list[Incoming]) -> list[Incoming]:
    """By eventTime (receipts and returns after shipments of the same instant); a correction right after the event
    it corrects when that one comes later."""
    def rank(inc: Incoming) -> int:
        return 1 if inc.kind == "ObjectEvent" and parse.vocab(inc.raw.get("bizStep")) == "receiving" else 0

    ordered = sorted(ready, key=lambda inc: (inc.at.astimezone(timezone.utc), rank(inc)))
    ids = {inc.event_id for inc in ordered}
    placed: set[str] = set()
    waiting: dict[str, list[Incoming]] = {}
    final: list[Incoming] = []

    def place(inc: Incoming) -> None:
        final.append(inc)
        placed.add(inc.event_id)
        for later in waiting.pop(inc.event_id, []):
            place(later)

    for inc in ordered:
        target = inc.ext("corrects")
        if isinstance(target, str) and target in ids and target not in placed and target != inc.event_id:
            waiting.setdefault(target, []).append(inc)
            continue
        place(inc)
    final.extend(inc for stuck in waiting.values() for inc in stuck)
    return final

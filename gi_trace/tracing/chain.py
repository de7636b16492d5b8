"""The hash chain of a batch's events: canonical content, SHA-256, append and verify.

Each event's hash covers its canonical JSON content (sorted keys, no spaces, UTF-8, times in UTC
ISO 8601 with microseconds) including `prev_hash`, the hash of the batch's previous event ("" for
the first). Changing, removing or reordering any stored event breaks the chain at that event, and
the batch's `head_hash` catches a removed last event.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Optional

from flask_babel import gettext as _
from sqlalchemy import select as sa_select
from sqlmodel import Session, func, select

from gi_trace.db import notes
from gi_trace.observability import metrics
from gi_trace.tracing.models import Batch, Event


# Batches whose record changed (or was found broken) in a session's transaction, by id, kept in the
# transaction's notes (gi_trace.db.notes): what other areas derive from a record (the scan area's
# stored pages) is refreshed from them when the transaction commits (a step of the unit of work).
TOUCHED = "touched_batches"


def touch(session: Session, batch_id: int) -> None:
    """Note that this batch's record changed in the session's transaction."""
    notes(session).setdefault(TOUCHED, set()).add(batch_id)


def _time(value: Optional[datetime]) -> Optional[str]:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(batch_code: str, event) -> dict:
    """The fields of an event that its hash covers."""
    return {
        "batch": batch_code,
        "seq": event.seq,
        "stage": event.stage,
        "occurred_at": _time(event.occurred_at),
        "utc_offset_min": event.utc_offset_min,
        "location_town_code": event.location_town_code,
        "location_name": event.location_name or "",
        "quantity_kg": event.quantity_kg,
        "data": event.data or {},
        "op_id": event.op_id,
        "recorded_by": event.recorded_by,
        "recorded_at": _time(event.recorded_at),
        "corrects_event_id": event.corrects_event_id,
        "correction_reason": event.correction_reason or "",
        "prev_hash": event.prev_hash or "",
    }


def canonical_json(content: dict) -> bytes:
    """Deterministic JSON bytes: sorted keys, compact separators, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def compute_hash(batch_code: str, event) -> str:
    """SHA-256 (hex) of the event's canonical content."""
    return hashlib.sha256(canonical_json(canonical_content(batch_code, event))).hexdigest()


def append(session: Session, batch: Batch, event: Event) -> Event:
    """Give the event the next sequence number and chain it to the batch's head, and add it.

    The caller holds the batch row (`lock_batch`); UNIQUE(batch_id, seq) turns a lost race into a
    conflict instead of a forked chain.
    """
    event.batch_id = batch.id
    event.seq = batch.event_count + 1
    event.prev_hash = batch.head_hash or ""
    event.hash = compute_hash(batch.code, event)
    session.add(event)
    batch.event_count = event.seq
    batch.head_hash = event.hash
    session.add(batch)
    touch(session, batch.id)
    metrics.wrote(session, "event")
    return event  # the caller flushes (and turns a lost race into a conflict)


@dataclass(frozen=True)
class ChainResult:
    """Whether a batch's record verifies, and if not, its first broken link."""

    ok: bool
    events: int
    broken_seq: Optional[int] = None
    broken_event_id: Optional[int] = None
    reason: str = ""


def check_events(batch_code: str, head_hash: str, events: Iterable) -> ChainResult:
    """Recompute one batch's chain from its events in `seq` order (pure)."""
    prev = ""
    count = 0
    for expected_seq, event in enumerate(events, start=1):
        count = expected_seq
        if event.seq != expected_seq:
            return ChainResult(False, count, expected_seq, event.id,
                               _("event %(seq)s is missing (found %(found)s)", seq=expected_seq, found=event.seq))
        if (event.prev_hash or "") != prev:
            return ChainResult(False, count, event.seq, event.id,
                               _("event %(seq)s does not point at the previous event's hash", seq=event.seq))
        if compute_hash(batch_code, event) != event.hash:
            return ChainResult(False, count, event.seq, event.id,
                               _("event %(seq)s was changed after it was recorded", seq=event.seq))
        prev = event.hash
    if (head_hash or "") != prev:
        return ChainResult(False, count, count + 1, None,
                           _("the batch's latest recorded hash does not match its last event (an event was removed)"))
    return ChainResult(True, count)


def verify_batch(session: Session, batch: Batch) -> ChainResult:
    """Recompute a batch's chain from the stored rows."""
    events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
    return check_events(batch.code, batch.head_hash, events)


@dataclass(frozen=True)
class BrokenChain:
    batch_code: str
    result: ChainResult


def iter_verify_all(session: Session, chunk: int = 500,
                    on_batch: Optional[Callable[[int], None]] = None) -> Iterator[BrokenChain]:
    """Verify every batch's chain, reading events in batch order a chunk of batches at a time."""
    last_id = 0
    while True:
        batches = session.exec(select(Batch.id, Batch.code, Batch.head_hash).where(Batch.id > last_id)
                               .order_by(Batch.id).limit(chunk)).all()
        if not batches:
            return
        ids = [b.id for b in batches]
        grouped: dict[int, list] = {i: [] for i in ids}
        rows = session.execute(sa_select(Event).where(Event.batch_id.in_(ids))
                               .order_by(Event.batch_id, Event.seq)).scalars()
        for event in rows:
            grouped[event.batch_id].append(event)
        for b in batches:
            result = check_events(b.code, b.head_hash, grouped[b.id])
            if not result.ok:
                yield BrokenChain(b.code, result)
        session.expunge_all()  # keep memory flat on a large database
        if on_batch:
            on_batch(len(batches))
        last_id = ids[-1]


def batch_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Batch)).one()

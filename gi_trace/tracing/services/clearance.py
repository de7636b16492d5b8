"""A regulator's recorded decision clearing a batch's test failure (SO₂, residues, banned substances, or a
failure carried in from an input): a new event in the batch's chain, never an edit of the failed test. The
decision reaches the batches already made from it: a failure they carried in from it reads cleared too
(`flow_down`), while their own failing tests stand."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, NotFound, ValidationError
from gi_trace.registry.models import Producer
from gi_trace.registry.services import require_regulator_scope
from gi_trace.tracing import lineage, rules
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.services.ledger import _append, _op_time, lock_batch, reproject
from gi_trace.tracing.services.visibility import can_see_batch
from gi_trace.types import utcnow

MAX_REPORT_NO = 64


def _text(value: Any, name: str, limit: int) -> str:
    text = rules.no_nul(value, name).strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise ValidationError(_("%(field)s is longer than %(n)s characters.", field=name, n=limit), field=name)
    return text


def clear_failure(session: Session, user: User, batch: Batch, *, reason: Any, report_no: Any,
                  occurred_at: Any = None) -> Event:
    """Clear every open test failure of a batch by a regulator's decision, citing a new report."""
    if user is None:
        raise Forbidden(_("Please log in."))
    if user.role not in ("regulator", "admin"):
        raise Forbidden(_("Only a regulator can clear a failed test."))
    producer = session.get(Producer, batch.producer_id)
    if not can_see_batch(user, batch, producer):
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    require_regulator_scope(user, producer.county_code)
    reason_text = _text(reason, "reason", 1000)
    if not reason_text:
        raise ValidationError(_("Give the reason for clearing the failure."), field="reason")
    report = _text(report_no, "report_no", MAX_REPORT_NO)
    if not report:
        raise ValidationError(_("Give the number of the new test report the decision rests on."), field="report_no")
    when, offset = _op_time(occurred_at)
    lock_batch(session, batch)
    open_failures = (batch.quality or {}).get("open") or []
    if batch.test_state != "failed":
        raise Conflict(_("Batch %(code)s has no uncleared test failure.", code=batch.code), code="nothing_to_clear")
    rules.check_time(when, utcnow(), batch.last_event_at)
    event = Event(batch_id=batch.id, seq=0, stage="clearance", occurred_at=when, utc_offset_min=offset,
                  data={"reason": reason_text, "report_no": report, "by_role": user.role,
                        "clears": [r.get("report_no") or "" for r in open_failures],
                        "sources": sorted({r.get("code") for r in open_failures if r.get("code")})},
                  recorded_by=user.id, recorded_at=utcnow(), hash="")
    _append(session, batch, event)
    flow_down(session, batch)
    return event


def flow_down(session: Session, batch: Batch) -> int:
    """Fold again every failed batch made from this one, in the order they were made (inputs before what was
    made from them), so a failure they carry in from it reads cleared (quality.Ledger.flow_down); returns how
    many. No event is written: their state is computed from the records as they stand."""
    made = sorted(lineage.trace(session, batch, "forward").nodes)
    if not made:
        return 0
    failed = session.exec(select(Batch).where(Batch.id.in_(made), Batch.test_state == "failed")
                          .order_by(Batch.id)).all()
    for descendant in failed:
        reproject(session, descendant)
    return len(failed)

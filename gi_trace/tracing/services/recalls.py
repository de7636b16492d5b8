"""Lifting a recall from a descendant: a regulator's recorded decision, never an edit or a delete."""
from __future__ import annotations

from sqlalchemy import select
from flask_babel import gettext as _
from sqlmodel import Session

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, NotFound, Refused, ValidationError
from gi_trace.registry.models import Producer
from gi_trace.registry.services import require_regulator_scope
from gi_trace.tracing import recall as recalls
from gi_trace.tracing import rules
from gi_trace.tracing.models import Batch
from gi_trace.tracing.models_recall import Recall, RecallLift, RecallMember
from gi_trace.tracing.services.visibility import can_see_batch


def _reason(reason) -> str:
    reason = rules.no_nul(reason, "reason").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError(_("Say why the recall is lifted from this batch (e.g. shown not to contain the "
                                "recalled input)."), field="reason")
    if len(reason) > 1000:
        raise ValidationError(_("The reason is longer than 1000 characters."), field="reason")
    return reason


def lift(session: Session, user: User, batch: Batch, reason) -> list[RecallLift]:
    """Lift every recall in force from a batch made from a recalled one (a regulator in scope, with a reason).

    The withdrawn batch itself stays recalled: a withdrawal is not undone. Batches made from this one
    stay recalled until lifted themselves (each must be shown not to contain the recalled input).
    """
    if user is None or user.role not in ("regulator", "admin"):
        raise Forbidden(_("Only a regulator can lift a recall."))
    producer = session.get(Producer, batch.producer_id)
    if not can_see_batch(user, batch, producer):
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    if user.role == "regulator":
        require_regulator_scope(user, producer.county_code)
    reason = _reason(reason)
    m, x, r = RecallMember.__table__, RecallLift.__table__, Recall.__table__
    lifted = select(x.c.id).where(x.c.recall_id == m.c.recall_id, x.c.batch_id == m.c.batch_id).exists()
    rows = session.execute(select(m.c.recall_id, r.c.source_batch_id).join(r, r.c.id == m.c.recall_id)
                           .where(m.c.batch_id == batch.id, ~lifted).order_by(m.c.recall_id)).all()
    if not rows:
        raise Conflict(_("Batch %(code)s is not under a recall.", code=batch.code))
    if any(source == batch.id for _rid, source in rows):
        raise Refused(_("Batch %(code)s was itself withdrawn; its recall cannot be lifted.", code=batch.code),
                      code="recall_source")
    return [recalls.lift_record(session, rid, batch.id, reason, user.id) for rid, _source in rows]

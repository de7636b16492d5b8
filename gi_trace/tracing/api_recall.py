"""Recall API: how far withdrawing a batch would reach, and a regulator lifting a recall from a descendant."""
from __future__ import annotations

from gi_trace.access import access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.tracing import recall, services
from gi_trace.tracing.schemas_recall import RecallLiftCreate, RecallLifted, RecallReach, RecallState

CODE = {"code": "Trace code of the batch (with or without hyphens)"}


@api_bp.get("/batches/<code>/recall-reach")
@access("producer", "regulator", "admin")
@operation(responses={200: RecallReach}, errors={404: "Unknown code, or a batch you may not see"}, path=CODE)
def recall_reach(code: str):
    """How many batches, unit codes and owners withdrawing this batch would recall (ask before confirming)."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    return RecallReach.of(recall.reach(session, batch))


@api_bp.post("/batches/<code>/recall/lift")
@access("regulator", "admin")
@operation(body=RecallLiftCreate, responses={200: RecallLifted},
           errors={403: "Another county's batch", 404: "Unknown code, or a batch you may not see",
                   409: "Not under a recall", 422: "The withdrawn batch itself, or no reason"}, path=CODE)
def lift_recall(code: str, body: Load[RecallLiftCreate]):
    """Lift the recall from a batch made from a recalled one, with the reason (a new record; the withdrawn
    batch itself stays recalled, and batches made from this one stay recalled until lifted themselves)."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    lifts = services.lift_recall(session, actor(), batch, body().reason)
    return RecallLifted(code=batch.code, lifted_recalls=[x.recall_id for x in lifts],
                        recall=RecallState.of(recall.recall_for(session, batch)))

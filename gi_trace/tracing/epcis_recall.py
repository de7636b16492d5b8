"""A recall in the EPCIS export (tracing.epcis): the disposition of every batch it reached, from stored rows only.

What the system records of a recall: the withdrawn batch's `withdrawal` event (in its hash chain; exported by
tracing.epcis as an ObjectEvent, bizStep holding, disposition recalled), one `Recall` row, one `RecallMember`
row per batch the recall reached (the withdrawn batch and every batch made from it; a batch made later from a
member — a shipment in transit arriving — gets its row when it is made), and a `RecallLift` row where a
regulator lifted the recall from a descendant shown not to contain the recalled input (tracing.recall).

In EPCIS/CBV a disposition is the business state of the objects an event names, holding until another event
changes it, and `recalled` is one a repository keeps across later events (`persistentDisposition`). Before
this module only the withdrawn batch's class was recalled in the export, so a partner's repository saw every
descendant still active although every gate here refuses it. Options weighed:

- add the members' classes to the withdrawal event's quantityList: the event's content would then depend on
  the lineage as it stands at export time (a member joining later would change an event already exported),
  breaking "one eventID = one content", and would claim the owner's withdrawal touched other owners' goods;
- invent a holding event in each member's own chain: the members' chains record no such event, and records
  are evidence;
- **chosen**: one ObjectEvent per `RecallMember` row of a batch other than the withdrawn one — the row is the
  stored record that backs it, and the event's content comes only from that row, its `Recall`, the
  withdrawal event and the member's identity, so every export that contains it says the same. eventID: the
  name-based UUID of `recall:<withdrawn batch code>:<member code>` (a batch is withdrawn once; no row id, so
  the id survives an export captured into another database); action OBSERVE, bizStep holding, disposition
  recalled, persistentDisposition set recalled; quantityList names the member's class without a quantity (the
  row records no kilograms: the recall covers whatever the batch holds); eventTime the later of the recall's
  time and the member's first event (goods that arrived after the recall were recalled on arrival);
  recordTime the row's; `gt:reason` the recall's reason, `gt:recallEventID` the withdrawal's eventID and
  `gt:withdrawnBatch` its batch code.
- A `RecallLift` row likewise gives one ObjectEvent (`recall-lift:<withdrawn batch code>:<member code>`): bizStep
  inspecting (the regulator's finding), persistentDisposition unset recalled, `gt:reason` the lift's reason;
  no disposition, since the lift says only that the recall no longer applies, not that the goods may be sold.
"""
from __future__ import annotations

from datetime import timezone
from typing import Optional

from sqlalchemy import and_, select
from sqlmodel import Session

from gi_trace.tracing.epcis_ids import Ids, event_uuid, iso, offset, qty
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.models_recall import Recall, RecallLift, RecallMember
from gi_trace.tracing.rules import local_time

LOCAL_OFFSET_MIN = 480  # a recall row keeps no zone of its own; its withdrawal event's zone, else China's


def recall_events(session: Session, ids: Ids, batches: list[Batch]) -> list[dict]:
    """The member (and lift) events of the recalls reaching these batches, the withdrawn batches excluded."""
    by_id = {b.id: b for b in batches}
    if not by_id:
        return []
    m, r, x = RecallMember.__table__, Recall.__table__, RecallLift.__table__
    withdrawal, first = Event.__table__.alias("w"), Event.__table__.alias("f")
    query = (select(m.c.batch_id, m.c.recall_id, m.c.added_at, r.c.reason, r.c.recalled_at, r.c.source_code,
                    withdrawal.c.seq, withdrawal.c.utc_offset_min, first.c.occurred_at, x.c.reason, x.c.lifted_at)
             .join(r, r.c.id == m.c.recall_id)
             .outerjoin(withdrawal, withdrawal.c.id == r.c.event_id)
             .outerjoin(first, and_(first.c.batch_id == m.c.batch_id, first.c.seq == 1))
             .outerjoin(x, and_(x.c.recall_id == m.c.recall_id, x.c.batch_id == m.c.batch_id))
             .where(m.c.batch_id.in_(list(by_id)), r.c.source_batch_id != m.c.batch_id)
             .order_by(m.c.recall_id, m.c.batch_id))
    out = []
    for (batch_id, recall_id, added_at, reason, recalled_at, source_code, withdrawal_seq, zone, began, lift_reason,
         lifted_at) in session.execute(query).all():
        batch = by_id[batch_id]
        zone = zone if zone is not None else LOCAL_OFFSET_MIN
        at = max(recalled_at, began) if began is not None else recalled_at
        item = {"type": "ObjectEvent", "eventID": event_uuid(f"recall:{source_code}:{batch.code}"),
                **_when(at, added_at, zone), "action": "OBSERVE", "quantityList": [qty(ids.batch_class(batch), None)],
                "bizStep": "holding", "disposition": "recalled", "persistentDisposition": {"set": ["recalled"]},
                "gt:reason": reason, "gt:withdrawnBatch": source_code}
        if withdrawal_seq is not None:
            # as Ids.event names it (a captured withdrawal's eventID replaces it in the export)
            item["gt:recallEventID"] = ids.named_id(f"event:{source_code}:{withdrawal_seq}")
        out.append(item)
        if lifted_at is not None:
            out.append({"type": "ObjectEvent", "eventID": event_uuid(f"recall-lift:{source_code}:{batch.code}"),
                        **_when(lifted_at, lifted_at, zone), "action": "OBSERVE",
                        "quantityList": [qty(ids.batch_class(batch), None)], "bizStep": "inspecting",
                        "persistentDisposition": {"unset": ["recalled"]}, "gt:reason": lift_reason,
                        "gt:liftOf": item["eventID"]})
    return out


def _when(at, recorded, zone: Optional[int]) -> dict:
    return {"eventTime": iso(local_time(at, zone)), "eventTimeZoneOffset": offset(zone),
            "recordTime": iso(recorded.astimezone(timezone.utc))}

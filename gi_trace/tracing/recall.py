"""A recall's reach and state: who it reaches, whether a batch is recalled now, and why.

Reach: the withdrawn batch and every batch made from it, transitively, over every kind of lineage
link (split, merge, transform, transfer), from one recursive query. `start` writes the members of a
new recall in the withdrawing transaction (one INSERT … SELECT); batches made later from a member
inherit its recalls (`inherit`: a shipment in transit when the recall committed arrives in a
recalled batch). Every gate that could show or issue a batch as sellable (labels, unit codes,
shipments, certificates, lineage operations, the Digital Link resolver and the scan page) asks
`active_recall` — one indexed lookup — so nothing waits for a background job.

`recall_for(session, batch)` is what pages use to say 已召回: the batch's recall in force (or, when
every recall of it was lifted, the latest one, with `lifted` set), or None.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import bindparam, select, text
from sqlmodel import Session

from gi_trace.tracing.models import Batch
from gi_trace.tracing.models_recall import Recall, RecallLift, RecallMember
from gi_trace.types import UTCDateTime, utcnow

# Everything made from a batch, itself included (UNION: a diamond is walked once; links never cycle).
_DOWN = """
WITH RECURSIVE down(id) AS (
    SELECT CAST(:root AS INTEGER)
    UNION
    SELECT l.child_id FROM batchlink l JOIN down ON l.parent_id = down.id
)"""
_REACH = text(_DOWN + """
SELECT COUNT(*), COALESCE(SUM(b.units_issued), 0), COUNT(DISTINCT b.producer_id),
       COALESCE(SUM(b.quantity_kg - b.out_kg), 0)
FROM down JOIN batch b ON b.id = down.id
""")
_INSERT_MEMBERS = text("INSERT INTO recallmember (recall_id, batch_id, added_at)" + _DOWN + """
SELECT :recall_id, down.id, :now FROM down
""").bindparams(bindparam("now", type_=UTCDateTime()))
_MEMBER_REACH = text("""
SELECT COUNT(*), COALESCE(SUM(b.units_issued), 0), COUNT(DISTINCT b.producer_id),
       COALESCE(SUM(b.quantity_kg - b.out_kg), 0)
FROM recallmember m JOIN batch b ON b.id = m.batch_id
WHERE m.recall_id = :recall_id
""")
_LOCK_FAMILY = text(_DOWN + "\nSELECT b.id FROM batch b WHERE b.id IN (SELECT id FROM down) ORDER BY b.id FOR UPDATE")
_INHERIT = text("""
INSERT INTO recallmember (recall_id, batch_id, added_at)
SELECT DISTINCT m.recall_id, :child, :now FROM recallmember m
WHERE m.batch_id IN :parents
  AND NOT EXISTS (SELECT 1 FROM recalllift x WHERE x.recall_id = m.recall_id AND x.batch_id = m.batch_id)
  AND NOT EXISTS (SELECT 1 FROM recallmember o WHERE o.recall_id = m.recall_id AND o.batch_id = :child)
""").bindparams(bindparam("now", type_=UTCDateTime()), bindparam("parents", expanding=True))

# The batch's recalls in force first (not lifted), newest first; then lifted ones.
_STATE = text("""
SELECT r.id, r.reason, r.recalled_at, r.source_code, r.source_batch_id, x.id, x.reason, x.lifted_at
FROM recallmember m
JOIN recall r ON r.id = m.recall_id
LEFT JOIN recalllift x ON x.recall_id = m.recall_id AND x.batch_id = m.batch_id
WHERE m.batch_id = :batch_id
ORDER BY CASE WHEN x.id IS NULL THEN 0 ELSE 1 END, r.id DESC
LIMIT 1
""")
# The same for many batches at once (a trace's nodes): every (batch, recall) row; `recall_states` picks.
_STATES = text("""
SELECT m.batch_id, r.id, r.reason, r.recalled_at, r.source_code, r.source_batch_id, x.id, x.reason, x.lifted_at
FROM recallmember m
JOIN recall r ON r.id = m.recall_id
LEFT JOIN recalllift x ON x.recall_id = m.recall_id AND x.batch_id = m.batch_id
WHERE m.batch_id IN :ids
""").bindparams(bindparam("ids", expanding=True))
STATES_CHUNK = 500  # batch ids per statement (SQLite's bound-parameter limit is far above; plans stay simple)


@dataclass(frozen=True)
class Reach:
    """How far a recall of a batch reaches: batches (itself included), unit codes, owners, kg on hand."""

    batches: int
    units: int
    owners: int
    kg_on_hand: float

    @property
    def descendants(self) -> int:
        return max(self.batches - 1, 0)


@dataclass(frozen=True)
class RecallInfo:
    """Why a batch is recalled: the recall's reason and date, the batch withdrawn, and whether it was lifted.

    `source` is True for the withdrawn batch itself; `lifted` when a regulator lifted the recall from
    this batch (then `lift_reason` and `lifted_at` say why and when). A lifted RecallInfo is history:
    the batch is not recalled.
    """

    recall_id: int
    reason: str
    recalled_at: datetime
    source_code: str
    source: bool
    lifted: bool = False
    lift_reason: str = ""
    lifted_at: Optional[datetime] = None

    @property
    def in_force(self) -> bool:
        return not self.lifted


def _aware(value) -> Optional[datetime]:
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc)


def reach(session: Session, batch: Batch) -> Reach:
    """What withdrawing this batch would recall (or a recall of it did, as the lineage stands now)."""
    session.flush()
    count, units, owners, kg = session.execute(_REACH, {"root": batch.id}).one()
    return Reach(int(count), int(units or 0), int(owners or 0), round(float(kg or 0), 3))


def start(session: Session, batch: Batch, *, reason: str, recalled_at: datetime, user_id: Optional[int],
          by_role: str, event_id: Optional[int]) -> Recall:
    """Write a recall of `batch` and its members (the batch and everything made from it), in this transaction.

    On PostgreSQL the family's rows are locked first (in id order, as lineage operations lock their
    inputs), so a split or hand-over of a member running at the same time either commits before the
    members are read (and its new batch is a member) or waits and then finds its input recalled.
    """
    session.flush()
    if session.connection().dialect.name == "postgresql":
        session.execute(_LOCK_FAMILY, {"root": batch.id})
    recall = Recall(source_batch_id=batch.id, source_code=batch.code, reason=reason, recalled_at=recalled_at,
                    recalled_by=user_id, by_role=by_role, event_id=event_id)
    session.add(recall)
    session.flush()
    session.execute(_INSERT_MEMBERS, {"root": batch.id, "recall_id": recall.id, "now": utcnow()})
    found = members_reach(session, recall.id)  # from the member rows just written: no second lineage walk
    recall.batches, recall.units, recall.owners = found.batches, found.units, found.owners
    session.add(recall)
    session.flush()
    return recall


def members_reach(session: Session, recall_id: int) -> Reach:
    """How far a recall reached: its member rows (the batches as they stand now)."""
    count, units, owners, kg = session.execute(_MEMBER_REACH, {"recall_id": recall_id}).one()
    return Reach(int(count), int(units or 0), int(owners or 0), round(float(kg or 0), 3))


def inherit(session: Session, child: Batch, parent_ids: list[int]) -> int:
    """A new batch made from recalled batches is recalled with them (returns how many recalls it joined)."""
    if not parent_ids:
        return 0
    session.flush()
    result = session.execute(_INHERIT, {"child": child.id, "parents": list(parent_ids), "now": utcnow()})
    return result.rowcount or 0


def _info(row, batch_id: int) -> RecallInfo:
    rid, reason, at, source_code, source_id, lift_id, lift_reason, lifted_at = row
    return RecallInfo(recall_id=rid, reason=reason, recalled_at=_aware(at), source_code=source_code,
                      source=source_id == batch_id, lifted=lift_id is not None, lift_reason=lift_reason or "",
                      lifted_at=_aware(lifted_at))


def recall_for(session: Session, batch: Batch) -> Optional[RecallInfo]:
    """The batch's recall in force, else its latest lifted recall (`lifted` True), else None."""
    session.flush()
    row = session.execute(_STATE, {"batch_id": batch.id}).first()
    return _info(row, batch.id) if row is not None else None


def recall_states(session: Session, batch_ids) -> dict[int, RecallInfo]:
    """`recall_for` of many batches in a few statements: {batch id: RecallInfo} for those ever recalled."""
    ids = sorted({int(i) for i in batch_ids})
    best: dict[int, tuple] = {}
    if ids:
        session.flush()
    for start_at in range(0, len(ids), STATES_CHUNK):
        for row in session.execute(_STATES, {"ids": ids[start_at:start_at + STATES_CHUNK]}).all():
            key = (row[6] is None, row[1])  # in force before lifted, then the newest recall (as _STATE orders)
            if row[0] not in best or key > best[row[0]][0]:
                best[row[0]] = (key, row[1:])
    return {batch_id: _info(row, batch_id) for batch_id, (_key, row) in best.items()}


def active_recall(session: Session, batch: Batch) -> Optional[RecallInfo]:
    """The batch's recall in force, or None: the one check every gate makes."""
    info = recall_for(session, batch)
    return info if info is not None and not info.lifted else None


def recalled_ids(session: Session, batch_ids) -> set[int]:
    """Which of these batches are recalled now (for lists: one query)."""
    ids = sorted({int(i) for i in batch_ids})
    if not ids:
        return set()
    m, x = RecallMember.__table__, RecallLift.__table__
    lifted = select(x.c.id).where(x.c.recall_id == m.c.recall_id, x.c.batch_id == m.c.batch_id).exists()
    rows = session.execute(select(m.c.batch_id).where(m.c.batch_id.in_(ids), ~lifted).distinct()).all()
    return {r[0] for r in rows}


def from_row(batch_id: int, recall_id, reason, recalled_at, source_code, source_id) -> Optional[RecallInfo]:
    """A RecallInfo from the columns the scan's read path selects with the batch (None: not recalled)."""
    if recall_id is None:
        return None
    return RecallInfo(recall_id=recall_id, reason=reason or "", recalled_at=_aware(recalled_at),
                      source_code=source_code or "", source=source_id == batch_id)


# The scan's read path selects the recall in force with the batch (scan.read_path's batch query):
# one more indexed lookup on the hot path, no lineage walk.
SCAN_COLUMNS = "rc.id, rc.reason, rc.recalled_at, rc.source_code, rc.source_batch_id"
SCAN_JOIN = """LEFT JOIN recall rc ON rc.id = (
    SELECT m.recall_id FROM recallmember m
    WHERE m.batch_id = b.id
      AND NOT EXISTS (SELECT 1 FROM recalllift x WHERE x.recall_id = m.recall_id AND x.batch_id = m.batch_id)
    ORDER BY m.recall_id DESC LIMIT 1)"""


def recalls(session: Session, producer_ids: Optional[set] = None, limit: int = 200) -> list[Recall]:
    """Recalls, newest first (optionally those whose source belongs to these owners)."""
    query = select(Recall).order_by(Recall.id.desc()).limit(limit)
    if producer_ids is not None:
        query = query.join(Batch, Batch.id == Recall.source_batch_id).where(Batch.producer_id.in_(producer_ids))
    return list(session.execute(query).scalars().all())


def lift_record(session: Session, recall_id: int, batch_id: int, reason: str, user_id: Optional[int]) -> RecallLift:
    """Write a lift (the service `tracing.services.recalls.lift` checks who and why)."""
    lift = RecallLift(recall_id=recall_id, batch_id=batch_id, reason=reason, lifted_at=utcnow(), lifted_by=user_id)
    session.add(lift)
    session.flush()
    return lift

"""Recalls: a withdrawn batch and every batch made from it, as records that are only ever added.

A `Recall` is written when a batch is withdrawn (its owner or a regulator, with a reason). The
batches it reaches — the withdrawn batch and, transitively, every batch made from it by splits,
merges, processing and hand-overs to other owners — get one `RecallMember` row each, written in
the same transaction (one INSERT … SELECT over the lineage), so from the commit on every gate and
every scan sees them as recalled by one indexed lookup. A regulator may lift the recall from a
descendant shown not to contain the recalled input: a `RecallLift` row, never an edit or a delete.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow


class Recall(SQLModel, table=True):
    """One recall: the batch withdrawn, why, when, by whom, and how far it reached at the commit."""

    __table_args__ = (Index("ix_recall_source", "source_batch_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    source_batch_id: int = Field(foreign_key="batch.id")
    source_code: str = Field(max_length=14)
    reason: str = Field(max_length=1000)
    recalled_at: datetime = Field(sa_type=UTCDateTime)  # when the withdrawal took effect
    recalled_by: Optional[int] = Field(default=None, foreign_key="user.id")
    by_role: str = Field(default="", max_length=16)
    event_id: Optional[int] = Field(default=None, foreign_key="event.id")  # the source's withdrawal event
    batches: int = 0  # batches reached at the commit, the source included
    units: int = 0  # unit codes issued under them at the commit
    owners: int = 0  # distinct owners of those batches
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<Recall {self.id} {self.source_code} {self.batches} batches>"


class RecallMember(SQLModel, table=True):
    """A batch a recall reaches (the source included)."""

    __table_args__ = (UniqueConstraint("batch_id", "recall_id", name="uq_recallmember_batch_recall"),
                      Index("ix_recallmember_recall", "recall_id", "batch_id"))

    id: Optional[int] = Field(default=None, primary_key=True)
    recall_id: int = Field(foreign_key="recall.id")
    batch_id: int = Field(foreign_key="batch.id")
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<RecallMember recall={self.recall_id} batch={self.batch_id}>"


class RecallLift(SQLModel, table=True):
    """A regulator's decision that a descendant is not affected by a recall (with the reason)."""

    __table_args__ = (UniqueConstraint("recall_id", "batch_id", name="uq_recalllift_recall_batch"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    recall_id: int = Field(foreign_key="recall.id")
    batch_id: int = Field(foreign_key="batch.id")
    reason: str = Field(max_length=1000)
    lifted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lifted_by: Optional[int] = Field(default=None, foreign_key="user.id")

    def __repr__(self) -> str:
        return f"<RecallLift recall={self.recall_id} batch={self.batch_id}>"

"""What the recall API takes and answers (see `tracing/recall.py`)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from gi_trace.schemas import Body, Public
from gi_trace.tracing import recall


def _iso(value) -> Optional[str]:
    return value.isoformat() if value is not None else None


class RecallState(Public):
    """Whether a batch is recalled, and why."""

    recalled: bool = Field(description="True while a recall is in force on the batch (not lifted)")
    recall_id: int
    reason: str
    recalled_at: str = Field(description="When the withdrawal that started the recall took effect (ISO 8601)")
    source_code: str = Field(description="The withdrawn batch the recall started from")
    source: bool = Field(description="True when this batch is the withdrawn batch itself")
    lifted: bool
    lift_reason: Optional[str]
    lifted_at: Optional[str]

    @classmethod
    def of(cls, info: Optional[recall.RecallInfo]) -> Optional["RecallState"]:
        if info is None:
            return None
        return cls(recalled=not info.lifted, recall_id=info.recall_id, reason=info.reason,
                   recalled_at=_iso(info.recalled_at), source_code=info.source_code, source=info.source,
                   lifted=info.lifted, lift_reason=info.lift_reason or None, lifted_at=_iso(info.lifted_at))


class RecallReach(Public):
    """How far a recall of the batch reaches: the batch and everything made from it, across owners."""

    batches: int = Field(description="Batches recalled, the withdrawn batch included")
    descendants: int = Field(description="Batches made from it (splits, merges, processing, hand-overs)")
    units: int = Field(description="Unit codes (一物一码) issued under those batches")
    owners: int = Field(description="Distinct owners of those batches")
    kg_on_hand: float = Field(description="Kilograms those batches still hold")

    @classmethod
    def of(cls, found: recall.Reach) -> "RecallReach":
        return cls(batches=found.batches, descendants=found.descendants, units=found.units, owners=found.owners,
                   kg_on_hand=found.kg_on_hand)


class RecallCreated(Public):
    """The recall a withdrawal started and what it reached at the commit."""

    recall_id: int
    reach: RecallReach


class RecallLiftCreate(Body):
    reason: str = Field(description="Why the recall does not apply to this batch (e.g. shown not to contain "
                                    "the recalled input)")


class RecallLifted(Public):
    """The batch after the lift: its recall state (lifted) and the recalls lifted from it."""

    code: str
    lifted_recalls: list[int]
    recall: Optional[RecallState]

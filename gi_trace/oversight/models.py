"""Supervision records: inspections. Records are evidence: an inspection is never edited.

Complaints are filed from the scan page and live in the scan area (gi_trace.scan.models); the
regulators' work on them is in gi_trace.oversight.services.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

INSPECTION_RESULTS = ("pass", "fail")


class Inspection(SQLModel, table=True):
    """A supervision visit to a producer: scope, result and findings. Never edited."""

    id: Optional[int] = Field(default=None, primary_key=True)
    inspected_on: date = Field(index=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    product_id: Optional[int] = Field(default=None, foreign_key="product.id", index=True)
    inspector_id: int = Field(foreign_key="user.id")
    scope: str = Field(max_length=300)
    result: str = Field(max_length=8)  # pass | fail
    findings: str = Field(default="", max_length=4000)
    # The suspension decided in the same step as a failed inspection, if any.
    decision_id: Optional[int] = Field(default=None, foreign_key="authorisationdecision.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<Inspection {self.id} {self.inspected_on} {self.result}>"

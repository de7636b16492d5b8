"""Supervision records: inspections, complaints and the history of each complaint.

Records are evidence: an inspection is never edited; a complaint's status changes are each kept
as a ComplaintUpdate row (who, when, from which status to which, the note) besides the current
values on the complaint itself.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

INSPECTION_RESULTS = ("pass", "fail")
COMPLAINT_SOURCES = ("scan", "staff")
COMPLAINT_CATEGORIES = ("counterfeit", "origin", "quality", "labelling", "other")
COMPLAINT_STATUSES = ("new", "investigating", "closed")


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


class Complaint(SQLModel, table=True):
    """A report from a shopper (scan page) or entered by staff; worked through a queue."""

    __table_args__ = (Index("ix_complaint_status_created", "status", "created_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(max_length=8)  # scan | staff
    category: str = Field(max_length=16)
    text: str = Field(max_length=4000)
    contact: str = Field(default="", max_length=200)
    # A photo re-encoded by the caller (scan page) is kept as bytes; a staff upload may be a path.
    photo: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    photo_mime: str = Field(default="", max_length=32)
    photo_path: str = Field(default="", max_length=300)
    code: str = Field(default="", max_length=64, index=True)  # the trace / unit code it is about
    batch_id: Optional[int] = Field(default=None, index=True)  # no FK: tracing owns batches
    producer_id: Optional[int] = Field(default=None, foreign_key="producer.id", index=True)
    scan_context: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default="new", max_length=16)
    assignee_id: Optional[int] = Field(default=None, foreign_key="user.id")
    resolution: str = Field(default="", max_length=4000)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")  # staff entry; None from the scan page
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<Complaint {self.id} {self.category} {self.status}>"


class ComplaintUpdate(SQLModel, table=True):
    """One change to a complaint (status, assignee, note, resolution): who and when. Append-only."""

    id: Optional[int] = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    from_status: str = Field(default="", max_length=16)
    to_status: str = Field(max_length=16)
    assignee_id: Optional[int] = Field(default=None, foreign_key="user.id")
    note: str = Field(default="", max_length=4000)
    by_user_id: Optional[int] = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<ComplaintUpdate {self.complaint_id} {self.from_status}->{self.to_status}>"

"""The append-only history of decisions on the right to use the GI special mark."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow


class AuthorisationDecision(SQLModel, table=True):
    """One decision (apply, approve, reject, suspend, reinstate, revoke). Never edited or deleted."""

    __table_args__ = (Index("ix_authdecision_producer_product", "producer_id", "product_id", "effective_date", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id")
    product_id: int = Field(foreign_key="product.id", index=True)
    action: str = Field(max_length=16)
    effective_date: date = Field(index=True)
    reference_no: str = Field(default="", max_length=64)
    valid_until: Optional[date] = None
    reason: str = Field(default="", max_length=1000)
    # Coded reason of a rejection, suspension or revocation (rules.REASON_CODES); the text says more.
    reason_code: str = Field(default="", max_length=32)
    # An approval's evidence and papers: licence contract, public notice (公告), the standard met,
    # the latest passing test report, and for processors/traders the declared sources of raw material.
    contract_no: str = Field(default="", max_length=64)
    notice_no: str = Field(default="", max_length=64)
    standard: str = Field(default="", max_length=100)
    test_report_no: str = Field(default="", max_length=64)
    sources: str = Field(default="", max_length=1000)
    # Who decided and when it was recorded: records are evidence.
    decided_by: Optional[int] = Field(default=None, foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    source: str = Field(default="web", max_length=16)
    # Set when this decision came from a failed inspection (oversight) or similar origin.
    inspection_id: Optional[int] = None

    def __repr__(self) -> str:
        return f"<AuthorisationDecision {self.id} {self.action} {self.effective_date}>"

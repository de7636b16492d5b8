"""Supervision records: inspections. Records are evidence: an inspection is never edited.

Complaints are filed from the scan page and live in the scan area (gi_trace.scan.models); the
regulators' work on them is in gi_trace.oversight.services.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
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


class EnforcementCase(SQLModel, table=True):
    """An administrative enforcement case (立案 … 结案) about the GI: who, what was found, the penalties.

    Opened once; closing fills the closing date and the penalties once and never changes them again.
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=64, unique=True, index=True)
    product_id: Optional[int] = Field(default=None, foreign_key="product.id", index=True)
    producer_id: Optional[int] = Field(default=None, foreign_key="producer.id", index=True)
    party: str = Field(max_length=200)  # the party's name (a firm, or a trader not on the register)
    county_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    finding: str = Field(max_length=4000)
    opened_on: date = Field(index=True)  # 立案
    closed_on: Optional[date] = None  # 结案
    fine_yuan: float = 0.0
    confiscated: str = Field(default="", max_length=500)  # what was confiscated (goods, labels)
    confiscated_value_yuan: float = 0.0
    transferred_to_police: bool = False
    recorded_by: Optional[int] = Field(default=None, foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_by: Optional[int] = Field(default=None, foreign_key="user.id")

    def __repr__(self) -> str:
        return f"<EnforcementCase {self.case_no}>"


REPORT_STATUSES = ("draft", "issued")


class AnnualReport(SQLModel, table=True):
    """One version of an annual GI supervision report. A draft keeps the regulator's cover data and text;
    issuing stores the figures, HTML and PDF with their hash, and an issued version never changes."""

    __table_args__ = (Index("ix_annualreport_product_year", "product_id", "year", "county_code", "version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id")
    year: int
    county_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    version: int = 1
    status: str = Field(default="draft", max_length=8)  # REPORT_STATUSES
    authority: str = Field(max_length=200)
    document_no: str = Field(default="", max_length=100)
    dated: Optional[date] = None  # the date printed on the document
    problems_text: str = Field(default="", sa_type=Text)  # 五、存在问题和下一步工作, written by the regulator
    # Frozen at issue (empty on drafts): the figures as JSON, the HTML and PDF in both languages.
    figures_json: str = Field(default="", sa_type=Text)
    html_zh: str = Field(default="", sa_type=Text)
    html_en: str = Field(default="", sa_type=Text)
    pdf_zh: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))
    pdf_en: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))
    sha256: str = Field(default="", max_length=64)  # over figures, HTML and PDF (see report_document)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    issued_by: Optional[int] = Field(default=None, foreign_key="user.id")
    issued_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    @property
    def issued(self) -> bool:
        return self.status == "issued"

    def __repr__(self) -> str:
        return f"<AnnualReport {self.year} v{self.version} {self.status}>"


class UseReport(SQLModel, table=True):
    """A user's annual report on its use of the GI special mark (使用情况报告): generated from its batches,
    labels and unit codes, then confirmed (or annotated) by the user. One per producer, product and year;
    the figures are those the user confirmed."""

    __table_args__ = (UniqueConstraint("producer_id", "product_id", "year", name="uq_usereport_producer_year"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    year: int = Field(index=True)
    figures: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=2000)  # the user's annotation
    confirmed_by: Optional[int] = Field(default=None, foreign_key="user.id")
    confirmed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<UseReport {self.producer_id} {self.year}>"

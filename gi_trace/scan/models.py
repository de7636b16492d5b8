"""Scan counting, counterfeit signals, and the complaints shoppers file from the scan page.

A scan is counted per code (batch code or unit code) in one row, and per (code, network) in another,
so the page can say "scanned N times, first on ..." and count distinct networks without keeping a
row per scan. A network is stored only as a salted hash of its /24 (IPv4) or /48 (IPv6) prefix:
never a raw address.

Complaints are evidence: a complaint's status changes (worked by regulators, gi_trace.oversight)
are each kept as a ComplaintUpdate row (who, when, from which status to which, the note) besides
the current values on the complaint itself.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, event
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

CODE_KINDS = ("batch", "unit")
FLAG_REASONS = ("scans", "networks", "days")  # "scans" only on flags raised before issue 14
FLAG_STATUSES = ("open", "dismissed", "confirmed")
COMPLAINT_SOURCES = ("scan", "staff")
COMPLAINT_CATEGORIES = ("counterfeit", "origin", "quality", "labelling", "other")
COMPLAINT_STATUSES = ("new", "investigating", "closed")


class ScanCounter(SQLModel, table=True):
    """How often one code was scanned, first and last, and from how many distinct networks."""

    # On SQLite the primary key is the table (no separate rowid B-tree): half the pages to write per scan.
    __table_args__ = {"sqlite_with_rowid": False}

    code: str = Field(primary_key=True, max_length=16)
    kind: str = Field(max_length=8)  # batch | unit
    batch_id: Optional[int] = Field(default=None, index=True)  # no FK: tracing owns batches
    scans: int = 0
    networks: int = 0
    # Distinct local days with a scan, and the last of them (YYYY-MM-DD).
    days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_day: str = Field(default="", max_length=10, sa_column_kwargs={"server_default": ""})
    first_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set once, when the code crossed a threshold and a CounterfeitFlag was raised.
    flagged: bool = False

    def __repr__(self) -> str:
        return f"<ScanCounter {self.code} {self.scans}×/{self.networks} nets>"


class ScanNetwork(SQLModel, table=True):
    """The scan log per network: one row per (code, salted network hash)."""

    __table_args__ = {"sqlite_with_rowid": False}

    code: str = Field(primary_key=True, max_length=16)
    network_hash: str = Field(primary_key=True, max_length=32)
    scans: int = 0
    first_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<ScanNetwork {self.code} {self.network_hash[:8]} {self.scans}×>"


class CounterfeitFlag(SQLModel, table=True):
    """A code scanned too often or from too many networks: a possible cloned label, for regulators."""

    __table_args__ = (Index("ix_counterfeitflag_status_raised", "status", "raised_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=8)
    batch_id: Optional[int] = Field(default=None, index=True)
    producer_id: Optional[int] = Field(default=None, foreign_key="producer.id", index=True)
    reason: str = Field(max_length=16)  # networks | days (scans: raised by the old rule)
    scans: int
    networks: int
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=16)
    reviewed_by: Optional[int] = Field(default=None, foreign_key="user.id")
    reviewed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=2000)

    def __repr__(self) -> str:
        return f"<CounterfeitFlag {self.id} {self.code} {self.reason}>"


class StoredPage(SQLModel, table=True):
    """The part of a batch's trace page that its record makes: timeline, harvests behind it, chain check.

    Made stale by the transaction that changes the record (for the batch and every batch made from it:
    its `StoredPageLive` row is deleted), built again by a background job (`scan.stored_pages`), and read
    by a scan in place of walking the lineage and re-hashing the events. A cache of the record, never evidence: it can be dropped and
    rebuilt at any time.
    """

    # No foreign key: tracing owns batches (as for the scan counters).
    batch_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # The batch's head hash when the page was built: an event appended since makes the page stale.
    head_hash: str = Field(default="", max_length=64)
    basis: str = Field(max_length=16)  # page format, wording, product and town names it was built with
    entries: int = 0  # events whose chains were checked
    verifies: bool = True
    built_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    body_zh: str = Field(default="", sa_type=Text)  # scan.page_text.history_html(...): escaped HTML, in Chinese
    body_en: str = Field(default="", sa_type=Text)  # ... and in English

    def __repr__(self) -> str:
        return f"<StoredPage batch {self.batch_id} {self.basis}>"


# PostgreSQL compresses the page bodies with lz4 where the server has it (PostgreSQL 14+ built with lz4):
# a family's pages are stored again after every write to it, and pglz, the default, took about twice as
# long on the server (10,003 pages: 16-18 s against 8-10 s, bench database on a loaded 2-core machine).
# Databases made by migrations get the same from the migration of this change (b5e2d7c1f9a3).
LZ4_AVAILABLE = ("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                 "AND 'lz4' = ANY(enumvals)")


@event.listens_for(StoredPage.__table__, "after_create")
def _bodies_with_lz4(table, connection, **_kw) -> None:
    if connection.dialect.name == "postgresql" and connection.exec_driver_sql(LZ4_AVAILABLE).first():
        for column in ("body_zh", "body_en"):
            connection.exec_driver_sql(f"ALTER TABLE {table.name} ALTER COLUMN {column} SET COMPRESSION lz4")


class StoredPageLive(SQLModel, table=True):
    """The stored pages no write has invalidated since they were built: one narrow row per page.

    A writer's transaction deletes these rows for the batches it changed and every batch made from them
    (`scan.stored_pages.invalidate`); the wide `StoredPage` rows (HTML in two languages, ~10 KB) stay
    until the job replaces them, so a correction on a harvest with 10,000 descendants deletes 10,000
    small rows instead of ~100 MB of page bodies. A scan uses a stored page only when both rows exist.
    """

    batch_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})

    def __repr__(self) -> str:
        return f"<StoredPageLive batch {self.batch_id}>"


class Complaint(SQLModel, table=True):
    """A report from a shopper (scan page) or entered by staff; worked through a queue."""

    __table_args__ = (Index("ix_complaint_status_created", "status", "created_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    # What the complainant keeps to follow the complaint up (status page /report/status), e.g. TS20261129-7KQ4M.
    reference: str = Field(default="", max_length=24, index=True)
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
    # Where the product was bought: a shop and its city, or an online platform and the order number.
    bought_shop: str = Field(default="", max_length=200)
    bought_city: str = Field(default="", max_length=100)
    bought_platform: str = Field(default="", max_length=100)
    order_no: str = Field(default="", max_length=100)
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

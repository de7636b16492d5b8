"""Batch traceability tables: batches, their append-only stage events, lineage links, unit codes,
product lines (GTINs) and plausibility flags.

Quantities and balances (all masses in kilograms, rounded to the gram)
----------------------------------------------------------------------
- ``Batch.quantity_kg`` is what the batch HOLDS in its current form: the sum of its harvest rounds
  (fresh kg) until it is dried, then the dried kg out of drying; for a batch made by a split,
  merge or processing step it is the kg it received from its parents (``BatchLink.quantity_kg``)
  or, for processing, the output kg declared for it.
- ``Batch.out_kg`` is what has LEFT the batch: kg sent to child batches (split, merge, processing
  inputs; one ``BatchLink`` each) plus kg recorded as distributed (``distribution`` events).
- ``Batch.available_kg`` = ``quantity_kg - out_kg``. Mass balance: ``out_kg <= quantity_kg``
  always; no event or link may push a batch below zero (refused, "quantity from nothing").
  Drying changes the form of the whole batch, so it is refused once anything has left it.
- Processing may lose mass (sorting, powder) but never gain it: outputs <= inputs.
- These columns (and ``stage``, ``test_state``, ``grade``, ``open_flags``, ``event_count``,
  ``head_hash``…) are a projection of the batch's events kept by ``tracing.services`` in the same
  transaction; the events are the evidence. Never write them from anywhere else.

Events
------
``Event`` rows are never updated or deleted. A correction is a new event with
``corrects_event_id`` and ``correction_reason``; the projection then uses the corrected content.
Each event's ``hash`` is SHA-256 over its canonical JSON content and ``prev_hash`` (the previous
event of the same batch, "" for the first); ``seq`` numbers a batch's events 1, 2, 3… and is
UNIQUE per batch so two concurrent writers cannot fork a chain (one of them gets a conflict).
Lineage operations write one event in every batch they touch (the parents' "out" events and each
child's first event), grouped by ``op_id``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

BATCH_KINDS = ("harvest", "lot", "merged", "processed", "received", "purchased")
# `transfer`: kilograms of the parent (the sender's batch) arrived in the child (the receiver's batch).
LINK_KINDS = ("split", "merge", "transform", "transfer")
# Stages outside the product template that services write themselves.
SYSTEM_STAGES = ("split", "merge", "withdrawal", "clearance")
# "ungraded": passes the limits but lies below the lowest grade (no GI mark); see tracing.quality.
TEST_STATES = ("untested", "passed", "failed", "ungraded")
# inside_safety_interval: an input recorded after a harvest shows the harvest was inside its safety interval.
FLAG_KINDS = ("yield_over_cap", "drying_ratio", "out_of_season", "labels_over_quantity", "inside_safety_interval",
              "marked_over_supply", "declared_purchase_large")
FLAG_STATUSES = ("open", "cleared", "confirmed")
SHIPMENT_STATUSES = ("in_transit", "received", "rejected")
# Where a batch's kilograms come from, as far as the GI mark is concerned (Batch.origin_state):
# "" a harvest batch (its own harvest town decides) or a batch from before the state was kept;
# "verified" every kilogram traces to harvests in the product's protected towns by registered producers;
# "declared" some kilograms were bought from an unregistered seller (origin declared, not verified);
# "outside" some kilograms were harvested outside the protected towns (or have no harvest town).
ORIGIN_STATES = ("", "verified", "declared", "outside")
# Rounding of masses: grams.
KG_DIGITS = 3


class ProductLine(SQLModel, table=True):
    """A producer's product line with its GTIN-14 (GS1 Digital Link `/01/<gtin14>/10/<lot>`)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    gtin14: str = Field(max_length=14, unique=True, index=True)
    name: str = Field(max_length=200)
    trademark_id: Optional[int] = Field(default=None, foreign_key="trademark.id")
    product_form: str = Field(default="dried", max_length=32)
    package_kg: Optional[float] = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")

    def __repr__(self) -> str:
        return f"<ProductLine {self.gtin14} {self.name}>"


class Batch(SQLModel, table=True):
    """A traced quantity of one producer's GI product, identified by its public trace code."""

    __table_args__ = (
        Index("ix_batch_producer_created", "producer_id", "created_at"),
        Index("ix_batch_line_lot", "product_line_id", "producer_lot"),
        # Covering: a trace reads its nodes' few columns from this narrow index, never the wide rows.
        Index("ix_batch_trace", "id", "code", "kind", "producer_id", "product_form", "quantity_kg",
              "origin_town_code", "harvest_year", "withdrawn_at"),
        # Covering: 以产核标 figures per party and year in one pass over this index (tracing.capacity).
        Index("ix_batch_balance", "product_id", "harvest_year", "producer_id", "kind", "origin_state",
              "origin_town_code", "product_form", "quantity_kg", "units_issued", "label_copies", "product_line_id",
              "id"),
        UniqueConstraint("producer_id", "producer_lot", name="uq_batch_producer_lot"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=14, unique=True, index=True)  # tracing.codes: 13 random + check
    producer_id: int = Field(foreign_key="producer.id")
    product_id: int = Field(foreign_key="product.id", index=True)
    kind: str = Field(max_length=16)  # BATCH_KINDS
    unit: str = Field(default="kg", max_length=16)
    quantity_kg: float = 0.0  # held, in the current form (see module docstring)
    out_kg: float = 0.0  # left the batch: to child batches or distributed
    cultivar: str = Field(default="", max_length=64)
    product_form: str = Field(default="fresh", max_length=32)  # fresh, dried, powder, juice, ...
    producer_lot: Optional[str] = Field(default=None, max_length=40)  # the producer's own lot number
    product_line_id: Optional[int] = Field(default=None, foreign_key="productline.id")
    # 区域公用品牌 + 企业自主商标品牌: the enterprise's trademark printed beside the GI mark.
    trademark_id: Optional[int] = Field(default=None, foreign_key="trademark.id")
    trademark_name: str = Field(default="", max_length=100)
    # Projection of the events (kept by tracing.services).
    stage: str = Field(default="", max_length=32)  # furthest template stage reached
    test_state: str = Field(default="untested", max_length=16)  # TEST_STATES, from the latest test
    tested_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    # The computed verdict with its failures (own and carried in from inputs) and clearances
    # (tracing.quality.Ledger.record); None before any test. Read by tracing.quality.test_verdict.
    quality: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    grains_per_50g: Optional[int] = None
    grade: Optional[str] = Field(default=None, max_length=16)  # derived from grains via the limits' grade scale
    origin_town_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    harvest_year: Optional[int] = None
    open_flags: int = 0  # > 0: regulators see the batch "under review"
    event_count: int = 0
    first_event_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_event_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    head_hash: str = Field(default="", max_length=64)  # hash of the latest event
    # Origin projection, set when the batch is made (split/merge/processing/receipt/purchase) from its
    # parents' origins, so the GI-mark check on a scan never walks the lineage (ORIGIN_STATES).
    origin_state: str = Field(default="", max_length=16)
    origin_break_code: Optional[str] = Field(default=None, max_length=14)  # the source batch that breaks it
    units_issued: int = 0  # unit codes (一物一码) issued under this batch
    # Copies of the batch code printed as labels: each one labels a package of the batch's size.
    label_copies: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Withdrawal is an event too; these columns make it cheap to show (never a delete).
    withdrawn_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    withdrawn_reason: str = Field(default="", max_length=1000)
    withdrawn_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")

    @property
    def available_kg(self) -> float:
        """What the batch still holds: quantity minus what has left it."""
        return round(self.quantity_kg - self.out_kg, KG_DIGITS)

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def under_review(self) -> bool:
        """True while any plausibility flag on the batch is open."""
        return self.open_flags > 0

    def __repr__(self) -> str:
        return f"<Batch {self.code} {self.kind} {self.quantity_kg}kg>"


class Event(SQLModel, table=True):
    """One stage event of a batch, hash-chained to the previous one. Never updated or deleted."""

    __table_args__ = (UniqueConstraint("batch_id", "seq", name="uq_event_batch_seq"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id")
    seq: int  # 1, 2, 3… within the batch
    stage: str = Field(max_length=32)  # a template stage slug or SYSTEM_STAGES
    occurred_at: datetime = Field(sa_type=UTCDateTime)  # stored in UTC
    utc_offset_min: int = 480  # the offset the time was given in (minutes east of UTC)
    location_town_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    location_name: str = Field(default="", max_length=200)
    quantity_kg: Optional[float] = None
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    op_id: Optional[str] = Field(default=None, max_length=32, index=True)  # groups one lineage operation
    recorded_by: Optional[int] = Field(default=None, foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    corrects_event_id: Optional[int] = Field(default=None, foreign_key="event.id")
    correction_reason: str = Field(default="", max_length=1000)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)

    def __repr__(self) -> str:
        return f"<Event {self.batch_id}#{self.seq} {self.stage}>"


class BatchLink(SQLModel, table=True):
    """Lineage: `quantity_kg` of the parent went into the child (split, merge or transform)."""

    __table_args__ = (
        UniqueConstraint("parent_id", "child_id", name="uq_batchlink_parent_child"),
        # Covering: a backward trace walks the links from the index alone (lineage._BACKWARD).
        Index("ix_batchlink_up", "child_id", "parent_id", "kind", "quantity_kg"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    parent_id: int = Field(foreign_key="batch.id")
    child_id: int = Field(foreign_key="batch.id")
    quantity_kg: float
    kind: str = Field(max_length=16)  # LINK_KINDS
    event_id: Optional[int] = Field(default=None, foreign_key="event.id")  # the child's first event
    parent_event_id: Optional[int] = Field(default=None, foreign_key="event.id")  # the parent's "out" event
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<BatchLink {self.parent_id}->{self.child_id} {self.quantity_kg}kg {self.kind}>"


class UnitCode(SQLModel, table=True):
    """One package's own code under a batch (一物一码); issued by the labels service."""

    __table_args__ = (UniqueConstraint("batch_id", "serial", name="uq_unitcode_batch_serial"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=14, unique=True, index=True)
    batch_id: int = Field(foreign_key="batch.id")
    serial: int  # 1..N within the batch
    package_kg: Optional[float] = None
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    issued_by: Optional[int] = Field(default=None, foreign_key="user.id")

    def __repr__(self) -> str:
        return f"<UnitCode {self.code} batch={self.batch_id} #{self.serial}>"


class PlausibilityFlag(SQLModel, table=True):
    """A recorded fact that looks implausible (以地定产、以产核标), for a regulator to review."""

    __table_args__ = (Index("ix_flag_status_raised", "status", "raised_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    event_id: Optional[int] = Field(default=None, foreign_key="event.id")
    producer_id: int = Field(foreign_key="producer.id", index=True)  # regulators filter by county
    kind: str = Field(max_length=32)  # FLAG_KINDS
    message: str = Field(max_length=1000)  # English message id, rendered in Chinese by tracing.rules
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=16)  # FLAG_STATUSES
    reviewed_by: Optional[int] = Field(default=None, foreign_key="user.id")
    reviewed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    review_outcome: str = Field(default="", max_length=16)  # cleared | confirmed
    review_note: str = Field(default="", max_length=2000)

    def __repr__(self) -> str:
        return f"<PlausibilityFlag {self.kind} batch={self.batch_id} {self.status}>"


class Shipment(SQLModel, table=True):
    """A hand-over of kilograms of a batch from its owner to another registered party (ship → receive/reject).

    Shipping takes the kilograms out of the sender's batch at once (an event in it); receiving makes a
    new batch of the receiver linked to the shipped one (`BatchLink` kind `transfer`) holding what arrived,
    the rest being a loss in transit; rejecting returns them to the sender's batch. A market purchase of a
    registered seller's batch is a shipment received at once (`purchase_id`).
    """

    __table_args__ = (
        Index("ix_shipment_to_status", "to_party_id", "status"),
        Index("ix_shipment_from_status", "from_party_id", "status"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    from_party_id: int = Field(foreign_key="producer.id")
    to_party_id: int = Field(foreign_key="producer.id")
    quantity_kg: float
    shipped_at: datetime = Field(sa_type=UTCDateTime)
    utc_offset_min: int = 480
    document_no: str = Field(default="", max_length=64)  # waybill or invoice
    status: str = Field(default="in_transit", max_length=16)  # SHIPMENT_STATUSES
    op_id: str = Field(max_length=32)  # groups the events of this shipment in both parties' batches
    ship_event_id: Optional[int] = Field(default=None, foreign_key="event.id")
    received_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    received_kg: Optional[float] = None
    loss_kg: Optional[float] = None  # shipped minus received: lost in transit
    received_batch_id: Optional[int] = Field(default=None, foreign_key="batch.id")
    rejected_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    reject_reason: str = Field(default="", max_length=1000)
    purchase_id: Optional[int] = Field(default=None, foreign_key="purchase.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")
    closed_by: Optional[int] = Field(default=None, foreign_key="user.id")

    def __repr__(self) -> str:
        return f"<Shipment {self.id} {self.from_party_id}->{self.to_party_id} {self.quantity_kg}kg {self.status}>"


class Purchase(SQLModel, table=True):
    """A market purchase (收购) recorded by the buyer: from a registered seller (and its batch) or from an
    unregistered farmer, whose origin is then declared, not verified."""

    __table_args__ = (Index("ix_purchase_buyer_at", "buyer_id", "purchased_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    buyer_id: int = Field(foreign_key="producer.id")
    seller_id: Optional[int] = Field(default=None, foreign_key="producer.id")
    # An unregistered seller as the buyer typed it: personal information, never shown on public pages.
    seller_name: str = Field(default="", max_length=200)
    town_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    quantity_kg: float
    grade: str = Field(default="", max_length=16)
    price_yuan_per_kg: Optional[float] = None
    purchased_at: datetime = Field(sa_type=UTCDateTime)
    utc_offset_min: int = 480
    source_batch_id: Optional[int] = Field(default=None, foreign_key="batch.id")
    batch_id: int = Field(foreign_key="batch.id", index=True)  # the buyer's new batch
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")

    def __repr__(self) -> str:
        return f"<Purchase {self.id} buyer={self.buyer_id} {self.quantity_kg}kg>"

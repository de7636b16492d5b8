"""Register tables: regions, GI products, producers, their plots, output and official totals."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

REGION_LEVELS = ("city", "county", "town")
# Growers (the GI register's producers of today) and the businesses further down the chain; every one is
# a registered party (a `Producer` row) that can own batches and ship or receive goods.
GROWER_KINDS = ("enterprise", "cooperative", "family_farm", "household")
BUSINESS_KINDS = ("trader", "processor", "market", "retailer")
PRODUCER_KINDS = GROWER_KINDS + BUSINESS_KINDS
# What an official sector total counts: the producers/output of the protected towns, or of the whole area.
TOTAL_SCOPES = ("protected_area", "whole_sector")
PRODUCT_KINDS = ("certification_mark", "gi_protected_product", "agricultural_gi", "collective_mark")


class Region(SQLModel, table=True):
    """An administrative division with its statistical code (city 6, county 6, town 9 digits)."""

    code: str = Field(primary_key=True, max_length=12)
    name_zh: str = Field(max_length=64)
    name_en: str = Field(default="", max_length=64)
    level: str = Field(max_length=8, index=True)
    parent_code: Optional[str] = Field(default=None, foreign_key="region.code", index=True, max_length=12)

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name_zh}>"


class Product(SQLModel, table=True):
    """A GI product with its protected area and plausibility parameters (data, not code)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name_zh: str = Field(max_length=64)
    name_en: str = Field(default="", max_length=128)
    holder: str = Field(default="", max_length=200)
    unit: str = Field(default="kg", max_length=16)
    # Plausibility parameters (以地定产): yield cap, fresh:dried band, moisture, season.
    max_dried_yield_kg_per_mu: Optional[float] = None
    fresh_dried_ratio_min: Optional[float] = None
    fresh_dried_ratio_max: Optional[float] = None
    max_moisture_pct: Optional[float] = None
    season_start_mmdd: Optional[str] = Field(default=None, max_length=5)
    season_end_mmdd: Optional[str] = Field(default=None, max_length=5)
    target_share: float = 0.6
    # Default term of an authorisation to use the mark (years); renewal reminders come 60 days ahead.
    authorisation_term_years: Optional[int] = 3
    # Stage template and grade scale are data so a second product needs no code change.
    stage_template: Optional[list] = Field(default=None, sa_column=Column(JSON))
    grade_scale: Optional[list] = Field(default=None, sa_column=Column(JSON))
    # Package sizes (kg) a regulator approved for unit codes of batches without a product line's fixed
    # size: the size comes from here or from the line, never from the request that issues the codes.
    package_sizes_kg: Optional[list] = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<Product {self.slug}>"


class ProductRegistration(SQLModel, table=True):
    """One legal protection of a product: certification mark, GI-protected product, agricultural GI."""

    __table_args__ = (UniqueConstraint("product_id", "kind", name="uq_product_registration_kind"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    kind: str = Field(max_length=32)
    registration_no: str = Field(default="", max_length=64)
    registered_on: Optional[str] = Field(default=None, max_length=10)

    def __repr__(self) -> str:
        return f"<ProductRegistration {self.kind} {self.registration_no}>"


class ProductTown(SQLModel, table=True):
    """A town inside a product's protected area."""

    product_id: int = Field(foreign_key="product.id", primary_key=True)
    town_code: str = Field(foreign_key="region.code", primary_key=True, max_length=12)

    def __repr__(self) -> str:
        return f"<ProductTown {self.product_id} {self.town_code}>"


class Producer(SQLModel, table=True):
    """A registered party of the chain: a grower, cooperative or firm, or a trader, processor, market or
    retailer (`kind`). Households may have no USCC and get a registry number."""

    id: Optional[int] = Field(default=None, primary_key=True)
    uscc: Optional[str] = Field(default=None, max_length=18, unique=True, index=True)
    registry_no: Optional[str] = Field(default=None, max_length=32, unique=True, index=True)
    # False when the USCC's check character fails and a regulator accepted it anyway.
    uscc_check_ok: bool = True
    uscc_warning_accepted_by: Optional[int] = None  # user id; no FK: users also point at producers
    name: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=16)
    # The party's GS1 Global Location Number (13 digits, valid check digit; AI 417), if it has one: trading
    # partners name it by this, and the EPCIS export names it `/417/<gln>`. Who recorded it last, and when.
    gln: Optional[str] = Field(default=None, max_length=13, unique=True, index=True)
    gln_recorded_by: Optional[int] = None  # user id (see uscc_warning_accepted_by)
    gln_recorded_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    county_code: str = Field(foreign_key="region.code", max_length=12, index=True)
    town_code: str = Field(foreign_key="region.code", max_length=12, index=True)
    address: str = Field(default="", max_length=300)
    contact_name: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=40)
    # On the register from / until (a year's denominators count only producers registered on its date).
    registered_on: Optional[date] = Field(default=None, index=True)
    deregistered_on: Optional[date] = None
    # Who took the producer off the register, why and when that was recorded (the page's deregistration).
    deregistered_by: Optional[int] = None  # user id (see uscc_warning_accepted_by)
    deregistration_reason: str = Field(default="", max_length=500)
    deregistration_recorded_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: Optional[int] = None  # user id (see uscc_warning_accepted_by)

    @property
    def code(self) -> str:
        """The code printed and imported for this producer: USCC, else registry number."""
        return self.uscc or self.registry_no or ""

    def __repr__(self) -> str:
        return f"<Producer {self.id} {self.code} {self.name}>"


class ProducerProduct(SQLModel, table=True):
    """A producer registered as producing a GI product (the compliance denominator's members)."""

    producer_id: int = Field(foreign_key="producer.id", primary_key=True)
    product_id: int = Field(foreign_key="product.id", primary_key=True, index=True)

    def __repr__(self) -> str:
        return f"<ProducerProduct {self.producer_id} {self.product_id}>"


class Trademark(SQLModel, table=True):
    """The enterprise's own trademark, shown beside the GI mark (企业自主商标品牌)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    name: str = Field(max_length=100)
    registration_no: str = Field(default="", max_length=64)

    def __repr__(self) -> str:
        return f"<Trademark {self.name}>"


class CompanyPrefix(SQLModel, table=True):
    """A GS1 company prefix (厂商识别代码) recorded for a producer by a regulator: the producer may
    register GTINs under it, and only under its prefixes."""

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    prefix: str = Field(max_length=12, unique=True, index=True)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_by: Optional[int] = None  # user id (no FK, as Producer.created_by)

    def __repr__(self) -> str:
        return f"<CompanyPrefix {self.prefix} producer={self.producer_id}>"


class Plot(SQLModel, table=True):
    """A planted plot: the basis of 以地定产 (output fixed by planted area)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    name: str = Field(default="", max_length=100)
    town_code: str = Field(foreign_key="region.code", max_length=12)
    area_mu: float
    cultivar: str = Field(default="", max_length=64)
    latitude: Optional[float] = None
    longitude: Optional[float] = None

    def __repr__(self) -> str:
        return f"<Plot {self.id} {self.town_code} {self.area_mu}亩>"


class OutputRecord(SQLModel, table=True):
    """A producer's output of a product in a year: kilograms and value in yuan."""

    __table_args__ = (UniqueConstraint("producer_id", "product_id", "year", name="uq_output_producer_product_year"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    producer_id: int = Field(foreign_key="producer.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    year: int = Field(index=True)
    output_kg: float
    output_value_yuan: float

    def __repr__(self) -> str:
        return f"<OutputRecord {self.producer_id} {self.year} {self.output_value_yuan}>"


class SectorTotal(SQLModel, table=True):
    """An official count of producers and sector output value (county empty = whole city)."""

    __table_args__ = (UniqueConstraint("product_id", "year", "county_code", name="uq_sector_total"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    year: int
    county_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    producers_total: Optional[int] = None
    output_value_yuan: Optional[float] = None
    source: str = Field(default="", max_length=300)
    scope: str = Field(default="protected_area", max_length=16)

    def __repr__(self) -> str:
        return f"<SectorTotal {self.product_id} {self.year} {self.county_code}>"


class ProductLimits(SQLModel, table=True):
    """One version of a product's quality limits, recorded by a regulator and in force from `effective_from`.

    Versions are never edited: a change is a new row. The limits in force on a day are those of the
    version with the latest `effective_from` on or before it (the latest recorded wins a tie). A test is
    judged against the limits in force on its sampling date.
    """

    __table_args__ = (Index("ix_productlimits_product_from", "product_id", "effective_from"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id")
    effective_from: date
    moisture_max_pct: Optional[float] = None
    so2_max_mg_per_kg: Optional[float] = None
    # [{"grade", "grade_en", "max_grains_per_50g"}]: fewest grains = best; above the last = ungraded.
    grade_scale: Optional[list] = Field(default=None, sa_column=Column(JSON))
    # {"substance": max mg/kg} (maximum residue limits); unlisted substances get the default.
    residue_limits: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    default_residue_mg_per_kg: Optional[float] = None
    banned_substances: Optional[list] = Field(default=None, sa_column=Column(JSON))
    # Where the figures come from, e.g. "GB/T 18672-2014; GB 2763-2021"; demo values say so here.
    source: str = Field(default="", max_length=500)
    is_demo: bool = False  # shipped figures to be checked against the standard in force
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_by: Optional[int] = None  # user id (no FK, as Producer.created_by)

    def __repr__(self) -> str:
        return f"<ProductLimits {self.product_id} from {self.effective_from}>"

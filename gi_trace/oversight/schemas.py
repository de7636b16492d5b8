"""What the oversight API takes and answers: the 专栏4 shares and their drill-down."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from gi_trace.schemas import Public, Query


class ComplianceQuery(Query):
    product: str = Field(description="Product slug, e.g. zhongning-goji")
    year: int
    county: Optional[str] = Field(None, description="6-digit county code; a county regulator always gets its own "
                                                    "county")
    # Checked by compliance.parse_query, which also takes the CLI's text.
    as_of: Optional[str] = Field(None, json_schema_extra={"format": "date"},
                                 description="Status date (default 31 December of the year, or today in the "
                                             "current year)")


class DrilldownQuery(ComplianceQuery):
    offset: int = Field(0, ge=0, le=10**9)
    limit: int = Field(500, ge=1, le=5000)


class Source(Public):
    kind: str = Field(description="official (a published total) or register (counted from the register)")
    source: str
    scope: str = Field(description="What the denominator counts: protected_area (the protected towns) or "
                                   "whole_sector (the whole county or city)")


class DenominatorSource(Public):
    """Where each denominator comes from."""

    producers: Source
    output_value: Source


class Shares(Public):
    """The shares of one area."""

    producers_registered: int
    producers_total: int
    producers_authorised: int
    user_share: Optional[float]
    output_value_registered: float
    output_value_total: float
    output_value_authorised: float
    output_share: Optional[float]
    target: float
    user_share_met: bool
    output_share_met: bool
    denominator_source: DenominatorSource
    producers_authorised_in_year: int = Field(description="Authorised at any time in the year up to the date")
    user_share_in_year: Optional[float]
    output_value_authorised_in_year: float
    output_share_in_year: Optional[float]


class CountyShares(Shares):
    county_code: str
    county_name: str


class Compliance(Shares):
    """专栏4 shares: GI special-mark users and their output value against the target."""

    product: str
    product_name: str
    year: int
    county_code: Optional[str]
    as_of: str = Field(json_schema_extra={"format": "date"})
    by_county: list[CountyShares]


class DrilldownRow(Public):
    producer_id: int
    name: str
    code: str
    county_code: Optional[str]
    town_code: Optional[str]
    in_region: bool
    state: str
    since: Optional[str]
    valid_until: Optional[str]
    output_value: Optional[float]
    counts_as_producer: bool
    counts_as_authorised: bool
    reasons: list[str]


class Drilldown(Public):
    """Every registered producer with why it counts or not (one page)."""

    product: str
    year: int
    county_code: Optional[str]
    as_of: str = Field(json_schema_extra={"format": "date"})
    total: int
    offset: int
    rows: list[DrilldownRow]

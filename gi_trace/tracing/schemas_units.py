"""What the unit-code (一物一码) and product-line (GTIN) API takes and answers (see `tracing/schemas.py`)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.schemas import Body, Public, Query
from gi_trace.tracing import codes, gs1, units
from gi_trace.tracing.models import ProductLine
from gi_trace.tracing.schemas import links

class UnitPublic(Public):
    """A unit code with its URLs."""

    serial: int
    code: str
    display_code: str
    package_kg: Optional[float] = Field(None, description="In listings")
    trace_url: str
    qr_png_url: str
    qr_svg_url: str

    @classmethod
    def of(cls, serial: int, code: str, base_url: str, package_kg: Optional[float] = None) -> "UnitPublic":
        extra = {"package_kg": package_kg} if package_kg is not None else {}
        return cls(serial=serial, code=code, display_code=codes.display(code), **extra, **links(base_url, code))


class UnitFlag(Public):
    kind: str
    message: str


class UnitIssue(Public):
    """The new unit codes and their URLs."""

    batch: str
    units_issued: int
    quantity_kg: float
    units: list[UnitPublic]
    flags: list[UnitFlag]


class UnitList(Public):
    """Unit codes by serial."""

    batch: str
    units_issued: int
    units: list[UnitPublic]


class UnitsCreate(Body):
    count: int = Field(ge=1, le=units.MAX_UNITS_PER_ISSUE)
    package_kg: Optional[float] = Field(None, gt=0, description=(
        "Package size (kg): fixed by the batch's product line (omit it, or give the same), else one of the sizes "
        "the regulator approved for the product; any other size is refused"))


class UnitsQuery(Query):
    start: int = Field(1, ge=1)
    limit: int = Field(1000, ge=1, le=5000)


class ProductLinePublic(Public):
    """A product line."""

    id: int
    gtin14: str
    name: str
    product_id: int
    trademark_id: Optional[int]
    product_form: str
    package_kg: Optional[float]

    @classmethod
    def of(cls, line: ProductLine) -> "ProductLinePublic":
        return cls(id=line.id, gtin14=line.gtin14, name=line.name, product_id=line.product_id,
                   trademark_id=line.trademark_id, product_form=line.product_form, package_kg=line.package_kg)


class ProductLineList(Public):
    """The producer's product lines."""

    product_lines: list[ProductLinePublic]


class ProductLineCreate(Body):
    product: Optional[str] = Field(GOJI_SLUG, description="Product slug")
    gtin: str = Field(description="GTIN-8/12/13/14 with a valid check digit")
    name: str
    trademark_id: Optional[int] = None
    product_form: Optional[Literal[gs1.PRODUCT_FORMS]] = Field(None, description="Default: dried")
    package_kg: Optional[float] = None

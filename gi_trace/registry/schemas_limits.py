"""What the product-limits API takes and answers (registry.limits)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from gi_trace.registry.models import ProductLimits
from gi_trace.schemas import Body, Public, Query


class Grade(Body):
    grade: str
    grade_en: Optional[str] = None
    max_grains_per_50g: int


class LimitsCreate(Body):
    """A new version of a product's limits (never an edit of an earlier version)."""

    effective_from: str = Field(description="The date the limits take effect, YYYY-MM-DD")
    moisture_max_pct: Optional[float] = Field(None, description="Maximum moisture, %")
    so2_max_mg_per_kg: Optional[float] = Field(None, description="Maximum SO₂ residue, mg/kg")
    grade_scale: list[Grade] = Field(default_factory=list, description="Grades by grains per 50 g (fewest = best)")
    residue_limits: dict[str, float] = Field(default_factory=dict,
                                             description="Maximum residue limit per substance, mg/kg")
    default_residue_mg_per_kg: Optional[float] = Field(None, description="Limit for substances not in the table")
    banned_substances: list[str] = Field(default_factory=list, description="Substances not allowed at any level")
    source: str = Field("", description="The standards the figures come from")


class GradePublic(Public):
    grade: str
    grade_en: Optional[str]
    max_grains_per_50g: int


class LimitsPublic(Public):
    """One version of a product's limits, with who recorded it and when."""

    id: Optional[int]
    effective_from: Optional[str]
    moisture_max_pct: Optional[float]
    so2_max_mg_per_kg: Optional[float]
    grade_scale: list[GradePublic]
    residue_limits: dict[str, float]
    default_residue_mg_per_kg: Optional[float]
    banned_substances: list[str]
    source: str
    is_demo: bool = Field(description="Shipped demo values, to be checked against the standards in force")
    recorded_at: Optional[str]
    recorded_by: Optional[int]

    @classmethod
    def of(cls, version: ProductLimits) -> "LimitsPublic":
        return cls(id=version.id, effective_from=version.effective_from.isoformat(),
                   moisture_max_pct=version.moisture_max_pct, so2_max_mg_per_kg=version.so2_max_mg_per_kg,
                   grade_scale=[GradePublic(grade=g["grade"], grade_en=g.get("grade_en"),
                                            max_grains_per_50g=g["max_grains_per_50g"]) for g in version.grade_scale or []],
                   residue_limits=dict(version.residue_limits or {}),
                   default_residue_mg_per_kg=version.default_residue_mg_per_kg,
                   banned_substances=list(version.banned_substances or []), source=version.source,
                   is_demo=version.is_demo, recorded_at=version.recorded_at.isoformat() if version.recorded_at else None,
                   recorded_by=version.recorded_by)


class LimitsHistory(Public):
    """The product's limits: the version in force on the day asked (default today) and every version."""

    product: str
    on: str
    in_force: Optional[LimitsPublic]
    versions: list[LimitsPublic]


class LimitsQuery(Query):
    on: Optional[str] = Field(None, description="The day whose limits are in force, YYYY-MM-DD (default: today)")

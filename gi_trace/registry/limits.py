"""A product's quality limits as data a regulator edits: moisture, SO₂, grade scale, residue limits (with a
default for unlisted substances) and banned substances. Every change is a new version with who, when and the
date it takes effect; a test is judged against the version in force on its sampling date."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Forbidden, ValidationError
from gi_trace.registry.models import Product, ProductLimits
from gi_trace.types import utcnow

MAX_ROWS = 500
MAX_NAME = 100


def history(session: Session, product: Product) -> list[ProductLimits]:
    """Every version of the product's limits, the latest in force first."""
    return list(session.exec(select(ProductLimits).where(ProductLimits.product_id == product.id)
                             .order_by(ProductLimits.effective_from.desc(), ProductLimits.id.desc())).all())


def pick(versions: list[ProductLimits], day: date) -> Optional[ProductLimits]:
    """The version in force on a day: the latest effective on or before it (the latest recorded wins a tie)."""
    found = [v for v in versions if v.effective_from <= day]
    if not found:
        return None
    return max(found, key=lambda v: (v.effective_from, v.id or 0))


def as_dict(version: Optional[ProductLimits], product: Product) -> dict:
    """Limits as plain data for the rules; a product without versions falls back to its own columns."""
    if version is None:
        return {"id": None, "effective_from": None, "moisture_max_pct": product.max_moisture_pct,
                "so2_max_mg_per_kg": None, "grade_scale": product.grade_scale or [], "residue_limits": {},
                "default_residue_mg_per_kg": None, "banned_substances": [], "is_demo": False, "source": ""}
    return {"id": version.id, "effective_from": version.effective_from.isoformat(),
            "moisture_max_pct": version.moisture_max_pct, "so2_max_mg_per_kg": version.so2_max_mg_per_kg,
            "grade_scale": version.grade_scale or [], "residue_limits": dict(version.residue_limits or {}),
            "default_residue_mg_per_kg": version.default_residue_mg_per_kg,
            "banned_substances": list(version.banned_substances or []), "is_demo": version.is_demo,
            "source": version.source}


def in_force(session: Session, product: Product, day: date) -> dict:
    """The limits in force for the product on a day, as plain data."""
    return as_dict(pick(history(session, product), day), product)


@dataclass
class LimitsInput:
    """A new version of a product's limits, as a regulator gives it."""

    effective_from: Any = None
    moisture_max_pct: Any = None
    so2_max_mg_per_kg: Any = None
    grade_scale: Any = None  # [{"grade", "grade_en"?, "max_grains_per_50g"}]
    residue_limits: Any = None  # {"substance": mg/kg}
    default_residue_mg_per_kg: Any = None
    banned_substances: Any = None  # ["substance"]
    source: Any = ""
    extra: dict = field(default_factory=dict)


def can_edit_limits(user: Optional[User]) -> bool:
    """A product's limits hold for the whole protected area: city regulators (and administrators) set them."""
    return user is not None and (user.role == "admin" or (user.role == "regulator" and user.county_code is None))


def require_limits_editor(user: Optional[User]) -> None:
    """Only city regulators (and administrators) record a product's limits."""
    if not can_edit_limits(user):
        raise Forbidden(_("Only city regulators can change a product's limits."))


def _limit(value: Any, name: str) -> Optional[float]:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    if value < 0 or value > 1e6:
        raise ValidationError(_("%(field)s must be between 0 and 1,000,000.", field=name), field=name)
    return float(value)


def _name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value.strip()) > MAX_NAME:
        raise ValidationError(_("%(field)s must be a name of at most %(n)s characters.", field=name, n=MAX_NAME),
                              field=name)
    return value.strip()


def _grades(value: Any) -> list:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > 50:
        raise ValidationError(_("The grade scale must be a list of grades."), field="grade_scale")
    grades, seen = [], set()
    for i, item in enumerate(value):
        where = f"grade_scale[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(_("%(field)s must be {grade, max_grains_per_50g}.", field=where), field=where)
        grade = _name(item.get("grade"), where + ".grade")
        grains = item.get("max_grains_per_50g")
        if isinstance(grains, bool) or not isinstance(grains, int) or not 1 <= grains <= 100000:
            raise ValidationError(_("%(field)s must be a whole number of grains.", field=where + ".max_grains_per_50g"),
                                  field=where + ".max_grains_per_50g")
        if grade in seen or grains in {g["max_grains_per_50g"] for g in grades}:
            raise ValidationError(_("Each grade and each grain limit appears once."), field=where)
        seen.add(grade)
        entry = {"grade": grade, "max_grains_per_50g": grains}
        if item.get("grade_en"):
            entry["grade_en"] = _name(item["grade_en"], where + ".grade_en")
        grades.append(entry)
    return sorted(grades, key=lambda g: g["max_grains_per_50g"])


def _residues(value: Any) -> dict:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ROWS:
        raise ValidationError(_("The residue limits must map each substance to its limit in mg/kg."),
                              field="residue_limits")
    table, keys = {}, set()
    for name, limit in value.items():
        substance = _name(name, "residue_limits")
        key = "".join(substance.split()).casefold()
        if key in keys:
            raise ValidationError(_("%(substance)s is listed twice.", substance=substance), field="residue_limits")
        keys.add(key)
        number = _limit(limit, f"residue_limits.{substance}")
        if number is None:
            raise ValidationError(_("Give the limit of %(substance)s in mg/kg.", substance=substance),
                                  field="residue_limits")
        table[substance] = number
    return table


def _banned(value: Any) -> list:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > MAX_ROWS:
        raise ValidationError(_("The banned substances must be a list of names."), field="banned_substances")
    names, keys = [], set()
    for i, name in enumerate(value):
        substance = _name(name, f"banned_substances[{i}]")
        key = "".join(substance.split()).casefold()
        if key not in keys:
            keys.add(key)
            names.append(substance)
    return names


def record_limits(session: Session, user: User, product: Product, data: LimitsInput) -> ProductLimits:
    """Record a new version of the product's limits (never an edit of an earlier one)."""
    require_limits_editor(user)
    if data.extra:
        raise ValidationError(_("Unknown field %(field)s.", field=next(iter(data.extra))), field=next(iter(data.extra)))
    day = data.effective_from
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day.strip())
        except ValueError:
            day = None
    if not isinstance(day, date) or not 1990 <= day.year <= 2200:
        raise ValidationError(_("Give the date the limits take effect (YYYY-MM-DD)."), field="effective_from")
    moisture = _limit(data.moisture_max_pct, "moisture_max_pct")
    if moisture is not None and moisture > 100:
        raise ValidationError(_("A moisture limit is a percentage (0 to 100)."), field="moisture_max_pct")
    residues = _residues(data.residue_limits)
    banned = _banned(data.banned_substances)
    clash = {"".join(b.split()).casefold() for b in banned} & {"".join(r.split()).casefold() for r in residues}
    if clash:
        raise ValidationError(_("A substance cannot be both banned and given a residue limit: %(names)s.",
                                names=", ".join(sorted(clash))), field="banned_substances")
    source = data.source if isinstance(data.source, str) else ""
    if "\x00" in source or len(source) > 500:
        raise ValidationError(_("The source is longer than 500 characters."), field="source")
    version = ProductLimits(
        product_id=product.id, effective_from=day, moisture_max_pct=moisture,
        so2_max_mg_per_kg=_limit(data.so2_max_mg_per_kg, "so2_max_mg_per_kg"), grade_scale=_grades(data.grade_scale),
        residue_limits=residues, default_residue_mg_per_kg=_limit(data.default_residue_mg_per_kg,
                                                                  "default_residue_mg_per_kg"),
        banned_substances=banned, source=source.strip(), is_demo=False, recorded_at=utcnow(), recorded_by=user.id)
    session.add(version)
    session.flush()
    return version


# --- the portal form's text fields ----------------------------------------------------------

def _split_last(line: str) -> tuple[str, float]:
    name, _sep, number = line.rstrip().rpartition(" ")
    if not name.strip():
        raise ValueError(line)
    try:
        return name.strip(), float(number)
    except ValueError:
        raise ValueError(line) from None


def parse_grades(text: str) -> list[dict]:
    """Grade lines "特优 280" (name, then the most grains per 50 g); ValueError names a bad line."""
    grades = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, grains = _split_last(line)
        if not grains.is_integer():
            raise ValueError(line)
        grades.append({"grade": name, "max_grains_per_50g": int(grains)})
    return grades


def parse_residues(text: str) -> dict[str, float]:
    """Residue-limit lines "吡虫啉 1.0" (substance, then mg/kg); ValueError names a bad line."""
    table: dict[str, float] = {}
    for line in (text or "").splitlines():
        if line.strip():
            name, limit = _split_last(line)
            table[name] = limit
    return table


def parse_names(text: str) -> list[str]:
    """Substance names, one a line (or separated by 、 , ；)."""
    for sep in ("、", "，", ",", "；", ";"):
        text = (text or "").replace(sep, "\n")
    return [n.strip() for n in text.splitlines() if n.strip()]


def grades_text(grades: Optional[list]) -> str:
    return "\n".join(f"{g['grade']} {g['max_grains_per_50g']}" for g in grades or [])


def residues_text(table: Optional[dict]) -> str:
    return "\n".join(f"{name} {format(limit, 'g')}" for name, limit in (table or {}).items())

"""Pure rules of batch tracing: stage order, event data, grades, tests, drying, season, yield,
mass balance, and the projection of a batch's events onto its current state. No database.

Three kinds of rule (issue 3):
- refusals raise `Refused` (or `ValidationError` for malformed input) and nothing is recorded;
- quality gates are facts: a failed test is recorded and the batch's `test_state` becomes "failed";
- plausibility checks return `FlagSpec`s that the service records as `PlausibilityFlag`s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional, Protocol

from flask_babel import gettext as _

from gi_trace import formatting as fmt
from gi_trace.errors import Refused, ValidationError
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing import quality
from gi_trace.tracing.models import KG_DIGITS

# Clocks differ: an event up to this far ahead of the server's clock is not "in the future".
CLOCK_SKEW = timedelta(minutes=5)
EPSILON_KG = 0.0005  # half a gram
MAX_TEXT = 500
MAX_LIST = 100
MAX_NUMBER = 1e9  # a million tonnes

FRESH = "fresh"
DRIED = "dried"


def kg(value: float) -> float:
    """A mass rounded to the gram."""
    return round(float(value), KG_DIGITS)


# --- stage template ------------------------------------------------------------------------

def stage_map(template: Optional[list]) -> dict[str, dict]:
    """The product's stages by slug."""
    return {s["stage"]: s for s in (template or [])}


def stage_label(template: Optional[list], stage: str) -> str:
    """The stage's Chinese and English name, e.g. '制干 Drying', or the slug."""
    spec = stage_map(template).get(stage)
    if spec is None:
        return stage
    return f"{spec.get('name_zh', '')} {spec.get('name_en', '')}".strip() or stage


def check_stage(template: Optional[list], batch_kind: str, current_stage: str, recorded_stages: set[str],
                new_stage: str) -> dict:
    """The stage's definition if `new_stage` may follow the batch's position; Refused otherwise."""
    stages = stage_map(template)
    spec = stages.get(new_stage)
    if spec is None:
        raise ValidationError(_("Unknown stage %(stage)s; this product's stages are: %(stages)s.",
                                stage=new_stage, stages=", ".join(stages)), field="stage")
    name = stage_label(template, new_stage)
    if spec.get("start") and batch_kind != "harvest":
        raise Refused(_("%(stage)s can only be recorded on a harvest batch, not on a batch made from other "
                        "batches.", stage=name), field="stage", code="stage_order")
    current = stages.get(current_stage)
    if current is None:
        if batch_kind == "harvest" and not spec.get("start"):
            first = ", ".join(stage_label(template, s["stage"]) for s in template or [] if s.get("start"))
            raise Refused(_("Stage order: a batch starts with %(first)s, not %(stage)s.", first=first, stage=name),
                          field="stage", code="stage_order")
        return spec
    if spec.get("free"):
        after = stages.get(spec.get("after") or "")
        if after is not None and current["order"] < after["order"]:
            raise Refused(_("Stage order: %(stage)s can only be recorded after %(after)s.", stage=name,
                            after=stage_label(template, after["stage"])), field="stage", code="stage_order")
        return spec
    if spec["order"] < current["order"]:
        raise Refused(_("Stage order: %(stage)s cannot come after %(current)s.", stage=name,
                        current=stage_label(template, current_stage)), field="stage", code="stage_order")
    if not spec.get("repeatable") and (new_stage == current_stage or new_stage in recorded_stages):
        raise Refused(_("%(stage)s has already been recorded for this batch; correct that event instead.",
                        stage=name), field="stage", code="stage_order")
    return spec


def next_position(template: Optional[list], current_stage: str, stage: str) -> str:
    """The batch's position after an event of `stage` (free stages do not move it)."""
    stages = stage_map(template)
    spec = stages.get(stage)
    if spec is None or spec.get("free"):
        return current_stage
    current = stages.get(current_stage)
    if current is None or spec["order"] >= current["order"]:
        return stage
    return current_stage


def earliest_stage(template: Optional[list], stages: Iterable[str]) -> str:
    """Of several positions, the one earliest in the template (a merge continues from there)."""
    order = stage_map(template)
    known = [s for s in stages if s in order]
    if not known:
        return ""
    return min(known, key=lambda s: order[s]["order"])


# --- event data ----------------------------------------------------------------------------

def field_label(spec: dict) -> str:
    """A template field's label in the current language."""
    try:
        from flask_babel import get_locale

        locale = get_locale()
    except (RuntimeError, KeyError):  # outside an app: English
        locale = None
    if locale is not None and locale.language == "zh":
        return spec.get("label_zh") or spec.get("name", "")
    return spec.get("label_en") or spec.get("name", "")


def _number(value: Any, name: str, *, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    if value < 0:
        raise ValidationError(_("%(field)s cannot be negative.", field=name), field=name)
    if value > MAX_NUMBER:  # no real quantity is this large; sums of such values would overflow
        raise ValidationError(_("%(field)s is too large.", field=name), field=name)
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValidationError(_("%(field)s must be a whole number.", field=name), field=name)
        return int(value)
    return value


def no_nul(value: str, name: str) -> str:
    """Refuse the NUL character (PostgreSQL text cannot hold it)."""
    if "\x00" in value:
        raise ValidationError(_("%(field)s contains a character that is not allowed.", field=name), field=name)
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(_("%(field)s must be text.", field=name), field=name)
    no_nul(value, name)
    if len(value) > MAX_TEXT:
        raise ValidationError(_("%(field)s is longer than %(n)s characters.", field=name, n=MAX_TEXT), field=name)
    return value.strip()


def _date(value: Any, name: str) -> str:
    try:
        return date.fromisoformat(_text(value, name)).isoformat()
    except ValueError:
        raise ValidationError(_("%(field)s must be a date (YYYY-MM-DD).", field=name), field=name) from None


def _datetime(value: Any, name: str) -> str:
    parsed, _offset = parse_time(value, name)
    return parsed.isoformat()


def _inputs(value: Any, name: str) -> list:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise ValidationError(_("%(field)s must be a list.", field=name), field=name)
    cleaned = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise ValidationError(_("%(field)s needs the name of the input.", field=where), field=where)
        entry = {"name": _text(item["name"], where + ".name")}
        if item.get("applied_on") is not None:
            entry["applied_on"] = _date(item["applied_on"], where + ".applied_on")
        if item.get("safety_interval_days") is not None:
            entry["safety_interval_days"] = _number(item["safety_interval_days"], where + ".safety_interval_days",
                                                    integer=True)
        if item.get("amount") is not None:
            entry["amount"] = _text(str(item["amount"]), where + ".amount")
        cleaned.append(entry)
    return cleaned


def _residues(value: Any, name: str) -> list:
    """Measured residues: [{"substance", "mg_per_kg"}], each substance once (an empty list: none found)."""
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise ValidationError(_("%(field)s must be a list of {substance, mg_per_kg}.", field=name), field=name)
    cleaned, seen = [], set()
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(item, dict) or set(item) - {"substance", "mg_per_kg"}:
            raise ValidationError(_("%(field)s must be {substance, mg_per_kg}.", field=where), field=where)
        if not isinstance(item.get("substance"), str) or not item["substance"].strip():
            raise ValidationError(_("%(field)s needs the substance's name.", field=where + ".substance"),
                                  field=where + ".substance")
        substance = _text(item["substance"], where + ".substance")
        if item.get("mg_per_kg") is None:
            raise ValidationError(_("%(field)s is required.", field=where + ".mg_per_kg"), field=where + ".mg_per_kg")
        key = quality.substance_key(substance)
        if key in seen:
            raise ValidationError(_("%(substance)s is listed twice.", substance=substance), field=where + ".substance")
        seen.add(key)
        cleaned.append({"substance": substance, "mg_per_kg": _number(item["mg_per_kg"], where + ".mg_per_kg")})
    return cleaned


def _outputs(value: Any, name: str) -> list:
    if not isinstance(value, list) or not value or len(value) > MAX_LIST:
        raise ValidationError(_("%(field)s must list at least one output.", field=name), field=name)
    cleaned = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(_("%(field)s must be an object.", field=where), field=where)
        qty = item.get("quantity_kg")
        if qty is None:
            raise ValidationError(_("%(field)s is required.", field=where + ".quantity_kg"),
                                  field=where + ".quantity_kg")
        entry = {"quantity_kg": kg(_number(qty, where + ".quantity_kg"))}
        if entry["quantity_kg"] <= 0:
            raise ValidationError(_("%(field)s must be more than zero.", field=where + ".quantity_kg"),
                                  field=where + ".quantity_kg")
        for key in ("product_form", "producer_lot"):
            if item.get(key) is not None:
                entry[key] = _text(item[key], f"{where}.{key}")
        cleaned.append(entry)
    return cleaned


def clean_data(spec: dict, data: Any, quantity_kg: Optional[float]) -> tuple[dict, Optional[float]]:
    """The event's data checked against the stage's fields, and its quantity in kg.

    The quantity is either the top-level `quantity_kg` or the stage's `quantity_field`; when both
    are given they must agree. The grade is never accepted: it is derived from the grain count.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(_("data must be an object."), field="data")
    if "grade" in data:
        raise ValidationError(_("The grade is derived from the grain count per 50 g; do not enter it."),
                              field="data.grade")
    fields = {f["name"]: f for f in spec.get("fields", [])}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ValidationError(_("Unknown field %(field)s for this stage; expected: %(fields)s.",
                                field=unknown[0], fields=", ".join(fields)), field=f"data.{unknown[0]}")
    qfield = spec.get("quantity_field")
    if quantity_kg is not None:
        quantity_kg = kg(_number(quantity_kg, "quantity_kg"))
        if qfield:
            if data.get(qfield) is None:
                data = {**data, qfield: quantity_kg}
            elif abs(kg(_number(data[qfield], f"data.{qfield}")) - quantity_kg) > EPSILON_KG:
                raise ValidationError(_("quantity_kg and data.%(field)s disagree.", field=qfield), field="quantity_kg")
    cleaned: dict[str, Any] = {}
    for name, f in fields.items():
        where = f"data.{name}"
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.get("required"):
                label = field_label(f)
                raise ValidationError(_("%(label)s is required (%(field)s).", label=label, field=where), field=where)
            continue
        kind = f["type"]
        if kind in ("string", "text"):
            cleaned[name] = _text(value, where)
        elif kind == "number":
            cleaned[name] = kg(_number(value, where)) if f.get("unit") == "kg" else _number(value, where)
        elif kind in ("integer", "plot"):
            cleaned[name] = _number(value, where, integer=True)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise ValidationError(_("%(field)s must be true or false.", field=where), field=where)
            cleaned[name] = value
        elif kind == "date":
            cleaned[name] = _date(value, where)
        elif kind == "datetime":
            cleaned[name] = _datetime(value, where)
        elif kind == "choice":
            values = [c["value"] for c in f.get("choices", [])]
            if value not in values:
                raise ValidationError(_("%(field)s must be one of: %(values)s.", field=where,
                                        values=", ".join(values)), field=where)
            cleaned[name] = value
        elif kind == "inputs":
            cleaned[name] = _inputs(value, where)
        elif kind == "outputs":
            cleaned[name] = _outputs(value, where)
        elif kind == "residues":
            cleaned[name] = _residues(value, where)
        else:  # a template type this code does not know: keep text only
            cleaned[name] = _text(str(value), where)
    quantity = cleaned.get(qfield) if qfield else quantity_kg
    if qfield and quantity is not None and quantity <= 0:
        where = "data." + qfield
        raise ValidationError(_("%(field)s must be more than zero.", field=where), field=where)
    return cleaned, quantity


# --- time ----------------------------------------------------------------------------------

MIN_EVENT_YEAR, MAX_EVENT_YEAR = 1900, 2200


def parse_time(value: Any, name: str = "occurred_at") -> tuple[datetime, int]:
    """An ISO 8601 time WITH its offset → (the instant in UTC, the offset in minutes)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(_("%(field)s must be a time like 2026-07-01T08:30:00+08:00.", field=name),
                                  field=name)
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(_("%(field)s must be a time like 2026-07-01T08:30:00+08:00.", field=name),
                                  field=name) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationError(_("%(field)s needs its time zone offset, e.g. +08:00.", field=name), field=name)
    offset = int(parsed.utcoffset().total_seconds() // 60)
    if not -14 * 60 <= offset <= 14 * 60:
        raise ValidationError(_("%(field)s has an impossible time zone offset.", field=name), field=name)
    # Years Python cannot shift by the offset (0001, 9999), and years no goji event can be from, are input errors.
    if not MIN_EVENT_YEAR <= parsed.year <= MAX_EVENT_YEAR:
        raise ValidationError(_("%(field)s must be a time like 2026-07-01T08:30:00+08:00.", field=name), field=name)
    return parsed.astimezone(timezone.utc), offset


def local_time(instant: datetime, offset_min: int) -> datetime:
    """The instant shown in the offset it was given in."""
    return instant.astimezone(timezone(timedelta(minutes=offset_min)))


def check_time(occurred_at: datetime, now: datetime, previous: Optional[datetime]) -> None:
    """Refuse an event in the future or before its batch's previous event."""
    if occurred_at > now + CLOCK_SKEW:
        raise Refused(_("The event is in the future (%(when)s); record it once it has happened.",
                        when=fmt.moment(occurred_at)),
                      field="occurred_at", code="future")
    if previous is not None and occurred_at < previous:
        raise Refused(_("The event is dated before the batch's previous event (%(when)s).",
                        when=fmt.moment(previous)),
                      field="occurred_at", code="before_previous")


# --- grades, tests, drying, season, yield -------------------------------------------------

def grade_for(grade_scale: Optional[list], grains_per_50g: Optional[int]) -> Optional[dict]:
    """The grade a grain count implies (fewest grains = best), or None below the lowest grade."""
    return quality.grade_for(grade_scale, grains_per_50g)


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest class

    passed: bool
    failures: tuple[str, ...]  # moisture, so2, residue, banned, legacy_so2, legacy_pesticide
    judged: bool = True  # False: an older test with typed ticks and no measured values (neither pass nor fail)


def test_outcome(max_moisture_pct: Optional[float], data: dict) -> TestOutcome:
    """Pass or fail of one test from its measured values and the limits kept in its event (older events:
    the product's moisture limit); never from a typed verdict. See `tracing.quality`."""
    outcome = quality.evaluate(data, fallback={"moisture_max_pct": max_moisture_pct})
    return TestOutcome(outcome.state == quality.PASSED, tuple(f["item"] for f in outcome.failures),
                       judged=bool(outcome.failures) or not outcome.legacy)


test_outcome.__test__ = False  # type: ignore[attr-defined]


def failure_text(failures: Iterable[str], max_moisture_pct: Optional[float]) -> str:
    """What failed, in words (item names only; `quality.failure_text` gives value and limit)."""
    return "; ".join(quality.failure_text({"item": f, "limit": max_moisture_pct if f == "moisture" else None})
                     for f in failures)


def check_drying(fresh_kg_in: float, dried_kg_out: float) -> None:
    """Drying loses water: dried kilograms must be fewer than fresh ones."""
    if dried_kg_out >= fresh_kg_in - EPSILON_KG:
        raise Refused(_("Dried weight (%(dried)s kg) must be less than the fresh weight put in (%(fresh)s kg).",
                        dried=dried_kg_out, fresh=fresh_kg_in), field="data.dried_kg_out", code="dried_not_less")


def ratio_outside_band(fresh_kg: float, dried_kg: float, low: Optional[float], high: Optional[float]) -> bool:
    """True when fresh:dried lies outside the product's band."""
    if dried_kg <= 0:
        return False
    ratio = fresh_kg / dried_kg
    return (low is not None and ratio < low) or (high is not None and ratio > high)


def in_season(day: date, start_mmdd: Optional[str], end_mmdd: Optional[str]) -> bool:
    """True when the (local) date lies inside the product's picking season (both ends included)."""
    if not start_mmdd or not end_mmdd:
        return True
    md = day.strftime("%m-%d")
    if start_mmdd <= end_mmdd:
        return start_mmdd <= md <= end_mmdd
    return md >= start_mmdd or md <= end_mmdd  # a season across the new year


def dried_equivalent(fresh_kg: float, ratio_high: Optional[float]) -> float:
    """The least dried weight a fresh weight can give (the most generous reading for the producer)."""
    return fresh_kg / ratio_high if ratio_high else fresh_kg


# The most land one seller not on the register can plausibly farm (亩): a household averages about 3 亩 in
# 中宁 (10.8万亩 over 3.66万 households), so 50 亩 is a generous ceiling. Times the product's max dried yield per
# 亩 it bounds what one such seller can bring to the market from a season (where origin fraud lives).
HOUSEHOLD_MAX_MU = 50.0


def declared_purchase_limit(max_dried_per_mu: Optional[float]) -> Optional[float]:
    """The most kilograms one purchase from a seller not on the register can plausibly hold (None: no cap)."""
    return kg(max_dried_per_mu * HOUSEHOLD_MAX_MU) if max_dried_per_mu else None


def yield_over_cap(dried_kg: float, area_mu: float, max_dried_per_mu: Optional[float]) -> bool:
    """以地定产: a season's (dried or dried-equivalent) kilograms above planted area × maximum yield."""
    if max_dried_per_mu is None:
        return False
    return dried_kg > area_mu * max_dried_per_mu + EPSILON_KG


def labels_over_quantity(units: int, package_kg: Optional[float], quantity_kg: float) -> bool:
    """以产核标: more packages labelled than the batch can fill."""
    if not package_kg:
        return False
    return units * package_kg > quantity_kg + EPSILON_KG


def check_outflow(available_kg: float, wanted_kg: float, code: str) -> None:
    """Mass balance: what leaves a batch never exceeds what it holds."""
    if wanted_kg <= 0:
        raise ValidationError(_("The quantity must be more than zero."), field="quantity_kg")
    if wanted_kg > available_kg + EPSILON_KG:
        raise Refused(_("Batch %(code)s holds %(available)s kg; %(wanted)s kg cannot leave it (no quantity from "
                        "nothing).", code=code, available=kg(available_kg), wanted=kg(wanted_kg)),
                      field="quantity_kg", code="quantity_from_nothing")


# --- plausibility flags --------------------------------------------------------------------

@dataclass
class FlagSpec:
    """A plausibility flag to raise: its kind, English message id and parameters."""

    kind: str
    message: str
    params: dict = field(default_factory=dict)


# Message ids of the flags (kept here so translations are found and stored messages render).
FLAG_MESSAGES = {
    "yield_over_cap": "Harvest in %(year)s: %(dried)s kg dried (or dried-equivalent) exceeds the producer's plots "
                      "(%(area)s mu) × %(cap)s kg per mu = %(limit)s kg.",
    "drying_ratio": "Drying ratio %(ratio)s : 1 (fresh : dried) lies outside the product's band %(low)s–%(high)s.",
    "out_of_season": "Picking on %(day)s lies outside the season %(start)s to %(end)s.",
    "labels_over_quantity": "%(units)s labels of %(package)s kg exceed the batch's %(quantity)s kg.",
    "inside_safety_interval": "Picked on %(day)s from a plot where %(product)s was applied on %(applied)s with a "
                              "safety interval of %(days)s days (earliest harvest %(allowed)s); the application "
                              "was recorded after the harvest.",
    "marked_over_supply": "GI-marked %(marked)s kg of the %(year)s crop exceed the %(supply)s kg the party's traced "
                          "sources can supply (own harvest in the protected towns %(harvested)s kg + receipts of "
                          "verified origin %(received)s kg).",
    "declared_purchase_large": ("Bought %(kg)s kg from a seller not on the register: more than one household "
                                "can grow in a season (%(area)s mu × %(cap)s kg per mu = %(limit)s kg). "
                                "Check where the goji came from."),
}


def flag_text(kind: str, params: dict) -> str:
    """A flag's message in the current language."""
    message = FLAG_MESSAGES.get(kind)
    if message is None:
        return kind
    texts = {
        "yield_over_cap": lambda p: _("Harvest in %(year)s: %(dried)s kg dried (or dried-equivalent) exceeds the "
                                      "producer's plots (%(area)s mu) × %(cap)s kg per mu = %(limit)s kg.", **p),
        "drying_ratio": lambda p: _("Drying ratio %(ratio)s : 1 (fresh : dried) lies outside the product's band "
                                    "%(low)s–%(high)s.", **p),
        "out_of_season": lambda p: _("Picking on %(day)s lies outside the season %(start)s to %(end)s.", **p),
        "labels_over_quantity": lambda p: _("%(units)s labels of %(package)s kg exceed the batch's %(quantity)s kg.",
                                            **p),
        "inside_safety_interval": lambda p: _(
            "Picked on %(day)s from a plot where %(product)s was applied on %(applied)s with a safety interval of "
            "%(days)s days (earliest harvest %(allowed)s); the application was recorded after the harvest.", **p),
        "marked_over_supply": lambda p: _("GI-marked %(marked)s kg of the %(year)s crop exceed the %(supply)s kg the "
                                          "party's traced sources can supply (own harvest in the protected towns "
                                          "%(harvested)s kg + receipts of verified origin %(received)s kg).", **p),
        "declared_purchase_large": lambda p: _(
            "Bought %(kg)s kg from a seller not on the register: more than one household can grow in a "
            "season (%(area)s mu × %(cap)s kg per mu = %(limit)s kg). Check where the goji came from.", **p),
    }
    shown = {k: (fmt.day(v) if k in ("day", "applied", "allowed") else fmt.number(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                 else v) for k, v in (params or {}).items()}
    try:
        return texts[kind](shown)
    except (KeyError, TypeError, ValueError):
        return message


# --- projection ----------------------------------------------------------------------------

class EventLike(Protocol):
    id: Optional[int]
    seq: int
    stage: str
    occurred_at: datetime
    quantity_kg: Optional[float]
    data: dict
    corrects_event_id: Optional[int]
    location_town_code: Optional[str]


@dataclass
class Projection:
    """A batch's current state, folded from its events."""

    quantity_kg: float = 0.0
    out_kg: float = 0.0
    stage: str = ""
    product_form: str = ""
    test_state: str = "untested"
    tested_at: Optional[datetime] = None
    quality: Optional[dict] = None  # tracing.quality.Ledger.record(): the verdict kept on the batch
    grains_per_50g: Optional[int] = None
    grade: Optional[str] = None
    origin_town_code: Optional[str] = None
    harvest_year: Optional[int] = None
    withdrawn_at: Optional[datetime] = None
    withdrawn_reason: str = ""
    recorded_stages: set = field(default_factory=set)
    last_occurred_at: Optional[datetime] = None

    @property
    def available_kg(self) -> float:
        return kg(self.quantity_kg - self.out_kg)


def effective_events(events: list) -> list:
    """Events in order with each corrected event replaced by its latest correction."""
    by_id = {e.id: e for e in events if e.id is not None}
    latest: dict[int, Any] = {}
    for e in sorted(events, key=lambda e: e.seq):
        if e.corrects_event_id is not None:
            root = e.corrects_event_id
            while root in by_id and by_id[root].corrects_event_id is not None:
                root = by_id[root].corrects_event_id
            latest[root] = e
    result = []
    for e in sorted(events, key=lambda e: e.seq):
        if e.corrects_event_id is None:
            result.append(latest.get(e.id, e))
    return result


def project(events: list, *, template: Optional[list], grade_scale: Optional[list],
            max_moisture_pct: Optional[float], initial_form: str, batch_code: str,
            local_offset_min: int = 480, inputs: Optional[Callable[[], list]] = None) -> Projection:
    """Fold a batch's events (corrections applied) into its state; Refused when they break a rule.

    `inputs` gives (code, quality) of the batches this one was made from, as they stand now: asked only when
    the batch carries in a failure, so a regulator's clearance of an input flows down (quality.Ledger.flow_down).
    """
    p = Projection(product_form=initial_form)
    ledger = quality.Ledger(code=batch_code)
    fallback = {"moisture_max_pct": max_moisture_pct, "grade_scale": grade_scale or []}
    for e in effective_events(events):
        data = e.data or {}
        role = data.get("role")
        stage = e.stage
        if role == "output":  # first event of a batch made by a split, merge or processing step
            p.quantity_kg = kg(p.quantity_kg + (e.quantity_kg or 0))
            inherited = data.get("inherited") or {}
            p.stage = inherited.get("stage", p.stage) if stage != "processing" else "processing"
            p.test_state = inherited.get("test_state", p.test_state)
            ledger.inherit(inherited, len(data["from"]) if isinstance(data.get("from"), list) else 1)
            p.grains_per_50g = inherited.get("grains_per_50g", p.grains_per_50g)
            p.grade = inherited.get("grade", p.grade)
            if inherited.get("tested_at"):
                p.tested_at = datetime.fromisoformat(inherited["tested_at"])
            p.origin_town_code = inherited.get("origin_town_code", p.origin_town_code)
            p.harvest_year = inherited.get("harvest_year", p.harvest_year)
            p.product_form = data.get("product_form") or inherited.get("product_form") or p.product_form
        elif role == "input":  # this batch gave kilograms to other batches
            check_outflow(p.available_kg, e.quantity_kg or 0, batch_code)
            p.out_kg = kg(p.out_kg + (e.quantity_kg or 0))
            p.stage = next_position(template, p.stage, stage)
        elif role == "return":  # a shipment of this batch was rejected: its kilograms came back
            p.out_kg = kg(max(0.0, p.out_kg - (e.quantity_kg or 0)))
        elif stage == "harvest":
            p.quantity_kg = kg(p.quantity_kg + (e.quantity_kg or 0))
            if p.origin_town_code is None:
                p.origin_town_code = e.location_town_code
            if p.harvest_year is None:
                p.harvest_year = local_time(e.occurred_at, local_offset_min).year
            p.stage = next_position(template, p.stage, stage)
        elif stage == "drying":
            if p.out_kg > EPSILON_KG:
                raise Refused(_("Drying changes the whole batch, but %(out)s kg have already left it.",
                                out=p.out_kg), field="stage", code="drying_after_outflow")
            fresh = data.get("fresh_kg_in", p.quantity_kg)
            if abs(fresh - p.quantity_kg) > EPSILON_KG:
                raise Refused(_("Drying takes the whole batch (%(held)s kg fresh), not %(fresh)s kg; split the "
                                "batch first to dry part of it.", held=p.quantity_kg, fresh=fresh),
                              field="data.fresh_kg_in", code="quantity_from_nothing")
            check_drying(fresh, data["dried_kg_out"])
            p.quantity_kg = kg(data["dried_kg_out"])
            p.product_form = DRIED
            p.stage = next_position(template, p.stage, stage)
        elif stage == "testing":
            outcome = quality.evaluate(data, fallback=fallback)
            ledger.test(outcome, data, sampled_on(e, local_offset_min))
            p.tested_at = e.occurred_at
            if data.get("grains_per_50g") is not None:
                p.grains_per_50g = data.get("grains_per_50g")
                p.grade = outcome.grade["grade"] if outcome.grade else None
            p.test_state = quality.TEST_STATE_OF[ledger.state]
        elif stage == "clearance":  # a regulator's recorded decision (tracing.services.clearance)
            ledger.clearance(data)
            p.test_state = quality.TEST_STATE_OF[ledger.state]
        elif stage == "distribution":
            check_outflow(p.available_kg, e.quantity_kg or 0, batch_code)
            p.out_kg = kg(p.out_kg + (e.quantity_kg or 0))
            p.stage = next_position(template, p.stage, stage)
        elif stage == "withdrawal":
            p.withdrawn_at = e.occurred_at
            p.withdrawn_reason = data.get("reason", "")
        else:
            p.stage = next_position(template, p.stage, stage)
        if stage in stage_map(template):
            p.recorded_stages.add(stage)
        if p.last_occurred_at is None or e.occurred_at > p.last_occurred_at:
            p.last_occurred_at = e.occurred_at
    if inputs is not None and any(r.get("code") not in (None, batch_code) for r in ledger.open):
        ledger.flow_down(inputs())
    p.quality = ledger.record()
    if p.quality is not None:
        p.test_state = quality.TEST_STATE_OF[ledger.state]
    return p


def sampled_on(event: Any, local_offset_min: int = 480) -> date:
    """A test's date for its limits: the sampling date, else the (local) day it was recorded as happening."""
    text = (event.data or {}).get("sampled_at")
    if isinstance(text, str):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    offset = getattr(event, "utc_offset_min", None)
    return local_time(event.occurred_at, offset if offset is not None else local_offset_min).date()

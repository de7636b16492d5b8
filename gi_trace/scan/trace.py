"""The public trace page's read path: a handful of Core queries on indexed columns, no ORM objects.

This is the most-requested page of the system (every shopper's scan), so it reads exactly what
the page shows: the batch (or unit code and its batch) with producer, product and towns in one
query; the batch's events; the producer's decision history; the harvest batches behind it in one
recursive query. Everything is turned into plain values here so the template only prints.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import bindparam, literal, select, text, union_all
from sqlalchemy.engine import Connection, Row

from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing.models import Batch, Event, UnitCode

B = Batch.__table__
E = Event.__table__
U = UnitCode.__table__
P = Producer.__table__
PR = Product.__table__
D = AuthorisationDecision.__table__
R = Region.__table__

MAX_SOURCES = 50

# The batch behind a code, whether the code is the batch's own or one package's (一物一码).
_code = bindparam("code")
_batch_id = union_all(select(B.c.id).where(B.c.code == _code),
                      select(U.c.batch_id).where(U.c.code == _code)).limit(1).scalar_subquery()
_origin = R.alias("origin")
_ptown = R.alias("ptown")
_county = R.alias("county")
BATCH_QUERY = (
    select(
        B.c.id, B.c.code, B.c.kind, B.c.unit, B.c.quantity_kg, B.c.cultivar, B.c.product_form,
        B.c.trademark_name, B.c.stage, B.c.test_state, B.c.tested_at, B.c.grains_per_50g, B.c.grade,
        B.c.harvest_year, B.c.open_flags, B.c.event_count, B.c.first_event_at, B.c.head_hash,
        B.c.withdrawn_at, B.c.withdrawn_reason, B.c.created_at, B.c.producer_id, B.c.product_id,
        P.c.name.label("producer_name"), P.c.uscc, P.c.registry_no,
        PR.c.name_zh.label("product_zh"), PR.c.name_en.label("product_en"), PR.c.stage_template,
        _origin.c.name_zh.label("origin_zh"), _origin.c.name_en.label("origin_en"),
        _ptown.c.name_zh.label("ptown_zh"), _ptown.c.name_en.label("ptown_en"),
        _county.c.name_zh.label("county_zh"), _county.c.name_en.label("county_en"),
        U.c.serial, U.c.package_kg, U.c.issued_at,
    )
    .select_from(
        B.join(P, P.c.id == B.c.producer_id)
        .join(PR, PR.c.id == B.c.product_id)
        .outerjoin(_origin, _origin.c.code == B.c.origin_town_code)
        .outerjoin(_ptown, _ptown.c.code == P.c.town_code)
        .outerjoin(_county, _county.c.code == P.c.county_code)
        .outerjoin(U, (U.c.code == _code) & (U.c.batch_id == B.c.id))
    )
    .where(B.c.id == _batch_id)
)

_place = R.alias("place")
EVENTS_QUERY = (
    select(E, _place.c.name_zh.label("place_zh"), _place.c.name_en.label("place_en"))
    .select_from(E.outerjoin(_place, _place.c.code == E.c.location_town_code))
    .where(E.c.batch_id == bindparam("batch_id"))
    .order_by(E.c.seq)
)

DECISIONS_QUERY = (
    select(D.c.id, D.c.action, D.c.effective_date, D.c.valid_until, D.c.reference_no, D.c.reason)
    .where(D.c.producer_id == bindparam("producer_id"), D.c.product_id == bindparam("product_id"))
    .order_by(D.c.effective_date, D.c.id)
)

# Every ancestor of the batch (itself included) through lineage links, keeping the harvests.
SOURCES_QUERY = text(f"""
WITH RECURSIVE up(id) AS (
    SELECT :batch_id
    UNION
    SELECT l.parent_id FROM batchlink l JOIN up ON l.child_id = up.id
)
SELECT b.first_event_at AS harvested_at, b.harvest_year, r.name_zh AS town_zh, r.name_en AS town_en,
       b.producer_lot
FROM up JOIN batch b ON b.id = up.id LEFT JOIN region r ON r.code = b.origin_town_code
WHERE b.kind = 'harvest'
ORDER BY b.first_event_at, b.id
LIMIT {MAX_SOURCES + 1}
""").bindparams(bindparam("batch_id")).columns(
    harvested_at=Batch.__table__.c.first_event_at.type, harvest_year=Batch.__table__.c.harvest_year.type,
    town_zh=R.c.name_zh.type, town_en=R.c.name_en.type, producer_lot=B.c.producer_lot.type)


@dataclass
class Step:
    """One line of the timeline, ready to print."""

    seq: int
    stage: str
    label: str
    on: str  # local date yyyy-mm-dd
    place: str
    quantity_kg: Optional[float]
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value), ready to print
    corrects: Optional[int] = None
    correction_reason: str = ""


@dataclass
class Source:
    town: str
    on: str
    year: Optional[int]


@dataclass
class TracePage:
    """Everything the public page shows about one code."""

    code: str
    kind: str  # batch | unit
    batch: Row
    serial: Optional[int]
    package_kg: Optional[float]
    product: str
    origin_town: str
    producer_town: str
    county: str
    made_on: date
    today: date
    status_today: rules.Status
    status_made: rules.Status
    steps: list[Step]
    sources: list[Source]
    more_sources: bool
    source_towns: list[str]
    verifies: bool
    broken_at: Optional[int]
    withdrawn: bool

    @property
    def genuine(self) -> bool:
        """A registered code whose producer may use the GI mark today and could when the batch was made."""
        return self.status_today.in_force and self.status_made.in_force and not self.withdrawn

    @property
    def passed_test(self) -> bool:
        return self.batch.test_state == "passed"


def local_date(at: Optional[datetime], offset_min: Optional[int] = None) -> Optional[date]:
    """The calendar date of an instant where it happened (offset given) or in Zhongwei."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    if offset_min is not None:
        return (at.astimezone(timezone.utc) + timedelta(minutes=offset_min)).date()
    return at.astimezone(LOCAL_TZ).date()


def find_batch(conn: Connection, code: str) -> Optional[Row]:
    """The batch row (with producer, product, towns and unit context) behind a batch or unit code."""
    return conn.execute(BATCH_QUERY, {"code": code}).first()


def _name(zh: Optional[str], en: Optional[str], english: bool) -> str:
    return (en or zh or "") if english else (zh or en or "")


# Field types the public timeline leaves out: internal references and lineage bookkeeping.
_HIDDEN_TYPES = ("plot", "outputs")


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) else str(value)


def _fact_value(spec: dict, value: Any, english: bool, yes_no: tuple[str, str]) -> str:
    kind = spec.get("type")
    if kind == "boolean" or isinstance(value, bool):
        return yes_no[0] if value else yes_no[1]
    if kind == "choice":
        for choice in spec.get("choices") or []:
            if choice.get("value") == value:
                return _name(choice.get("label_zh"), choice.get("label_en"), english) or str(value)
        return str(value)
    if kind == "number" or isinstance(value, (int, float)):
        unit = spec.get("unit")
        return _number_text(value) + (f" {unit}" if unit else "")
    if kind == "inputs" and isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                extra = ", ".join(str(item[k]) for k in ("applied_on", "amount") if item.get(k))
                if item.get("safety_interval_days") is not None:
                    extra += (", " if extra else "") + f"{item['safety_interval_days']}d"
                parts.append(f"{item.get('name', '')}" + (f" ({extra})" if extra else ""))
        return "; ".join(parts)
    if kind == "datetime" and isinstance(value, str):
        return value[:16].replace("T", " ")
    if isinstance(value, (list, dict)):
        return ""
    return str(value)


def _facts(spec: dict, data: Any, english: bool, yes_no: tuple[str, str]) -> list[tuple[str, str]]:
    """(label, value) pairs of an event's data, in the stage template's field order."""
    if not isinstance(data, dict) or not data:
        return []
    facts = []
    for field_spec in spec.get("fields") or []:
        name = field_spec.get("name")
        if field_spec.get("type") in _HIDDEN_TYPES or name == spec.get("quantity_field"):
            continue
        value = data.get(name)
        if value is None or value == "" or value == []:
            continue
        text_value = _fact_value(field_spec, value, english, yes_no)
        if text_value:
            facts.append((_name(field_spec.get("label_zh"), field_spec.get("label_en"), english) or name, text_value))
    return facts


def load_page(conn: Connection, row: Row, *, code: str, english: bool, today: date, verify_chain,
              yes_no: tuple[str, str] = ("yes", "no")) -> TracePage:
    """The page for a batch row found by `find_batch`: events, statuses, sources, chain check."""
    template = {s.get("stage"): s for s in (row.stage_template or []) if isinstance(s, dict)}
    events = conn.execute(EVENTS_QUERY, {"batch_id": row.id}).all()
    steps = []
    for ev in events:
        stage = template.get(ev.stage) or {}
        label = _name(stage.get("name_zh"), stage.get("name_en"), english) or ev.stage
        on = local_date(ev.occurred_at, ev.utc_offset_min)
        steps.append(Step(seq=ev.seq, stage=ev.stage, label=label, on=on.isoformat() if on else "",
                          place=ev.location_name or _name(ev.place_zh, ev.place_en, english),
                          quantity_kg=ev.quantity_kg, facts=_facts(stage, ev.data, english, yes_no),
                          corrects=_seq_of(events, ev.corrects_event_id), correction_reason=ev.correction_reason))
    decisions = conn.execute(DECISIONS_QUERY, {"producer_id": row.producer_id, "product_id": row.product_id}).all()
    made_on = local_date(row.first_event_at) or local_date(row.created_at)
    source_rows = conn.execute(SOURCES_QUERY, {"batch_id": row.id}).all()
    sources = [Source(town=_name(s.town_zh, s.town_en, english), on=(local_date(s.harvested_at) or "") and
                      local_date(s.harvested_at).isoformat(), year=s.harvest_year)
               for s in source_rows[:MAX_SOURCES]]
    towns = list(dict.fromkeys(s.town for s in sources if s.town))
    broken_at = verify_chain(events)
    return TracePage(
        code=code, kind="unit" if row.serial is not None else "batch", batch=row, serial=row.serial,
        package_kg=row.package_kg, product=_name(row.product_zh, row.product_en, english),
        origin_town=_name(row.origin_zh, row.origin_en, english),
        producer_town=_name(row.ptown_zh, row.ptown_en, english), county=_name(row.county_zh, row.county_en, english),
        made_on=made_on, today=today, status_today=rules.status_on(decisions, today),
        status_made=rules.status_on(decisions, made_on), steps=steps, sources=sources,
        more_sources=len(source_rows) > MAX_SOURCES, source_towns=towns,
        verifies=broken_at is None and len(events) == row.event_count, broken_at=broken_at,
        withdrawn=row.withdrawn_at is not None,
    )


def _seq_of(events: list[Row], event_id: Optional[int]) -> Optional[int]:
    if event_id is None:
        return None
    for ev in events:
        if ev.id == event_id:
            return ev.seq
    return None


def broken_link(events: list[Row]) -> Optional[int]:
    """The seq of the first event whose chain link is broken, or None when the chain holds.

    Until the tracing area's canonical hashing lands this checks the links only (each event's
    prev_hash is its predecessor's hash, seqs are 1..n without gaps).
    """
    previous = ""
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq or ev.prev_hash != previous or not ev.hash:
            return ev.seq
        previous = ev.hash
    return None

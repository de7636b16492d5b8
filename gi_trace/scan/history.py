"""What a batch's record says on its trace page, as plain values: timeline steps, harvests behind it,
chain of custody (pure functions of a `read_path.Record`, in one language).

Each piece is a function of things that do not change once written — an event (and the event it
corrects), a harvest batch's events at a given head hash, the owners along the chain — and of the
page's basis (product definition, town names, wording): `scan.page_parts` assembles a page from
them, and keeps the pieces that many pages share (a harvest's events on the pages of every lot made
from it) for the pages of one build.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from gi_trace import formatting as fmt
from gi_trace.scan.read_path import ReferenceCache, _name, local_date
from gi_trace.tracing import rules as tracing_rules


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
    corrects: Optional[str] = None  # local date of the entry this one corrects
    correction_reason: str = ""


@dataclass
class Source:
    """A harvest batch behind the product: where and when it was picked."""

    town: str
    on: str  # first picking date (local), or when the harvest batch was opened
    last_on: str  # last picking date when there were several rounds
    fresh_kg: Optional[float]
    year: Optional[int]


# Field types the public timeline leaves out: internal references and lineage bookkeeping.
_HIDDEN_TYPES = ("plot", "outputs")


def _fact_value(spec: dict, value: Any, english: bool, yes_no: tuple[str, str]) -> str:
    kind = spec.get("type")
    if kind == "boolean" or isinstance(value, bool):
        return yes_no[0] if value else yes_no[1]
    if kind == "choice":
        for choice in spec.get("choices") or []:
            if choice.get("value") == value:
                return _name(choice.get("label_zh"), choice.get("label_en"), english) or str(value)
        return str(value)
    if isinstance(value, dict):
        return ""
    return fmt.value_text(value, spec, "en" if english else "zh")


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


@dataclass(frozen=True)
class Words:
    """Translated words the read path needs (it runs without knowing the request's locale)."""

    yes: str = "yes"
    no: str = "no"
    passed: str = "passed"
    failed: str = "failed"
    test_result: str = "Test result"
    grade: str = "Grade"
    system_stages: dict = field(default_factory=dict)  # split / merge / withdrawal -> label


@dataclass
class Holder:
    """One owner on the chain of custody as the public sees it (households by town, never by name)."""

    kind: str
    name: str  # a business's registered name; "" for households
    towns: list[str]
    households: int  # how many households this line stands for
    on: str  # local date the goods first were in this owner's hands


def stages(row: tuple) -> dict:
    """The product's stage definitions by stage (row: a batch row with the product's `stage_template`)."""
    return {s.get("stage"): s for s in (row.stage_template or []) if isinstance(s, dict)}


# A parent's "gave kg to a child" event is the same step as the child's first event: show it once.
# A hand-over is told once too: by the receiver's "received" event, not the sender's delivery note.
_TOLD_ELSEWHERE = ("input", "delivered")


def told_elsewhere(ev: tuple) -> bool:
    """Whether the timeline leaves this event out (another event tells the same step)."""
    return isinstance(ev.data, dict) and ev.data.get("role") in _TOLD_ELSEWHERE


def timeline_key(ev: tuple, depth: int) -> tuple:
    """Where an event of a batch `depth` links up from the page's batch goes on its timeline: by time, the
    farthest ancestor first at the same time, then by place in the batch's chain."""
    return (ev.occurred_at, -depth, ev.seq)


def corrected_event(ev: tuple, own: list) -> Optional[tuple]:
    """The event `ev` corrects among its batch's events `own` (a correction is always of its own batch), or None."""
    if not ev.corrects_event_id:
        return None
    return next((e for e in own if e.id == ev.corrects_event_id), None)


def step(row: tuple, stage_specs: dict, ev: tuple, corrected: Optional[tuple], *, english: bool,
         ref: ReferenceCache, words: Words) -> Step:
    """One timeline line: event `ev` (`corrected`: the event it corrects, `corrected_event`)."""
    stage = stage_specs.get(ev.stage) or {}
    label = (_name(stage.get("name_zh"), stage.get("name_en"), english)
             or words.system_stages.get(ev.stage) or ev.stage)
    on = local_date(ev.occurred_at, ev.utc_offset_min)
    corrected_on = local_date(corrected.occurred_at, corrected.utc_offset_min) if corrected is not None else None
    return Step(seq=ev.seq, stage=ev.stage, label=label, on=on.isoformat() if on else "",
                place=ev.location_name or _name(*ref.region(ev.location_town_code), english),
                quantity_kg=ev.quantity_kg, facts=_step_facts(row, stage, ev, english, words),
                corrects=corrected_on.isoformat() if corrected_on else None,
                correction_reason=ev.correction_reason)


def source(a: tuple, own: list, *, english: bool, ref: ReferenceCache) -> Source:
    """A harvest batch behind the product (`a`, an ancestry row) from its events `own` (those the record
    read: none for a harvest beyond the timeline's batches)."""
    picked = [local_date(ev.occurred_at, ev.utc_offset_min) for ev in own if ev.stage == "harvest"]
    fresh = sum(ev.quantity_kg or 0 for ev in own if ev.stage == "harvest") or None
    first = min(picked) if picked else local_date(a.first_event_at)
    last = max(picked) if picked else None
    return Source(town=_name(*ref.region(a.origin_town_code), english), on=first.isoformat() if first else "",
                  last_on=last.isoformat() if last and last != first else "", fresh_kg=fresh, year=a.harvest_year)


def custody(ancestry: list, parties: dict, *, english: bool, ref: ReferenceCache) -> list[Holder]:
    """The chain of custody: each owner once, in the order the goods reached them (their first batch on the
    chain); households next to each other are one line, shown by their towns."""
    first: dict = {}
    for a in ancestry:
        when = a.first_event_at
        key = (when is None, when or datetime.min.replace(tzinfo=timezone.utc), -a.depth)
        # Goji bought from a farmer who is not on the register: shown as such, by the declared town.
        owner = ("declared", a.origin_town_code) if a.kind == "purchased" else a.producer_id
        if owner not in first or key < first[owner]:
            first[owner] = key
    if len(first) < 2:
        return []
    holders: list[Holder] = []
    for owner, key in sorted(first.items(), key=lambda kv: kv[1]):
        on = local_date(key[1]) if not key[0] else None
        if isinstance(owner, tuple):
            town = _name(*ref.region(owner[1]), english)
            holders.append(Holder("declared", "", [town] if town else [], 1, on.isoformat() if on else ""))
            continue
        party = parties.get(owner)
        if party is None:
            continue
        town = _name(*ref.region(party.town_code), english)
        if party.kind == "household":
            last = holders[-1] if holders else None
            if last is not None and last.kind == "household":
                last.households += 1
                if town and town not in last.towns:
                    last.towns.append(town)
                continue
            holders.append(Holder("household", "", [town] if town else [], 1, on.isoformat() if on else ""))
        else:
            holders.append(Holder(party.kind, party.name, [town] if town else [], 1, on.isoformat() if on else ""))
    return holders


_FACTS_CACHE: dict[tuple, list] = {}


def _step_facts(row: tuple, spec: dict, ev: tuple, english: bool, words: Words) -> list[tuple[str, str]]:
    """The event's facts; a test also shows its verdict and the grade its grain count implies.

    Cached per (stage definition, data, language): the same data always reads the same way, and
    most events share their data with others (the parsed dict is shared, see _event_json).
    """
    key = (id(spec), id(ev.data), english, id(words), id(row.grade_scale), row.max_moisture_pct)
    cached = _FACTS_CACHE.get(key)
    if cached is not None and cached[0] is ev.data and cached[1] is spec:
        return cached[2]
    facts = _compute_facts(row, spec, ev, english, words)
    if len(_FACTS_CACHE) > 8192:
        _FACTS_CACHE.clear()
    _FACTS_CACHE[key] = (ev.data, spec, facts)
    return facts


def _compute_facts(row: tuple, spec: dict, ev: tuple, english: bool, words: Words) -> list[tuple[str, str]]:
    facts = _facts(spec, ev.data, english, (words.yes, words.no))
    if ev.stage == "testing" and isinstance(ev.data, dict) and ev.data.get("role") is None:
        outcome = tracing_rules.test_outcome(row.max_moisture_pct, ev.data)
        if outcome.judged:  # an older test with typed ticks only is neither passed nor failed
            facts.insert(0, (words.test_result, words.passed if outcome.passed else words.failed))
        grade = tracing_rules.grade_for(row.grade_scale, ev.data.get("grains_per_50g"))
        if grade:
            facts.insert(1, (words.grade, _name(grade.get("grade"), grade.get("grade_en"), english)))
    return facts

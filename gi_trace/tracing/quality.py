"""Measured tests, computed verdicts: a test's verdict and grade follow from its measured values and the
product's limits in force on the sampling date, never from a typed tick or the lab's own conclusion.

Pure rules (no database): `evaluate` judges one test; `Ledger` folds a batch's tests, regulator clearances
and what it inherited from its inputs into the batch's quality record (`Batch.quality`, kept by the
projection). `test_verdict` reads that record for pages (the scan headline) without a query.

Clearing a failure:
- moisture (含水率) above the limit: cleared by a later passing test of the same batch (re-drying);
- SO₂, a residue above its limit, or a banned substance: cleared only by a regulator's recorded decision
  (a "clearance" event with reason and new report no.); a later passing test does not clear it;
- a failure carried in from an input (split, merge, processing, a hand-over between owners) is the
  input's failure: a test of the blend cannot clear a SO₂/residue/banned failure of one of its inputs
  (only a regulator's decision on the blend can); an inherited moisture failure is cleared by a passing
  test of the blend (moisture is a property of the goods now, and re-drying the blend fixes it);
- a regulator's decision clearing an input flows down (`Ledger.flow_down`): a failure a batch carries in
  is cleared when every input batch it came from holds that same failure cleared by a regulator's decision
  (its own, or one that flowed down to it) — computed from the inputs' quality as it stands, never by an
  edit of any record. A blend's own failing test still stands, and so does a failure one of its inputs
  still holds open; a re-test of an input (re-drying) does not clear the kilograms that had left it.

Older test events (before measured values were required) carry typed ticks (`so2_pass`,
`pesticide_pass`) and no `residues`: a tick saying "fail" is read as the failure it records (cleared only
by a regulator), a tick saying "pass" proves nothing, so such a test never makes a batch "passed": with no
failure it reads "untested" (an older test without measured values), never greener than its evidence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Optional

from flask_babel import gettext as _

from gi_trace import formatting as fmt

# Failure items and what clears them.
MOISTURE, SO2, RESIDUE, BANNED = "moisture", "so2", "residue", "banned"
LEGACY_SO2, LEGACY_PESTICIDE = "legacy_so2", "legacy_pesticide"
RETEST, REGULATOR = "retest", "regulator"
CLEARED_BY_RETEST = (MOISTURE,)

PASSED, CLEARED, FAILED, UNGRADED, UNTESTED = "passed", "cleared", "failed", "ungraded", "untested"
STATES = (PASSED, CLEARED, FAILED, UNGRADED, UNTESTED)
# Batch.test_state, the column older code and filters read: cleared goods pass.
TEST_STATE_OF = {PASSED: "passed", CLEARED: "passed", FAILED: "failed", UNGRADED: "ungraded", UNTESTED: "untested"}


def substance_key(name: str) -> str:
    """A substance name compared without case and spaces (吡虫啉 = 吡虫啉 , Imidacloprid = imidacloprid)."""
    return "".join(str(name).split()).casefold()


# --- limits ---------------------------------------------------------------------------------

def limits_snapshot(limits: dict, substances: list[str]) -> dict:
    """What a test is judged against, kept in its event: the limits in force on its sampling date, with the
    residue table and banned list cut to the substances it measured (the event stays self-contained)."""
    table = {substance_key(k): v for k, v in (limits.get("residue_limits") or {}).items()}
    banned = {substance_key(b) for b in limits.get("banned_substances") or []}
    residues = {}
    for name in substances:
        key = substance_key(name)
        if key in banned:
            residues[key] = "banned"
        elif key in table:
            residues[key] = table[key]
    return {
        "version": limits.get("id"),
        "effective_from": limits.get("effective_from"),
        "moisture_max_pct": limits.get("moisture_max_pct"),
        "so2_max_mg_per_kg": limits.get("so2_max_mg_per_kg"),
        "grade_scale": limits.get("grade_scale") or [],
        "residues": residues,
        "default_residue_mg_per_kg": limits.get("default_residue_mg_per_kg"),
        "is_demo": bool(limits.get("is_demo")),
    }


def missing_values(limits: dict, data: dict) -> list[str]:
    """The measured values a test must carry under these limits (a limit set means its value is needed)."""
    missing = []
    if limits.get("moisture_max_pct") is not None and data.get("moisture_pct") is None:
        missing.append("moisture_pct")
    if limits.get("so2_max_mg_per_kg") is not None and data.get("so2_mg_per_kg") is None:
        missing.append("so2_mg_per_kg")
    if limits.get("grade_scale") and data.get("grains_per_50g") is None:
        missing.append("grains_per_50g")
    if "residues" not in data:
        missing.append("residues")
    return missing


# --- one test -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One test judged: failing items (each with value and limit), the grade, and what could not be judged."""

    failures: tuple = ()  # dicts: {"item", "value", "limit", "substance"?}
    grade: Optional[dict] = None
    grains_per_50g: Optional[int] = None
    lowest_grade_max: Optional[int] = None  # the lowest grade's grain limit, when the count is above it
    legacy: bool = False  # an older test without measured values
    lab_verdict: Optional[str] = None

    @property
    def ungraded(self) -> bool:
        return self.lowest_grade_max is not None

    @property
    def state(self) -> str:
        if self.failures:
            return FAILED
        if self.legacy:
            return UNTESTED
        return UNGRADED if self.ungraded else PASSED

    @property
    def lab_disagrees(self) -> bool:
        """The lab's recorded conclusion says otherwise than the computed verdict."""
        if self.lab_verdict not in ("pass", "fail") or self.legacy:
            return False
        return (self.lab_verdict == "pass") != (self.state == PASSED)

    @property
    def clear_by(self) -> str:
        return RETEST if all(f["item"] in CLEARED_BY_RETEST for f in self.failures) else REGULATOR


def grade_for(grade_scale: Optional[list], grains: Optional[int]) -> Optional[dict]:
    """The grade a grain count implies (fewest grains = best), or None below the lowest grade."""
    if grains is None:
        return None
    for entry in sorted(grade_scale or [], key=lambda g: g["max_grains_per_50g"]):
        if grains <= entry["max_grains_per_50g"]:
            return entry
    return None


def _num(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def evaluate(data: dict, limits: Optional[dict] = None, *, fallback: Optional[dict] = None) -> Outcome:
    """Judge one test's data against its limits (the snapshot in its event; `fallback` for older events)."""
    data = data or {}
    limits = limits if limits is not None else (data.get("limits") or fallback or {})
    failures: list[dict] = []
    moisture, moisture_max = _num(data.get("moisture_pct")), _num(limits.get("moisture_max_pct"))
    if moisture is not None and moisture_max is not None and moisture > moisture_max:
        failures.append({"item": MOISTURE, "value": moisture, "limit": moisture_max})
    so2, so2_max = _num(data.get("so2_mg_per_kg")), _num(limits.get("so2_max_mg_per_kg"))
    if so2 is not None and so2_max is not None and so2 > so2_max:
        failures.append({"item": SO2, "value": so2, "limit": so2_max})
    table = limits.get("residues") or {}
    default = _num(limits.get("default_residue_mg_per_kg"))
    for residue in data.get("residues") or []:
        if not isinstance(residue, dict):
            continue
        name, value = residue.get("substance"), _num(residue.get("mg_per_kg"))
        if not name or value is None:
            continue
        limit = table.get(substance_key(name), default)
        if limit == "banned":
            if value > 0:
                failures.append({"item": BANNED, "substance": name, "value": value, "limit": 0})
        elif _num(limit) is not None and value > limit:
            failures.append({"item": RESIDUE, "substance": name, "value": value, "limit": limit})
    legacy = "limits" not in data and "residues" not in data
    if legacy:
        if data.get("so2_pass") is False:
            failures.append({"item": LEGACY_SO2, "value": so2, "limit": None})
        if data.get("pesticide_pass") is False:
            failures.append({"item": LEGACY_PESTICIDE, "value": None, "limit": None})
    grains = data.get("grains_per_50g")
    scale = limits.get("grade_scale") or []
    grade = grade_for(scale, grains)
    lowest = None
    if grains is not None and scale and grade is None:
        lowest = max(g["max_grains_per_50g"] for g in scale)
    return Outcome(tuple(failures), grade, grains, lowest, legacy, data.get("lab_verdict"))


# --- texts ----------------------------------------------------------------------------------

def _value(value: Any) -> str:
    return fmt.number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def failure_text(item: dict) -> str:
    """One failing item in words, with its value and limit, e.g. "含水率 14.6% > 13%"."""
    kind = item.get("item")
    value, limit = _value(item.get("value")), _value(item.get("limit"))
    if kind == MOISTURE:
        return _("moisture %(value)s%% > %(limit)s%%", value=value, limit=limit)
    if kind == SO2:
        return _("SO₂ %(value)s mg/kg > %(limit)s mg/kg", value=value, limit=limit)
    if kind == RESIDUE:
        return _("%(substance)s %(value)s mg/kg > %(limit)s mg/kg", substance=item.get("substance", ""),
                 value=value, limit=limit)
    if kind == BANNED:
        return _("banned substance %(substance)s found (%(value)s mg/kg)", substance=item.get("substance", ""),
                 value=value)
    if kind == LEGACY_SO2:
        return _("SO₂ recorded as failed (older record without a measured limit check)")
    if kind == LEGACY_PESTICIDE:
        return _("pesticide residues recorded as failed (older record without measured values)")
    if kind == "legacy_failed":
        return _("recorded as failed by an older test (no itemised values)")
    return str(kind)


def ungraded_text(grains: Optional[int], lowest: Optional[int]) -> str:
    return _("%(grains)s grains per 50 g > %(limit)s: below the lowest grade", grains=_value(grains),
             limit=_value(lowest))


def record_texts(record: dict, own_code: Optional[str]) -> list[str]:
    """A failure record's items in words; one carried in from a source batch names it."""
    texts = [failure_text(i) for i in record.get("items") or []] or [failure_text({"item": "legacy_failed"})]
    source = record.get("code")
    if source and source != own_code:
        return [_("source batch %(code)s: %(failure)s", code=source, failure=t) for t in texts]
    return texts


def lab_disagreement_text(outcome: Outcome) -> str:
    """What the form and the API say beside the lab's conclusion when it disagrees with the computed one."""
    if not outcome.lab_disagrees:
        return ""
    if outcome.lab_verdict == "pass":
        return _("The laboratory's conclusion is \"pass\", but the measured values give \"%(state)s\" (%(why)s); the "
                 "computed verdict stands.", state=state_label(outcome.state), why="; ".join(
                     [failure_text(f) for f in outcome.failures]
                     + ([ungraded_text(outcome.grains_per_50g, outcome.lowest_grade_max)] if outcome.ungraded
                        and not outcome.failures else [])))
    return _("The laboratory's conclusion is \"fail\", but the measured values are within the limits in force; the "
             "computed verdict (pass) stands.")


def not_clearing_text(outcome: Outcome, verdict: "TestVerdict") -> str:
    """Said when a passing test leaves the batch failed (a failure only a regulator can clear, or an input's)."""
    if outcome.state != PASSED or verdict.state != FAILED:
        return ""
    return _("This test passes, but it does not clear the batch's failure: %(failures)s. Only a regulator's "
             "recorded decision can clear it.", failures="; ".join(verdict.failures))


def state_label(state: str) -> str:
    return {PASSED: _("pass"), CLEARED: _("pass after re-test"), FAILED: _("fail"), UNGRADED: _("ungraded"),
            UNTESTED: _("not tested")}.get(state, state)


# --- a batch's tests folded -----------------------------------------------------------------

@dataclass
class Ledger:
    """A batch's quality as its events are folded: open failures (own or carried in), cleared ones, the
    latest test. `record()` is what the projection keeps in `Batch.quality`."""

    code: str = ""
    open: list = field(default_factory=list)  # failure records: {code, report_no, sampled_on, items, clear_by}
    cleared: list = field(default_factory=list)  # the same, with cleared_by and cleared_report_no
    latest: Optional[dict] = None  # {report_no, state, grains, lowest, grade}
    legacy_note: bool = False
    base: str = UNTESTED  # a made batch: its inputs' test state had their failures been cleared (flow_down)

    def inherit(self, inherited: dict, sources: int = 1) -> None:
        """What a batch made from inputs carries in (`inherited` of its first event, from `sources` inputs)."""
        # The inputs' test state had their failures been cleared (a regulator's clearance passes a batch);
        # made before it was kept: one input's clearance passes it, several inputs' are not known.
        self.base = inherited.get("test_state_if_cleared") or (
            inherited.get("test_state") if inherited.get("test_state") != "failed" else
            PASSED if sources == 1 else UNTESTED)
        records = inherited.get("open_failures")
        if records is None and inherited.get("test_state") == "failed":
            # made before failures were itemised: the input failed, what failed is unknown
            records = [{"code": None, "report_no": "", "items": [], "clear_by": REGULATOR}]
        self.open.extend(dict(r) for r in records or [])
        self.cleared.extend(dict(r) for r in inherited.get("cleared_failures") or [])
        if records is not None and "open_failures" not in inherited:
            return  # made from an input whose failure was recorded before failures were itemised
        if "open_failures" not in inherited:
            # made before verdicts were computed: an inherited "passed" rests on typed ticks, not on values
            if inherited.get("test_state") == "passed":
                self.legacy_note = True
            return
        if inherited.get("test_state") in ("passed", "ungraded") and self.latest is None:
            self.latest = {"report_no": inherited.get("report_no") or "", "state": (
                UNGRADED if inherited.get("test_state") == "ungraded" else PASSED), "inherited": True}

    def test(self, outcome: Outcome, data: dict, sampled_on: Optional[date]) -> None:
        report = data.get("report_no") or ""
        self.latest = {"report_no": report, "state": outcome.state, "grains": outcome.grains_per_50g,
                       "lowest": outcome.lowest_grade_max, "legacy": outcome.legacy}
        if outcome.failures:
            self.open.append({"code": self.code, "report_no": report,
                              "sampled_on": sampled_on.isoformat() if sampled_on else None,
                              "items": [dict(f) for f in outcome.failures], "clear_by": outcome.clear_by})
            return
        if outcome.legacy:
            self.legacy_note = True
            return
        still = []
        for record in self.open:
            if record.get("clear_by") == RETEST:
                self.cleared.append({**record, "cleared_by": RETEST, "cleared_report_no": report})
            else:
                still.append(record)
        self.open = still

    def clearance(self, data: dict) -> None:
        """A regulator's decision: every open failure is cleared, citing the new report."""
        for record in self.open:
            self.cleared.append({**record, "cleared_by": REGULATOR, "cleared_report_no": data.get("report_no", ""),
                                 "reason": data.get("reason", "")})
        self.open = []
        self.latest = {**(self.latest or {}), "report_no": data.get("report_no", ""), "state": PASSED,
                       "regulator": True}

    def flow_down(self, inputs: list[tuple[str, Optional[dict]]]) -> None:
        """Clear the failures carried in that every input holding them has cleared by a regulator's decision.

        `inputs`: (code, quality record) of the batches this one was made from, as they stand now. Only a
        regulator's clearance flows down (a re-test of an input passed kilograms that had left it).
        """
        still, flowed = [], False
        for record in self.open:
            source = record.get("code")
            holders = [(code, found) for code, quality in inputs if source and source != self.code
                       for found in _holding(quality, record)]
            if holders and all(found.get("cleared_by") == REGULATOR for _code, found in holders):
                code, found = holders[0]
                self.cleared.append({**record, "cleared_by": REGULATOR,
                                     "cleared_report_no": found.get("cleared_report_no", ""),
                                     "reason": found.get("reason", ""), "cleared_in": found.get("cleared_in") or code})
                flowed = True
            else:
                still.append(record)
        self.open = still
        if flowed and not self.open and self.latest is None and self.base in (PASSED, UNGRADED):
            self.latest = {"report_no": "", "state": self.base, "inherited": True}

    @property
    def state(self) -> str:
        if self.open:
            return FAILED
        latest = self.latest or {}
        if latest.get("state") == UNGRADED:
            return UNGRADED
        if latest.get("state") == PASSED:
            return CLEARED if self.cleared else PASSED
        return UNTESTED

    def record(self) -> Optional[dict]:
        if not self.open and not self.cleared and self.latest is None and not self.legacy_note:
            return None
        return {"state": self.state, "open": self.open, "cleared": self.cleared, "latest": self.latest,
                "legacy": self.legacy_note}


_RECORD_KEYS = ("code", "report_no", "sampled_on", "items")


def _holding(quality: Optional[dict], record: dict) -> list[dict]:
    """The input's own version of a failure record, open (no `cleared_by`) or cleared (with who cleared it)."""
    key = tuple(record.get(k) for k in _RECORD_KEYS)
    found = [r for r in (quality or {}).get("open") or [] if tuple(r.get(k) for k in _RECORD_KEYS) == key]
    return found + [r for r in (quality or {}).get("cleared") or [] if tuple(r.get(k) for k in _RECORD_KEYS) == key]


def carried(quality: Optional[dict], test_state: str, code: str) -> dict:
    """What a batch made from this one inherits of its quality (open and cleared failures)."""
    if quality is None:
        if test_state == "failed":
            return {"open_failures": [{"code": code, "report_no": "", "items": [], "clear_by": REGULATOR}],
                    "cleared_failures": []}
        return {"open_failures": [], "cleared_failures": []}
    return {"open_failures": list(quality.get("open") or []), "cleared_failures": list(quality.get("cleared") or [])}


def combine(parts) -> dict:
    """What a batch made from several inputs carries: their open and cleared failures, each record once."""
    out: dict = {"open_failures": [], "cleared_failures": []}
    for part in parts:
        for key in out:
            for record in part.get(key) or []:
                if record not in out[key]:
                    out[key].append(record)
    return out


# --- read side ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestVerdict:
    """A batch's test verdict for pages: state, what fails (value and limit), and for "cleared" what failed first.

    state: "passed", "cleared" (an earlier failure cleared by a re-test or a regulator's decision),
    "failed" (an uncleared failure, its own or an input's), "ungraded" (passes, but below the lowest
    grade: no GI mark), "untested" (no test, or only older tests without measured values).
    """

    __test__ = False  # not a pytest class

    state: str
    failures: list = field(default_factory=list)  # translated, e.g. "含水率 14.6% > 13%"
    report_no: Optional[str] = None  # the latest test's (or the regulator's) report
    earlier_failures: list = field(default_factory=list)  # "cleared": what the first failing test found
    earlier_report_no: Optional[str] = None
    cleared_by: Optional[str] = None  # "retest" or "regulator"
    legacy: bool = False  # an older test without measured values was recorded (and did not count as a pass)

    @property
    def sellable(self) -> bool:
        """May carry the GI mark as far as testing goes."""
        return self.state in (PASSED, CLEARED)


def verdict_of(quality: Optional[dict], test_state: str, code: str) -> TestVerdict:
    """The verdict from the record the projection keeps on the batch (no query)."""
    if not quality:
        if test_state == "failed":
            return TestVerdict(FAILED, [failure_text({"item": "legacy_failed"})])
        return TestVerdict(UNTESTED)  # "passed" without a record cannot happen after the migration
    state = quality.get("state", UNTESTED)
    latest = quality.get("latest") or {}
    report = latest.get("report_no") or None
    if state == FAILED:
        texts: list[str] = []
        for record in quality.get("open") or []:
            texts += record_texts(record, code)
        first = (quality.get("open") or [{}])[0]
        return TestVerdict(FAILED, texts, first.get("report_no") or report, legacy=bool(quality.get("legacy")))
    failures = []
    if state == UNGRADED:
        failures = [ungraded_text(latest.get("grains"), latest.get("lowest"))]
    cleared = quality.get("cleared") or []
    earlier, earlier_report, cleared_by = [], None, None
    if cleared:
        first = cleared[0]
        earlier = record_texts(first, code)
        earlier_report = first.get("report_no") or None
        cleared_by = REGULATOR if any(c.get("cleared_by") == REGULATOR for c in cleared) else RETEST
        # A batch made from a cleared one carries no test of its own: the report that cleared it stands.
        report = report or cleared[-1].get("cleared_report_no") or None
    return TestVerdict(state, failures, report, earlier, earlier_report, cleared_by if state == CLEARED else None,
                       bool(quality.get("legacy")))


def test_verdict(session: Any, batch: Any) -> TestVerdict:
    """The batch's test verdict (reads only the batch's own columns; `session` for the interface's sake)."""
    return verdict_of(batch.quality, batch.test_state, batch.code)


test_verdict.__test__ = False  # type: ignore[attr-defined]  # pytest: not a test

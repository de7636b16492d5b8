"""Measured tests, computed verdicts: limits, grade, banned substances and what clears a failure (no database)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from gi_trace.registry.limits import pick
from gi_trace.registry.models import ProductLimits
from gi_trace.registry.reference import GOJI_DEMO_LIMITS, GOJI_GRADES, GOJI_STAGES
from gi_trace.tracing import quality, rules

LIMITS = {"moisture_max_pct": 13.0, "so2_max_mg_per_kg": 50.0, "grade_scale": GOJI_GRADES,
          "residue_limits": {"吡虫啉": 1.0}, "default_residue_mg_per_kg": 0.01, "banned_substances": ["克百威"]}


def measured(**values):
    data = {"lab": "L", "report_no": values.pop("report_no", "R-1"), "sampled_at": "2025-07-01", "sampled_by": "S",
            "method": "GB/T 18672", "moisture_pct": 11.0, "so2_mg_per_kg": 10.0, "grains_per_50g": 300,
            "residues": []}
    data.update(values)
    data["limits"] = quality.limits_snapshot(LIMITS, [r["substance"] for r in data["residues"]])
    return data


def test_values_within_the_limits_pass_with_their_grade():
    outcome = quality.evaluate(measured())
    assert outcome.state == "passed" and outcome.grade["grade"] == "特级" and not outcome.failures


def test_so2_600_fails_whatever_the_lab_says_and_the_disagreement_is_said():
    outcome = quality.evaluate(measured(so2_mg_per_kg=600, lab_verdict="pass"))
    assert outcome.state == "failed"
    assert outcome.failures == ({"item": "so2", "value": 600, "limit": 50.0},)
    assert outcome.lab_disagrees and outcome.clear_by == "regulator"
    assert "600" in quality.lab_disagreement_text(outcome)
    assert quality.failure_text(outcome.failures[0]) == "SO₂ 600 mg/kg > 50 mg/kg"


def test_a_lab_fail_on_good_values_does_not_fail_the_test():
    outcome = quality.evaluate(measured(lab_verdict="fail"))
    assert outcome.state == "passed" and outcome.lab_disagrees


def test_moisture_failure_names_value_and_limit_and_is_cleared_by_a_retest():
    outcome = quality.evaluate(measured(moisture_pct=14.6))
    assert quality.failure_text(outcome.failures[0]) == "moisture 14.6% > 13%"
    assert outcome.clear_by == "retest"


def test_residues_use_the_table_then_the_default_and_banned_substances_fail_at_any_amount():
    over = quality.evaluate(measured(residues=[{"substance": "吡虫啉", "mg_per_kg": 1.2}]))
    assert over.failures[0]["item"] == "residue" and over.failures[0]["limit"] == 1.0
    within = quality.evaluate(measured(residues=[{"substance": " 吡虫啉", "mg_per_kg": 0.9}]))
    assert within.state == "passed"
    unlisted = quality.evaluate(measured(residues=[{"substance": "某农药", "mg_per_kg": 0.02}]))
    assert unlisted.failures[0]["limit"] == 0.01
    banned = quality.evaluate(measured(residues=[{"substance": "克百威", "mg_per_kg": 0.001}]))
    assert banned.failures[0]["item"] == "banned" and banned.clear_by == "regulator"
    not_found = quality.evaluate(measured(residues=[{"substance": "克百威", "mg_per_kg": 0}]))
    assert not_found.state == "passed"


def test_below_the_lowest_grade_is_ungraded_not_passed():
    outcome = quality.evaluate(measured(grains_per_50g=950))
    assert outcome.state == "ungraded" and outcome.grade is None and outcome.lowest_grade_max == 900
    assert quality.TEST_STATE_OF[outcome.state] == "ungraded"


def test_missing_values_the_limits_check_are_named():
    assert quality.missing_values(LIMITS, {"residues": []}) == ["moisture_pct", "so2_mg_per_kg", "grains_per_50g"]
    assert quality.missing_values({}, {}) == ["residues"]


def test_an_older_test_with_ticks_is_never_greener_than_its_evidence():
    ticks = {"lab": "L", "report_no": "OLD", "moisture_pct": 11.0, "grains_per_50g": 300, "so2_pass": True,
             "pesticide_pass": True, "lab_verdict": "pass"}
    assert quality.evaluate(ticks, fallback={"moisture_max_pct": 13.0}).state == "untested"
    assert not rules.test_outcome(13.0, ticks).judged and rules.test_outcome(13.0, {**ticks, "so2_pass": False}).judged
    failed = quality.evaluate({**ticks, "so2_pass": False}, fallback={"moisture_max_pct": 13.0})
    assert failed.state == "failed" and failed.clear_by == "regulator"


def test_limits_in_force_on_a_day_are_the_latest_effective_version():
    old = ProductLimits(id=1, product_id=1, effective_from=date(2015, 1, 1), moisture_max_pct=13.0)
    new = ProductLimits(id=2, product_id=1, effective_from=date(2026, 1, 1), moisture_max_pct=12.0)
    assert pick([old, new], date(2025, 12, 31)) is old
    assert pick([old, new], date(2026, 1, 1)) is new
    assert pick([old, new], date(2014, 1, 1)) is None


def test_demo_limits_are_labelled_demo():
    assert GOJI_DEMO_LIMITS["is_demo"] and "演示" in GOJI_DEMO_LIMITS["source"]


# --- the fold ---------------------------------------------------------------------------------

class Ev:
    def __init__(self, seq, stage, day, data, quantity=None):
        self.id, self.seq, self.stage, self.data, self.quantity_kg = seq, seq, stage, data, quantity
        self.occurred_at = datetime(2025, 7, day, tzinfo=timezone.utc)
        self.utc_offset_min = 480
        self.corrects_event_id = None
        self.location_town_code = "640521100"


def project(events, code="B1"):
    return rules.project(events, template=GOJI_STAGES, grade_scale=GOJI_GRADES, max_moisture_pct=13.0,
                         initial_form="fresh", batch_code=code)


def test_moisture_failure_cleared_by_a_retest_reads_cleared_with_the_first_failure():
    events = [Ev(1, "harvest", 1, {"plot_id": 1, "fresh_kg": 100}, 100),
              Ev(2, "testing", 2, measured(moisture_pct=14.6, report_no="R-1")),
              Ev(3, "testing", 3, measured(report_no="R-2"))]
    p = project(events)
    verdict = quality.verdict_of(p.quality, p.test_state, "B1")
    assert (p.test_state, verdict.state, verdict.cleared_by) == ("passed", "cleared", "retest")
    assert verdict.earlier_failures == ["moisture 14.6% > 13%"] and verdict.earlier_report_no == "R-1"
    assert verdict.report_no == "R-2"


def test_so2_failure_is_not_cleared_by_a_passing_retest_but_by_a_regulator():
    events = [Ev(1, "harvest", 1, {"plot_id": 1, "fresh_kg": 100}, 100),
              Ev(2, "testing", 2, measured(so2_mg_per_kg=600, lab_verdict="pass", report_no="R-1")),
              Ev(3, "testing", 3, measured(report_no="R-2"))]
    p = project(events)
    assert p.test_state == "failed"
    assert quality.verdict_of(p.quality, p.test_state, "B1").failures == ["SO₂ 600 mg/kg > 50 mg/kg"]
    events.append(Ev(4, "clearance", 4, {"reason": "复检", "report_no": "GOV-1"}))
    p = project(events)
    verdict = quality.verdict_of(p.quality, p.test_state, "B1")
    assert (p.test_state, verdict.state, verdict.cleared_by, verdict.report_no) == ("passed", "cleared", "regulator",
                                                                                   "GOV-1")


def test_a_blend_carries_its_inputs_failure_and_its_own_test_does_not_clear_it():
    failed = project([Ev(1, "harvest", 1, {"plot_id": 1, "fresh_kg": 100}, 100),
                      Ev(2, "testing", 2, measured(so2_mg_per_kg=600, report_no="R-1"))], code="SRC")
    carried = quality.combine([quality.carried(failed.quality, failed.test_state, "SRC"),
                               quality.carried(None, "passed", "OTHER")])
    inherited = {"test_state": "failed", **carried}
    blend = [Ev(1, "merge", 5, {"role": "output", "inherited": inherited}, 50),
             Ev(2, "testing", 6, measured(report_no="BLEND-1"))]
    p = project(blend, code="BLEND")
    verdict = quality.verdict_of(p.quality, p.test_state, "BLEND")
    assert p.test_state == "failed"
    assert verdict.failures == ["source batch SRC: SO₂ 600 mg/kg > 50 mg/kg"]


def test_an_inherited_moisture_failure_is_cleared_by_testing_the_blend():
    wet = project([Ev(1, "harvest", 1, {"plot_id": 1, "fresh_kg": 100}, 100),
                   Ev(2, "testing", 2, measured(moisture_pct=15, report_no="R-1"))], code="WET")
    inherited = {"test_state": "failed", **quality.carried(wet.quality, wet.test_state, "WET")}
    p = project([Ev(1, "merge", 5, {"role": "output", "inherited": inherited}, 50),
                 Ev(2, "testing", 6, measured(report_no="BLEND-1"))], code="BLEND")
    assert quality.verdict_of(p.quality, p.test_state, "BLEND").state == "cleared"


def test_a_legacy_pass_inherited_reads_untested():
    p = project([Ev(1, "merge", 5, {"role": "output", "inherited": {"test_state": "passed"}}, 50)])
    assert p.test_state == "untested"
    assert quality.verdict_of(p.quality, p.test_state, "B1").legacy

"""Pure tracing rules: stage order, data, time, grade, tests, drying, season, yield, mass balance,
projection and the hash chain. No database."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Optional

import pytest

from gi_trace.errors import Refused, ValidationError
from gi_trace.registry.reference import GOJI_GRADES, GOJI_STAGES
from gi_trace.tracing import chain, rules

UTC = timezone.utc
STAGES = rules.stage_map(GOJI_STAGES)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 7, day, hour, tzinfo=UTC)


@dataclass
class Ev:
    seq: int
    stage: str
    occurred_at: datetime
    quantity_kg: Optional[float] = None
    data: dict = field(default_factory=dict)
    id: Optional[int] = None
    corrects_event_id: Optional[int] = None
    location_town_code: Optional[str] = "640521100"
    utc_offset_min: int = 480
    location_name: str = ""
    op_id: Optional[str] = None
    recorded_by: Optional[int] = 1
    recorded_at: datetime = at(30)
    correction_reason: str = ""
    prev_hash: str = ""
    hash: str = ""

    def __post_init__(self):
        if self.id is None:
            self.id = self.seq


def project(events):
    return rules.project(events, template=GOJI_STAGES, grade_scale=GOJI_GRADES, max_moisture_pct=13.0,
                         initial_form="fresh", batch_code="TEST")


# --- stage order ---------------------------------------------------------------------------

def test_a_harvest_batch_starts_with_planting_or_harvest():
    assert rules.check_stage(GOJI_STAGES, "harvest", "", set(), "harvest")["stage"] == "harvest"
    with pytest.raises(Refused) as exc:
        rules.check_stage(GOJI_STAGES, "harvest", "", set(), "drying")
    assert exc.value.code == "stage_order"


def test_harvest_cannot_follow_drying():
    with pytest.raises(Refused, match="Stage order"):
        rules.check_stage(GOJI_STAGES, "harvest", "drying", {"harvest", "drying"}, "harvest")


def test_drying_is_recorded_once():
    with pytest.raises(Refused, match="already been recorded"):
        rules.check_stage(GOJI_STAGES, "harvest", "drying", {"harvest", "drying"}, "drying")


def test_testing_and_storage_need_a_harvest_first():
    with pytest.raises(Refused, match="only be recorded after"):
        rules.check_stage(GOJI_STAGES, "harvest", "planting", {"planting"}, "testing")
    assert rules.check_stage(GOJI_STAGES, "harvest", "drying", {"drying"}, "testing")


def test_planting_and_harvest_belong_to_harvest_batches():
    with pytest.raises(Refused, match="harvest batch"):
        rules.check_stage(GOJI_STAGES, "merged", "drying", set(), "harvest")


def test_unknown_stage_is_invalid():
    with pytest.raises(ValidationError) as exc:
        rules.check_stage(GOJI_STAGES, "harvest", "", set(), "roasting")
    assert exc.value.field == "stage"


def test_every_goji_stage_has_field_definitions_with_both_labels():
    assert [s["stage"] for s in GOJI_STAGES] == ["planting", "harvest", "drying", "testing", "storage",
                                                 "processing", "distribution"]
    for stage in GOJI_STAGES:
        assert stage["fields"]
        for f in stage["fields"]:
            assert f["label_zh"] and f["label_en"] and f["type"]


# --- event data ----------------------------------------------------------------------------

def test_grade_is_never_typed_in():
    with pytest.raises(ValidationError) as exc:
        rules.clean_data(STAGES["testing"], {"grade": "特优"}, None)
    assert exc.value.field == "data.grade"


def test_required_fields_and_types_are_checked():
    with pytest.raises(ValidationError) as exc:
        rules.clean_data(STAGES["harvest"], {"fresh_kg": 10}, None)
    assert exc.value.field == "data.plot_id"
    with pytest.raises(ValidationError):
        rules.clean_data(STAGES["harvest"], {"plot_id": 1, "fresh_kg": "ten"}, None)
    with pytest.raises(ValidationError):
        rules.clean_data(STAGES["testing"], {**_passing(), "so2_mg_per_kg": "yes"}, None)
    with pytest.raises(ValidationError, match="Unknown field"):  # the typed ticks are gone from new tests
        rules.clean_data(STAGES["testing"], {**_passing(), "so2_pass": True}, None)
    with pytest.raises(ValidationError, match="Unknown field"):
        rules.clean_data(STAGES["harvest"], {"plot_id": 1, "fresh_kg": 1, "colour": "red"}, None)


def test_quantity_comes_from_the_stage_field_or_the_top_level():
    data, qty = rules.clean_data(STAGES["harvest"], {"plot_id": 1}, 12.3456)
    assert qty == 12.346 and data["fresh_kg"] == 12.346
    with pytest.raises(ValidationError, match="disagree"):
        rules.clean_data(STAGES["harvest"], {"plot_id": 1, "fresh_kg": 5}, 6)


def test_times_need_an_offset_and_keep_it():
    instant, offset = rules.parse_time("2025-07-01T08:00:00+08:00")
    assert instant == datetime(2025, 7, 1, 0, tzinfo=UTC) and offset == 480
    assert rules.parse_time("2025-07-01T00:00:00Z")[1] == 0
    with pytest.raises(ValidationError, match="offset"):
        rules.parse_time("2025-07-01T08:00:00")


def test_an_event_in_the_future_or_before_its_predecessor_is_refused():
    now = at(10)
    rules.check_time(now + timedelta(minutes=4), now, None)  # clock skew tolerated
    with pytest.raises(Refused) as exc:
        rules.check_time(now + timedelta(hours=1), now, None)
    assert exc.value.code == "future"
    with pytest.raises(Refused) as exc:
        rules.check_time(at(5), now, at(6))
    assert exc.value.code == "before_previous"


# --- grades, tests, drying, season, yield, balance ----------------------------------------

def _passing():
    return {"lab": "L", "report_no": "R", "sampled_at": "2025-07-01", "sampled_by": "S", "method": "GB/T 18672",
            "moisture_pct": 11.0, "grains_per_50g": 300, "so2_mg_per_kg": 10.0, "residues": []}


@pytest.mark.parametrize("grains, grade", [(250, "特优"), (280, "特优"), (281, "特级"), (370, "特级"),
                                           (580, "甲级"), (900, "乙级"), (901, None)])
def test_grade_follows_gb_t_18672_grain_counts(grains, grade):
    entry = rules.grade_for(GOJI_GRADES, grains)
    assert (entry["grade"] if entry else None) == grade


def test_a_test_fails_on_moisture_so2_or_residue_whatever_the_verdict_says():
    assert rules.test_outcome(13.0, _passing()).passed
    assert rules.test_outcome(13.0, {**_passing(), "moisture_pct": 13.5, "lab_verdict": "pass"}).failures == (
        "moisture",)
    limits = {"so2_max_mg_per_kg": 50, "residues": {}, "default_residue_mg_per_kg": 0.01}
    assert not rules.test_outcome(13.0, {**_passing(), "so2_mg_per_kg": 600, "limits": limits}).passed
    assert not rules.test_outcome(13.0, {**_passing(), "residues": [{"substance": "x", "mg_per_kg": 0.2}],
                                        "limits": limits}).passed


def test_dried_weight_must_be_less_than_fresh():
    rules.check_drying(1000, 240)
    with pytest.raises(Refused) as exc:
        rules.check_drying(240, 240)
    assert exc.value.code == "dried_not_less"


def test_drying_ratio_band_season_and_yield_cap():
    assert not rules.ratio_outside_band(1000, 250, 3.5, 5.0)
    assert rules.ratio_outside_band(1000, 150, 3.5, 5.0)
    assert rules.ratio_outside_band(1000, 400, 3.5, 5.0)
    assert rules.in_season(date(2025, 7, 1), "05-20", "10-31")
    assert not rules.in_season(date(2025, 3, 1), "05-20", "10-31")
    assert rules.in_season(date(2025, 1, 5), "11-01", "02-28")  # across the new year
    assert rules.yield_over_cap(401, 1.0, 400) and not rules.yield_over_cap(400, 1.0, 400)
    assert rules.dried_equivalent(2000, 5.0) == 400


def test_labels_beyond_the_quantity_are_implausible():
    assert rules.labels_over_quantity(101, 1.0, 100)
    assert not rules.labels_over_quantity(100, 1.0, 100)
    assert not rules.labels_over_quantity(10**6, None, 100)


def test_nothing_leaves_a_batch_beyond_what_it_holds():
    rules.check_outflow(100, 100, "X")
    with pytest.raises(Refused) as exc:
        rules.check_outflow(100, 100.01, "X")
    assert exc.value.code == "quantity_from_nothing"


# --- projection ----------------------------------------------------------------------------

def test_projection_follows_harvest_drying_test_and_distribution():
    events = [Ev(1, "harvest", at(1), 600, {"plot_id": 1, "fresh_kg": 600}),
              Ev(2, "harvest", at(2), 400, {"plot_id": 1, "fresh_kg": 400}),
              Ev(3, "drying", at(3), 240, {"method": "sun", "fresh_kg_in": 1000, "dried_kg_out": 240}),
              Ev(4, "testing", at(4), None, {**_passing(), "grains_per_50g": 275}),
              Ev(5, "distribution", at(5), 40, {"recipient": "x", "kg": 40})]
    p = project(events)
    assert (p.quantity_kg, p.out_kg, p.available_kg) == (240, 40, 200)
    assert (p.stage, p.product_form, p.test_state, p.grade) == ("distribution", "dried", "passed", "特优")
    assert p.origin_town_code == "640521100" and p.harvest_year == 2025


def test_a_later_passing_test_lifts_a_failed_one():
    events = [Ev(1, "harvest", at(1), 1000, {"fresh_kg": 1000}),
              Ev(2, "testing", at(2), None, {**_passing(), "moisture_pct": 15}),
              ]
    assert project(events).test_state == "failed"
    events.append(Ev(3, "testing", at(3), None, _passing()))
    assert project(events).test_state == "passed"


def test_a_correction_replaces_the_corrected_content():
    events = [Ev(1, "harvest", at(1), 500, {"fresh_kg": 500}),
              Ev(2, "harvest", at(1), 450, {"fresh_kg": 450}, corrects_event_id=1)]
    assert project(events).quantity_kg == 450
    events.append(Ev(3, "harvest", at(1), 480, {"fresh_kg": 480}, corrects_event_id=2))
    assert project(events).quantity_kg == 480


def test_drying_part_of_a_batch_or_after_outflow_is_refused():
    harvest = Ev(1, "harvest", at(1), 1000, {"fresh_kg": 1000})
    with pytest.raises(Refused, match="whole batch"):
        project([harvest, Ev(2, "drying", at(2), 100, {"fresh_kg_in": 500, "dried_kg_out": 100})])
    with pytest.raises(Refused, match="already left"):
        project([harvest, Ev(2, "split", at(2), 10, {"role": "input"}),
                 Ev(3, "drying", at(3), 200, {"dried_kg_out": 200})])


def test_distribution_beyond_holdings_is_refused():
    with pytest.raises(Refused) as exc:
        project([Ev(1, "harvest", at(1), 10, {"fresh_kg": 10}),
                 Ev(2, "distribution", at(2), 11, {"recipient": "x", "kg": 11})])
    assert exc.value.code == "quantity_from_nothing"


# --- hash chain ----------------------------------------------------------------------------

def _chained():
    events, prev = [], ""
    for i, stage in enumerate(("harvest", "drying", "testing"), start=1):
        e = Ev(i, stage, at(i), 10.0 * i, {"n": i}, prev_hash=prev)
        e.hash = chain.compute_hash("ABC", e)
        prev = e.hash
        events.append(e)
    return events


def test_an_intact_chain_verifies():
    events = _chained()
    assert chain.check_events("ABC", events[-1].hash, events).ok


def test_any_change_is_named_at_its_event():
    events = _chained()
    events[1].data = {"n": 99}
    result = chain.check_events("ABC", events[-1].hash, events)
    assert not result.ok and result.broken_seq == 2


def test_a_missing_middle_or_last_event_breaks_the_chain():
    events = _chained()
    assert chain.check_events("ABC", events[-1].hash, [events[0], events[2]]).broken_seq == 2
    assert chain.check_events("ABC", events[-1].hash, events[:2]).broken_seq == 3


def test_canonical_json_is_stable_and_unicode():
    assert chain.canonical_json({"b": 1, "a": "枸杞"}) == '{"a":"枸杞","b":1}'.encode()

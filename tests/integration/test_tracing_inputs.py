"""Inputs per plot and season against a real database: recording and its refusals, corrections that
supersede, the safety interval at harvest, and the inputs behind a batch on its public page and in EPCIS."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from gi_trace.errors import Conflict, NotFound, Refused, ValidationError
from gi_trace.scan import read_inputs
from gi_trace.tracing import epcis, services
from gi_trace.tracing.models import Event
from gi_trace.tracing.models_inputs import PlotInput
from gi_trace.tracing.services import inputs
from tests.factories import PlotFactory
from tests.factories_tracing import PICKED, PLANTED, Grower

SPRAY = dict(kind="pesticide", product_name="吡虫啉可湿性粉剂", registration_no="PD20080001",
             active_ingredient="吡虫啉", dose="1500倍液", applied_on="2025-06-24", safety_interval_days=14,
             applied_by="张三")


def _record(session, grower, **changes) -> PlotInput:
    return inputs.record_input(session, grower.user, grower.plot, inputs.InputData(**{**SPRAY, **changes}))


def _harvest(session, grower, batch, when: str, plot_id=None):
    return grower.event(session, batch, "harvest", when, {"plot_id": plot_id or grower.plot.id, "picking_round": 3,
                                                          "fresh_kg": 500})


def _planted(session, grower):
    batch = grower.open(session)
    grower.event(session, batch, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞7号"})
    return batch


# --- recording ---------------------------------------------------------------------------------

def test_inputs_are_recorded_per_plot_and_season_as_often_as_needed(session, grower):
    first = _record(session, grower)
    _record(session, grower, kind="fertiliser", product_name="腐熟羊粪", registration_no="", active_ingredient="",
            dose="2 t/亩", applied_on="2025-03-20", safety_interval_days=None)
    _record(session, grower, applied_on="2025-08-02")
    _record(session, grower, applied_on="2024-07-01")
    assert first.season == 2025 and first.recorded_by == grower.user.id and first.applied_by == "张三"
    season = inputs.inputs_of(session, grower.plot, 2025)
    assert [r.applied_on for r in season] == [date(2025, 8, 2), date(2025, 6, 24), date(2025, 3, 20)]
    assert len(inputs.inputs_of(session, grower.plot)) == 4


@pytest.mark.parametrize("change, field", [
    ({"kind": "herbicide"}, "kind"),
    ({"product_name": "  "}, "product_name"),
    ({"registration_no": ""}, "registration_no"),
    ({"registration_no": "12345"}, "registration_no"),
    ({"active_ingredient": ""}, "active_ingredient"),
    ({"dose": ""}, "dose"),
    ({"applied_on": "2025-02-30"}, "applied_on"),
    ({"applied_on": None}, "applied_on"),
    ({"safety_interval_days": None}, "safety_interval_days"),
    ({"safety_interval_days": -1}, "safety_interval_days"),
    ({"safety_interval_days": 400}, "safety_interval_days"),
    ({"safety_interval_days": 7.5}, "safety_interval_days"),
    ({"product_name": "x" * 201}, "product_name"),
])
def test_malformed_inputs_are_refused_naming_the_field(session, grower, change, field):
    with pytest.raises(ValidationError) as exc:
        _record(session, grower, **change)
    assert exc.value.field == field
    assert session.exec(select(PlotInput)).all() == []


def test_an_application_in_the_future_is_refused(session, grower):
    with pytest.raises(Refused) as exc:
        _record(session, grower, applied_on=(date.today() + timedelta(days=3)).isoformat())
    assert exc.value.field == "applied_on" and exc.value.code == "future"


@pytest.mark.parametrize("change, field", [
    ({"active_ingredient": "甲胺磷"}, "active_ingredient"),
    ({"product_name": "克百威颗粒剂", "active_ingredient": "草甘膦"}, "product_name"),
    ({"kind": "other", "product_name": "氧乐果 乳油", "registration_no": "", "active_ingredient": ""},
     "product_name"),
])
def test_a_banned_substance_is_refused(session, grower, change, field):
    with pytest.raises(Refused) as exc:
        _record(session, grower, **change)
    assert exc.value.code == "banned_substance" and exc.value.field == field
    assert "禁用" in exc.value.message or "banned" in exc.value.message


def test_the_banned_list_is_the_products_limits_in_force_on_the_day_applied(session, grower):
    from gi_trace.registry.models import ProductLimits
    from tests.factories import goji

    product = goji(session)
    assert "克百威" in inputs.banned_substances(session, product, date(2025, 6, 1))  # the demo limits
    assert "甲胺磷" in inputs.banned_substances(session, None)  # a product without limits: the default list
    session.add(ProductLimits(product_id=product.id, effective_from=date(2025, 6, 1), banned_substances=["吡虫啉"],
                              grade_scale=[], residue_limits={}, source="test"))
    session.flush()
    _record(session, grower, applied_on="2025-05-31")  # before the new version took effect
    with pytest.raises(Refused) as exc:
        _record(session, grower, applied_on="2025-06-01")
    assert exc.value.code == "banned_substance"


def test_only_the_owner_records_on_a_plot(session, grower):
    other = Grower.make(session)
    with pytest.raises(NotFound):
        inputs.own_plot(session, other.user, grower.plot.id)
    with pytest.raises(NotFound):
        inputs.record_input(session, other.user, grower.plot, inputs.InputData(**SPRAY))
    assert [p.id for p in inputs.own_plots(session, other.user)] == [other.plot.id]


def test_a_correction_supersedes_and_the_original_stays(session, grower):
    wrong = _record(session, grower, safety_interval_days=7)
    fixed = _record(session, grower, supersedes=wrong.id, correction_reason="标签上写的是14天")
    assert fixed.supersedes_id == wrong.id
    assert [r.id for r in inputs.inputs_of(session, grower.plot, 2025)] == [fixed.id]
    assert {r.id for r in inputs.inputs_of(session, grower.plot, 2025, include_superseded=True)} == {wrong.id, fixed.id}
    assert session.get(PlotInput, wrong.id).safety_interval_days == 7  # never edited
    with pytest.raises(Conflict):
        _record(session, grower, supersedes=wrong.id, correction_reason="again")
    with pytest.raises(ValidationError) as exc:
        _record(session, grower, supersedes=fixed.id)
    assert exc.value.field == "correction_reason"
    other_plot = PlotFactory(producer_id=grower.producer.id)
    with pytest.raises(ValidationError) as exc:
        inputs.record_input(session, grower.user, other_plot,
                            inputs.InputData(**SPRAY, supersedes=fixed.id, correction_reason="x"))
    assert exc.value.field == "supersedes"


# --- the safety interval at harvest -----------------------------------------------------------------

def test_a_harvest_inside_the_safety_interval_is_refused_naming_the_application_and_date(session, grower):
    _record(session, grower)  # 2025-06-24 + 14 days: harvest from 2025-07-08
    batch = _planted(session, grower)
    with pytest.raises(Refused) as exc:
        _harvest(session, grower, batch, "2025-06-27T08:00:00+08:00")
    refusal = exc.value
    assert refusal.code == "safety_interval" and refusal.field == "occurred_at"
    assert "吡虫啉" in refusal.message and "2025年6月24日" in refusal.message and "2025年7月8日" in refusal.message
    assert refusal.extra["earliest_allowed"] == "2025-07-08"
    assert [e.stage for e in session.exec(select(Event).where(Event.batch_id == batch.id))] == ["planting"]
    _harvest(session, grower, batch, "2025-07-08T06:00:00+08:00")  # the first allowed day


def test_the_interval_counts_in_local_time_and_the_latest_application_decides(session, grower):
    _record(session, grower, applied_on="2025-06-20", safety_interval_days=3)
    _record(session, grower, applied_on="2025-06-22", safety_interval_days=21)
    batch = _planted(session, grower)
    # 2025-07-12T23:30 in Beijing is still 07-12 there: the 21-day interval (until 07-13) refuses it.
    with pytest.raises(Refused) as exc:
        _harvest(session, grower, batch, "2025-07-12T15:30:00+00:00")
    assert exc.value.extra["earliest_allowed"] == "2025-07-13"


def test_a_corrected_application_no_longer_blocks_and_other_plots_are_unaffected(session, grower):
    wrong = _record(session, grower, applied_on="2025-06-28")
    batch = _planted(session, grower)
    with pytest.raises(Refused):
        _harvest(session, grower, batch, "2025-07-01T08:00:00+08:00")
    _record(session, grower, applied_on="2025-06-08", supersedes=wrong.id, correction_reason="日期写错")
    second = PlotFactory(producer_id=grower.producer.id, town_code="640521101")
    _record(session, grower, applied_on="2025-06-30")  # on the first plot only
    other_batch = grower.open(session)
    grower.event(session, other_batch, "planting", PLANTED, {"plot_id": second.id})
    _harvest(session, grower, other_batch, "2025-07-01T08:00:00+08:00", plot_id=second.id)


def test_fertiliser_without_interval_never_blocks(session, grower):
    _record(session, grower, kind="fertiliser", product_name="尿素", registration_no="", active_ingredient="",
            dose="10 kg/亩", applied_on="2025-06-30", safety_interval_days=None)
    batch = _planted(session, grower)
    _harvest(session, grower, batch, "2025-07-01T08:00:00+08:00")


def test_a_correction_of_a_harvest_is_checked_too(session, grower):
    batch = grower.harvested(session)  # picked 2025-07-01
    _record(session, grower, applied_on="2025-07-02")
    harvest = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "harvest")).one()
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "harvest", "2025-07-05T08:00:00+08:00",
                     {"plot_id": grower.plot.id, "fresh_kg": 1000}, corrects_event_id=harvest.id,
                     correction_reason="日期写错")
    assert exc.value.code == "safety_interval"


def test_planting_no_longer_takes_inputs(session, grower):
    batch = grower.open(session)
    with pytest.raises(ValidationError) as exc:
        grower.event(session, batch, "planting", PLANTED, {"plot_id": grower.plot.id,
                                                           "inputs": [{"name": "吡虫啉"}]})
    assert exc.value.field == "data.inputs"


# --- the inputs behind a batch ------------------------------------------------------------------

def test_a_blend_lists_the_season_inputs_of_the_plots_behind_its_harvests_once(session, grower):
    second = PlotFactory(producer_id=grower.producer.id, town_code="640521101")
    _record(session, grower, applied_on="2025-05-01")
    _record(session, grower, applied_on="2024-05-01")  # another season: not behind a 2025 harvest
    inputs.record_input(session, grower.user, second, inputs.InputData(**{**SPRAY, "applied_on": "2025-05-03",
                                                                          "kind": "fertiliser",
                                                                          "product_name": "有机肥",
                                                                          "registration_no": "",
                                                                          "safety_interval_days": None}))
    a = grower.harvested(session)
    b = grower.open(session)
    grower.event(session, b, "planting", PLANTED, {"plot_id": second.id})
    _harvest(session, grower, b, PICKED, plot_id=second.id)
    c = grower.harvested(session)  # the first plot again: its inputs are listed once
    merged = services.merge(session, grower.user, [(a, None), (b, None), (c, None)],
                            occurred_at="2025-07-10T08:00:00+08:00").children[0]
    found = read_inputs.read_inputs(session.connection(), _ancestry(session, merged))
    assert [(x.applied_on, x.kind, x.town_code) for x in found] == [
        (date(2025, 5, 1), "pesticide", "640521100"), (date(2025, 5, 3), "fertiliser", "640521101")]
    document = epcis.build_document(session, [merged], "https://trace.example.cn")
    plots = document["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"]
    assert {p["id"] for p in plots} == {f"https://trace.example.cn/id/plot/{grower.plot.id}",
                                        f"https://trace.example.cn/id/plot/{second.id}"}
    applied = sorted(a["attribute"]["appliedOn"] for p in plots for a in p["attributes"]
                     if a["id"].endswith("/voc/input"))
    assert applied == ["2025-05-01", "2025-05-03"]
    assert "张三" not in str(document)  # who applied it stays with the producer


def _ancestry(session, batch):
    from gi_trace.scan import read_path

    return read_path.ANCESTRY_QUERY.all(session.connection(), {"batch_id": batch.id})


def test_a_new_input_touches_the_harvests_of_its_plot_and_season(session, grower):
    from gi_trace.db import notes
    from gi_trace.tracing.chain import TOUCHED

    batch = grower.harvested(session)
    notes(session).pop(TOUCHED, None)
    _record(session, grower, applied_on="2025-05-01")
    assert notes(session).get(TOUCHED) == {batch.id}
    notes(session).pop(TOUCHED, None)
    _record(session, grower, applied_on="2024-05-01")
    assert not notes(session).get(TOUCHED)


def test_an_application_recorded_after_a_harvest_inside_its_interval_flags_that_batch(session, grower):
    from gi_trace.tracing import rules
    from gi_trace.tracing.models import PlausibilityFlag

    picked = grower.harvested(session)  # picked 2025-07-01 from grower.plot
    _record(session, grower, kind="fertiliser", product_name="尿素", registration_no="", active_ingredient="",
            dose="10 kg/亩", applied_on="2025-06-30", safety_interval_days=None)  # no interval: nothing to flag
    _record(session, grower, applied_on="2025-06-10")  # until 06-24: the harvest was after it
    assert session.exec(select(PlausibilityFlag)).all() == []
    record = _record(session, grower, applied_on="2025-06-24")  # until 07-08: the 07-01 harvest was inside
    flag = session.exec(select(PlausibilityFlag)).one()
    assert (flag.batch_id, flag.kind, flag.params["input_id"]) == (picked.id, "inside_safety_interval", record.id)
    assert picked.open_flags == 1
    text = rules.flag_text(flag.kind, flag.params)
    assert "2025年7月1日" in text and "2025年6月24日" in text and "2025年7月8日" in text
    # The harvest itself stands: evidence is never removed.
    assert [e.stage for e in session.exec(select(Event).where(Event.batch_id == picked.id))] == ["planting", "harvest"]

"""A regulator's clearance of a source batch reaches the batches already made from it: a failure they carry in from
it reads cleared (computed from the records, none edited), while their own failing tests, a failure another input
still holds open, and a source's re-test (re-drying what stayed behind) do not clear them."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace import jobs
from gi_trace.tracing import quality, services
from gi_trace.tracing.models import Event
from tests.factories import UserFactory
from tests.factories_tracing import PASSING_TEST

SO2_600 = {**PASSING_TEST, "report_no": "NX-SO2", "so2_mg_per_kg": 600.0, "lab_verdict": "pass"}
WET = {**PASSING_TEST, "report_no": "NX-WET", "moisture_pct": 14.6}
SPLIT, MERGE, LATER = "2025-07-21T08:00:00+08:00", "2025-07-22T08:00:00+08:00", "2025-07-25T10:00:00+08:00"


@pytest.fixture
def regulator(session):
    return UserFactory(username="city-reg", role="regulator", county_code=None)


def _state(session, batch) -> str:
    return quality.test_verdict(session, batch).state


def _clear(session, regulator, batch, report_no: str = "GOV-7"):
    return services.clear_failure(session, regulator, batch, reason="监督抽检复检合格", report_no=report_no)


def test_clearing_the_source_clears_the_lots_split_from_it_and_what_was_made_from_them(session, grower, regulator):
    bad = grower.tested(session, test=SO2_600)
    lot1, lot2 = services.split(session, grower.user, bad, [{"quantity_kg": 50}, {"quantity_kg": 50}],
                                occurred_at=SPLIT).children
    # a lot of a lot: the failure travels two links down (failed goods are not handed over to another owner)
    sublot = services.split(session, grower.user, lot2, [{"quantity_kg": 20}], occurred_at=MERGE).children[0]
    events_before = session.exec(select(Event.id, Event.hash).order_by(Event.id)).all()
    assert [_state(session, b) for b in (lot1, lot2, sublot)] == ["failed"] * 3
    assert not services.label_allowed(session, lot1).allowed
    _clear(session, regulator, bad)
    for batch in (lot1, lot2, sublot):
        verdict = quality.test_verdict(session, batch)
        assert (verdict.state, verdict.cleared_by, verdict.report_no) == ("cleared", "regulator", "GOV-7"), batch.code
        assert verdict.earlier_failures == [f"来源批次 {bad.code}：二氧化硫 600 mg/kg > 50 mg/kg"]
        assert verdict.earlier_report_no == "NX-SO2" and batch.test_state == "passed"
    assert services.label_allowed(session, lot1).allowed
    assert lot1.quality["cleared"][0]["cleared_in"] == bad.code
    # Records are evidence: one event more (the source's clearance), nothing else written or changed.
    events_after = session.exec(select(Event.id, Event.hash).order_by(Event.id)).all()
    assert events_after[:len(events_before)] == events_before and len(events_after) == len(events_before) + 1


def test_a_merge_is_cleared_of_its_input_s_failure_but_not_of_its_own_or_of_an_input_still_failed(
        session, grower, regulator):
    good, bad, untested = grower.tested(session), grower.tested(session, test=SO2_600), grower.dried(session)
    blend = services.merge(session, grower.user, [(good, 10), (bad, 10)], occurred_at=MERGE).children[0]
    grower.event(session, blend, "testing", LATER, {**PASSING_TEST, "report_no": "BLEND-1"})
    wet_blend = services.merge(session, grower.user, [(good, 10), (bad, 10)], occurred_at=MERGE).children[0]
    grower.event(session, wet_blend, "testing", LATER, {**WET, "report_no": "BLEND-WET"})
    with_untested = services.merge(session, grower.user, [(untested, 10), (bad, 10)], occurred_at=MERGE).children[0]
    assert quality.test_verdict(session, wet_blend).failures == [
        f"来源批次 {bad.code}：二氧化硫 600 mg/kg > 50 mg/kg", "含水率 14.6% > 13%"]
    _clear(session, regulator, bad)
    verdict = quality.test_verdict(session, blend)
    assert (verdict.state, verdict.report_no, verdict.cleared_by) == ("cleared", "BLEND-1", "regulator")
    # The blend's own failing test stands; only the inherited failure is gone.
    wet = quality.test_verdict(session, wet_blend)
    assert (wet.state, wet.failures) == ("failed", ["含水率 14.6% > 13%"])
    # Nothing made the untested input pass: no failure, and not green either.
    assert _state(session, with_untested) == "untested"
    assert not services.label_allowed(session, with_untested).allowed


def test_a_failure_two_lots_carry_into_a_merge_clears_only_when_both_have_cleared_it(session, grower, regulator):
    bad = grower.tested(session, test=SO2_600)
    lot1, lot2 = services.split(session, grower.user, bad, [{"quantity_kg": 50}, {"quantity_kg": 50}],
                                occurred_at=SPLIT).children
    merged = services.merge(session, grower.user, [(lot1, None), (lot2, None)], occurred_at=MERGE).children[0]
    _clear(session, regulator, lot1, "GOV-L1")  # one lot's goods: the other lot's still carry the failure
    assert (_state(session, lot1), _state(session, lot2), _state(session, merged)) == ("cleared", "failed", "failed")
    _clear(session, regulator, bad, "GOV-S")
    assert (_state(session, lot2), _state(session, merged)) == ("cleared", "cleared")


def test_a_re_test_of_the_source_does_not_clear_kilograms_that_had_left_it(session, grower, regulator):
    wet = grower.tested(session, test=WET)
    lot = services.split(session, grower.user, wet, [{"quantity_kg": 50}], occurred_at=SPLIT).children[0]
    grower.event(session, wet, "testing", LATER, {**PASSING_TEST, "report_no": "NX-DRY"})  # re-dried what stayed
    assert _state(session, wet) == "cleared"
    grower.event(session, lot, "storage", "2025-07-26T10:00:00+08:00", {"place": "冷库"})  # folded again
    assert quality.test_verdict(session, lot).failures == [f"来源批次 {wet.code}：含水率 14.6% > 13%"]


def _main(html: str) -> str:
    return html[html.index("<main"):]


def test_the_scan_page_of_a_blend_turns_from_not_gi_to_genuine_when_its_source_is_cleared(
        client, session, grower, regulator):
    good, bad = grower.tested(session), grower.tested(session, test=SO2_600)
    blend = services.merge(session, grower.user, [(good, 10), (bad, 10)], occurred_at=MERGE).children[0]
    session.commit()
    jobs.drain()  # the stored page is built: the verdict must still follow the clearance
    before = _main(client.get(f"/t/{blend.code}").get_data(as_text=True))
    assert "✘ 不得作为地理标志产品销售" in before and "二氧化硫 600 mg/kg &gt; 50 mg/kg" in before
    assert "正品" not in before
    _clear(session, regulator, bad)
    session.commit()
    for drained in (False, True):  # before and after the stored pages are built again
        if drained:
            jobs.drain()
        after = _main(client.get(f"/t/{blend.code}").get_data(as_text=True))
        assert "✔ 正品：地理标志产品，全程可追溯" in after and "不得作为地理标志产品销售" not in after
        assert f"复检合格（首次检测不合格：来源批次 {bad.code}：二氧化硫 600 mg/kg &gt; 50 mg/kg）" in after
        assert "该不合格项已由监管部门作出记录在案的决定予以解除。" in after

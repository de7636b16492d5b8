"""Measured tests, computed verdicts, through the services, the API and the portal: SO₂ 600 fails whatever the
lab says; a blend of a failed input cannot pass by testing the blend; a moisture re-test clears; a regulator's
recorded decision clears the rest; the product's limits are versioned data only city regulators record."""
from __future__ import annotations

import re

import pytest
from sqlmodel import select

from gi_trace.accounts.services import create_token
from gi_trace.errors import Forbidden, Refused, ValidationError
from gi_trace.registry import limits
from gi_trace.registry.models import ProductLimits
from gi_trace.tracing import quality, services, transfers, units
from gi_trace.tracing.models import Event
from tests.conftest import csrf_token, login
from tests.factories import UserFactory, authorised_producer, goji, producer_user
from tests.factories_tracing import PASSING_TEST, TESTED, Grower

SO2_600 = {**PASSING_TEST, "report_no": "NX-SO2", "so2_mg_per_kg": 600.0, "lab_verdict": "pass"}
WET = {**PASSING_TEST, "report_no": "NX-WET", "moisture_pct": 14.6}
RETEST = "2025-07-20T10:00:00+08:00"


def bearer(session, user) -> dict:
    _token, raw = create_token(session, user, "test")
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def grower(session):
    return Grower.make(session)


@pytest.fixture
def regulator(session):
    return UserFactory(username="city-reg", role="regulator", county_code=None)


# --- services -------------------------------------------------------------------------------------

def test_so2_600_with_a_lab_pass_fails_and_no_label_is_issued(session, grower):
    batch = grower.tested(session, test=SO2_600)
    verdict = quality.test_verdict(session, batch)
    assert (batch.test_state, verdict.state, verdict.failures) == ("failed", "failed", ["二氧化硫 600 mg/kg > 50 mg/kg"])
    permission = services.label_allowed(session, batch)
    assert not permission.allowed and "二氧化硫 600 mg/kg > 50 mg/kg" in permission.reason
    with pytest.raises(Refused):
        units.issue_units(session, grower.user, batch, 1, 0.25)
    # the event keeps the limits it was judged against (the demo version in force on the sampling date)
    event = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "testing")).one()
    assert event.data["limits"]["so2_max_mg_per_kg"] == 50 and event.data["limits"]["is_demo"]


def test_a_passing_retest_does_not_clear_so2_but_a_regulators_decision_does(session, grower, regulator):
    batch = grower.tested(session, test=SO2_600)
    grower.event(session, batch, "testing", RETEST, {**PASSING_TEST, "report_no": "NX-2"})
    assert quality.test_verdict(session, batch).state == "failed"
    with pytest.raises(Forbidden):
        services.clear_failure(session, grower.user, batch, reason="我说合格", report_no="X")
    with pytest.raises(ValidationError):
        services.clear_failure(session, regulator, batch, reason="复检合格", report_no="")
    services.clear_failure(session, regulator, batch, reason="监督抽检复检合格", report_no="GOV-7")
    verdict = quality.test_verdict(session, batch)
    assert (verdict.state, verdict.cleared_by, verdict.report_no) == ("cleared", "regulator", "GOV-7")
    assert verdict.earlier_failures == ["二氧化硫 600 mg/kg > 50 mg/kg"] and verdict.earlier_report_no == "NX-SO2"
    assert services.label_allowed(session, batch).allowed
    # the failed test stays in the chain; the decision is one more event
    stages = [e.stage for e in session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq))]
    assert stages[-3:] == ["testing", "testing", "clearance"]


def test_a_moisture_failure_is_cleared_by_a_passing_retest(session, grower):
    batch = grower.tested(session, test=WET)
    assert quality.test_verdict(session, batch).failures == ["含水率 14.6% > 13%"]
    grower.event(session, batch, "testing", RETEST, {**PASSING_TEST, "report_no": "NX-DRY"})
    verdict = quality.test_verdict(session, batch)
    assert (verdict.state, verdict.cleared_by, verdict.report_no) == ("cleared", "retest", "NX-DRY")
    assert verdict.earlier_failures == ["含水率 14.6% > 13%"] and verdict.earlier_report_no == "NX-WET"
    assert services.label_allowed(session, batch).allowed


def test_a_blend_of_a_failed_input_retested_is_still_refused_naming_the_source(session, grower, regulator):
    good = grower.tested(session)
    bad = grower.tested(session, test=SO2_600)
    blend = services.merge(session, grower.user, [(good, 10), (bad, 10)],
                           occurred_at="2025-07-21T08:00:00+08:00").children[0]
    grower.event(session, blend, "testing", "2025-07-22T10:00:00+08:00", {**PASSING_TEST, "report_no": "BLEND-1"})
    verdict = quality.test_verdict(session, blend)
    assert verdict.state == "failed"
    assert verdict.failures == [f"来源批次 {bad.code}：二氧化硫 600 mg/kg > 50 mg/kg"]
    permission = services.label_allowed(session, blend)
    assert not permission.allowed and bad.code in permission.reason
    # a lot split from the blend carries the failure on
    lot = services.split(session, grower.user, blend, [{"quantity_kg": 5}],
                         occurred_at="2025-07-23T08:00:00+08:00").children[0]
    assert bad.code in quality.test_verdict(session, lot).failures[0]
    # only a regulator's decision on the blend clears it
    services.clear_failure(session, regulator, blend, reason="混合批次复检合格，经核查", report_no="GOV-B")
    assert quality.test_verdict(session, blend).state == "cleared"


def test_a_failure_cleared_upstream_travels_to_another_owner(session, grower, regulator):
    batch = grower.tested(session, test=WET)
    grower.event(session, batch, "testing", RETEST, {**PASSING_TEST, "report_no": "NX-DRY"})
    dealer = authorised_producer(kind="trader")
    dealer_user = producer_user(dealer)
    shipment = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=20,
                              shipped_at="2025-07-25T08:00:00+08:00")
    received = transfers.receive(session, dealer_user, shipment, received_at="2025-07-25T18:00:00+08:00")
    verdict = quality.test_verdict(session, received)
    assert verdict.state == "cleared" and verdict.earlier_failures == [f"来源批次 {batch.code}：含水率 14.6% > 13%"]
    assert (verdict.report_no, verdict.earlier_report_no) == ("NX-DRY", "NX-WET")


def test_a_banned_substance_fails_at_any_amount_and_is_cleared_only_by_a_regulator(session, grower):
    batch = grower.tested(session, test={**PASSING_TEST, "residues": [{"substance": "克百威", "mg_per_kg": 0.002}]})
    assert quality.test_verdict(session, batch).failures == ["检出禁用物质 克百威（0.002 mg/kg）"]
    grower.event(session, batch, "testing", RETEST, {**PASSING_TEST, "report_no": "NX-3"})
    assert batch.test_state == "failed"


def test_a_residue_above_its_limit_or_the_default_fails(session, grower):
    listed = grower.tested(session, test={**PASSING_TEST, "residues": [{"substance": "吡虫啉", "mg_per_kg": 1.5}]})
    unlisted = grower.tested(session, test={**PASSING_TEST, "residues": [{"substance": "某新农药", "mg_per_kg": 0.05}]})
    assert quality.test_verdict(session, listed).failures == ["吡虫啉 1.5 mg/kg > 1 mg/kg"]
    assert quality.test_verdict(session, unlisted).failures == ["某新农药 0.05 mg/kg > 0.01 mg/kg"]


def test_below_the_lowest_grade_is_ungraded_and_may_not_carry_the_mark(session, grower):
    batch = grower.tested(session, test={**PASSING_TEST, "grains_per_50g": 950})
    verdict = quality.test_verdict(session, batch)
    assert (batch.test_state, verdict.state, batch.grade) == ("ungraded", "ungraded", None)
    permission = services.label_allowed(session, batch)
    assert not permission.allowed and permission.code == "ungraded"


def test_a_test_needs_the_values_its_limits_check_and_a_sample_before_the_report(session, grower):
    batch = grower.dried(session)
    with pytest.raises(ValidationError) as missing:
        grower.event(session, batch, "testing", TESTED, {k: v for k, v in PASSING_TEST.items() if k != "residues"})
    assert missing.value.field == "data.residues"
    with pytest.raises(ValidationError) as late:
        grower.event(session, batch, "testing", TESTED, {**PASSING_TEST, "sampled_at": "2025-07-16"})
    assert late.value.field == "data.sampled_at"
    with pytest.raises(ValidationError):
        grower.event(session, batch, "testing", TESTED, {**PASSING_TEST, "so2_pass": True})


def test_limits_in_force_on_the_sampling_date_decide(session, grower, regulator):
    product = goji(session)
    limits.record_limits(session, regulator, product, limits.LimitsInput(
        effective_from="2025-07-16", moisture_max_pct=11.0, so2_max_mg_per_kg=50, residue_limits={},
        default_residue_mg_per_kg=0.01, grade_scale=[{"grade": "特优", "max_grains_per_50g": 280},
                                                     {"grade": "乙级", "max_grains_per_50g": 900}]))
    before = grower.tested(session)  # sampled 2025-07-14: moisture 11.5 within the demo 13%
    assert before.test_state == "passed"
    after = grower.dried(session)
    grower.event(session, after, "testing", "2025-07-18T10:00:00+08:00", {**PASSING_TEST, "sampled_at": "2025-07-17"})
    assert quality.test_verdict(session, after).failures == ["含水率 11.5% > 11%"]
    county = UserFactory(username="county-reg", role="regulator", county_code="640521")
    for user in (grower.user, county):
        with pytest.raises(Forbidden):
            limits.record_limits(session, user, product, limits.LimitsInput(effective_from="2026-01-01"))
    with pytest.raises(ValidationError):
        limits.record_limits(session, regulator, product, limits.LimitsInput(
            effective_from="2026-01-01", residue_limits={"克百威": 0.1}, banned_substances=["克百威"]))


# --- API ------------------------------------------------------------------------------------------

def test_api_says_beside_the_lab_verdict_that_the_computed_verdict_stands(client, session, grower, regulator):
    batch = grower.dried(session)
    headers = bearer(session, grower.user)
    reg = bearer(session, regulator)
    session.commit()
    body = {"stage": "testing", "occurred_at": TESTED, "data": SO2_600}
    answer = client.post(f"/api/v1/batches/{batch.code}/events", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    result = answer.get_json()
    assert result["test"]["state"] == "failed" and result["test"]["lab_verdict"] == "pass"
    assert result["test"]["failures"] == ["二氧化硫 600 mg/kg > 50 mg/kg"] and "计算结论为准" in result["test"]["lab_verdict_note"]
    assert result["test"]["limits_are_demo"] is True
    assert result["test_verdict"]["state"] == "failed" and result["batch"]["test_state"] == "failed"
    # a producer cannot clear; a regulator can, with reason and new report
    assert client.post(f"/api/v1/batches/{batch.code}/clearances", json={"reason": "x", "report_no": "y"},
                       headers=headers).status_code == 403
    missing = client.post(f"/api/v1/batches/{batch.code}/clearances", json={"reason": "复检"}, headers=reg)
    assert missing.status_code == 422
    cleared = client.post(f"/api/v1/batches/{batch.code}/clearances",
                          json={"reason": "监督抽检复检合格", "report_no": "GOV-9"}, headers=reg)
    assert cleared.status_code == 201, cleared.get_data(as_text=True)
    assert cleared.get_json()["test_verdict"]["state"] == "cleared"
    assert cleared.get_json()["event"]["data"]["clears"] == ["NX-SO2"]
    again = client.post(f"/api/v1/batches/{batch.code}/clearances",
                        json={"reason": "再次", "report_no": "GOV-10"}, headers=reg)
    assert again.status_code == 409
    detail = client.get(f"/api/v1/batches/{batch.code}", headers=headers).get_json()
    assert detail["test_verdict"]["cleared_by"] == "regulator" and detail["test_verdict"]["earlier_report_no"] == "NX-SO2"


def test_api_blend_retest_is_recorded_as_not_clearing_naming_the_source(client, session, grower):
    good = grower.tested(session)
    bad = grower.tested(session, test=SO2_600)
    blend = services.merge(session, grower.user, [(good, 10), (bad, 10)],
                           occurred_at="2025-07-21T08:00:00+08:00").children[0]
    headers = bearer(session, grower.user)
    session.commit()
    body = {"stage": "testing", "occurred_at": "2025-07-22T10:00:00+08:00",
            "data": {**PASSING_TEST, "report_no": "BLEND-1", "sampled_at": "2025-07-21"}}
    result = client.post(f"/api/v1/batches/{blend.code}/events", json=body, headers=headers).get_json()
    assert result["test"]["state"] == "passed" and result["test_verdict"]["state"] == "failed"
    assert bad.code in result["not_clearing"] and result["test_verdict"]["failures"][0].startswith(f"来源批次 {bad.code}")
    units = client.post(f"/api/v1/batches/{blend.code}/units", json={"count": 1, "package_kg": 0.25}, headers=headers)
    assert units.status_code == 422 and bad.code in units.get_json()["error"]["message"]


def test_api_product_limits_are_read_by_anyone_and_recorded_by_city_regulators(client, session, grower, regulator):
    headers = bearer(session, grower.user)
    reg = bearer(session, regulator)
    session.commit()
    found = client.get("/api/v1/products/zhongning-goji/limits", headers=headers).get_json()
    assert found["in_force"]["is_demo"] and found["in_force"]["moisture_max_pct"] == 13
    body = {"effective_from": "2026-01-01", "moisture_max_pct": 12.5, "so2_max_mg_per_kg": 50,
            "residue_limits": {"吡虫啉": 1}, "banned_substances": ["克百威"], "source": "GB/T 18672-2014"}
    assert client.post("/api/v1/products/zhongning-goji/limits", json=body, headers=headers).status_code == 403
    made = client.post("/api/v1/products/zhongning-goji/limits", json=body, headers=reg)
    assert made.status_code == 201 and made.get_json()["recorded_by"] == regulator.id
    old = client.get("/api/v1/products/zhongning-goji/limits?on=2025-12-31", headers=headers).get_json()
    new = client.get("/api/v1/products/zhongning-goji/limits?on=2026-01-01", headers=headers).get_json()
    assert old["in_force"]["moisture_max_pct"] == 13 and new["in_force"]["moisture_max_pct"] == 12.5
    assert len(new["versions"]) == 2
    bad = client.post("/api/v1/products/zhongning-goji/limits", json={**body, "effective_from": "soon"}, headers=reg)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "effective_from"


# --- portal ---------------------------------------------------------------------------------------

def _post(client, path, data):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def test_portal_test_form_takes_residues_and_says_the_lab_disagrees(client, session, grower):
    batch = grower.dried(session)
    session.commit()
    login(client, grower.user.username)
    form = {"occurred_at": "2025-07-15T10:00", "f_lab": "宁夏农产品质量检测中心", "f_report_no": "NX-P1",
            "f_sampled_at": "2025-07-14", "f_sampled_by": "王检", "f_method": "GB/T 18672-2014",
            "f_moisture_pct": "11.0", "f_so2_mg_per_kg": "600", "f_grains_per_50g": "300", "f_lab_verdict": "pass",
            "f_residues-0-substance": "吡虫啉", "f_residues-0-mg_per_kg": "0.05"}
    page = client.get(f"/batches/{batch.code}/record/testing").get_data(as_text=True)
    assert "f_residues-0-substance" in page and "so2_pass" not in page
    missing = _post(client, f"/batches/{batch.code}/record/testing", {**form, "f_residues-0-mg_per_kg": ""})
    assert missing.status_code == 200 and "f_residues" in missing.get_data(as_text=True)
    # the form says beside the lab's conclusion that the computed verdict differs, before anything is recorded
    first = _post(client, f"/batches/{batch.code}/record/testing", form)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and 'name="lab_note_seen" type="hidden" value="1"' in html
    beside = re.search(r'id="f_lab_verdict".*?class="field-error"[^>]*>([^<]+)<', html, re.S)
    assert beside and "以计算结论为准" in beside.group(1) and "600" in beside.group(1)
    assert not session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "testing")).all()
    answer = _post(client, f"/batches/{batch.code}/record/testing", {**form, "lab_note_seen": "1"})
    assert answer.status_code == 302
    page = client.get(f"/batches/{batch.code}").get_data(as_text=True)
    assert "以计算结论为准" in page  # flashed, and beside the lab's conclusion in the timeline
    assert "二氧化硫 600 mg/kg &gt; 50 mg/kg" in page and "吡虫啉 0.05 mg/kg" in page
    assert "解除不合格" not in page  # the producer has no clearance button


def test_portal_lists_an_ungraded_batch_in_words(client, session, grower):
    batch = grower.tested(session, test={**PASSING_TEST, "grains_per_50g": 950})
    session.commit()
    login(client, grower.user.username)
    listing = client.get("/batches").get_data(as_text=True)
    assert batch.code[:4] in listing and "低于最低等级" in listing and ">ungraded<" not in listing
    page = client.get(f"/batches/{batch.code}").get_data(as_text=True)
    assert "每50克 950 粒 &gt; 900 粒：低于最低等级" in page


def test_portal_regulator_clears_a_failure_and_records_limits(client, session, grower, regulator):
    batch = grower.tested(session, test=SO2_600)
    session.commit()
    login(client, regulator.username)
    page = client.get(f"/batches/{batch.code}").get_data(as_text=True)
    assert "解除不合格（监管部门决定）" in page
    empty = _post(client, f"/batches/{batch.code}/clearance", {"reason": "", "report_no": ""})
    assert empty.status_code == 200
    done = _post(client, f"/batches/{batch.code}/clearance", {"reason": "监督抽检复检合格", "report_no": "GOV-P"})
    assert done.status_code == 302
    session.refresh(batch)
    assert quality.test_verdict(session, batch).state == "cleared"
    limits_page = client.get("/products/zhongning-goji/limits").get_data(as_text=True)
    assert "演示数值" in limits_page and "克百威" in limits_page
    bad = _post(client, "/products/zhongning-goji/limits", {"effective_from": "2026-01-01",
                                                            "grade_scale": "特优 二百八"})
    assert bad.status_code == 422 and "特优 二百八" in bad.get_data(as_text=True)
    made = _post(client, "/products/zhongning-goji/limits", {
        "effective_from": "2026-01-01", "moisture_max_pct": "12.5", "so2_max_mg_per_kg": "50",
        "grade_scale": "特优 280\n特级 370\n甲级 580\n乙级 900", "residue_limits": "吡虫啉 1\n啶虫脒 2",
        "default_residue_mg_per_kg": "0.01", "banned_substances": "克百威、甲胺磷", "source": "GB/T 18672-2014"})
    assert made.status_code == 302
    version = session.exec(select(ProductLimits).where(ProductLimits.recorded_by == regulator.id)).one()
    assert version.residue_limits == {"吡虫啉": 1.0, "啶虫脒": 2.0} and version.banned_substances == ["克百威", "甲胺磷"]
    assert not version.is_demo and re.search(r"12\.5%", client.get("/products/zhongning-goji/limits").get_data(as_text=True))


def test_portal_limits_form_is_refused_to_county_regulators(client, session):
    county = UserFactory(username="county-reg", role="regulator", county_code="640521")
    session.commit()
    login(client, county.username)
    assert client.get("/products/zhongning-goji/limits").status_code == 200
    assert "记录新版本" not in client.get("/products/zhongning-goji/limits").get_data(as_text=True)
    token = csrf_token(client, "/products/zhongning-goji/limits")
    answer = client.post("/products/zhongning-goji/limits", data={"csrf_token": token, "effective_from": "2026-01-01"})
    assert answer.status_code == 403


def test_an_older_test_with_typed_ticks_only_reads_untested_and_gets_no_label(session, grower):
    from datetime import datetime, timezone

    from gi_trace.tracing.services.ledger import _append

    batch = grower.dried(session)
    # as recorded before measured values were required (the form offered pass ticks)
    ticks = {"lab": "L", "report_no": "OLD-1", "moisture_pct": 11.0, "grains_per_50g": 300, "so2_pass": True,
             "pesticide_pass": True, "lab_verdict": "pass"}
    _append(session, batch, Event(batch_id=batch.id, seq=0, stage="testing", data=ticks, hash="",
                                  occurred_at=datetime(2025, 7, 15, 2, tzinfo=timezone.utc)))
    verdict = quality.test_verdict(session, batch)
    assert (batch.test_state, verdict.state, verdict.legacy) == ("untested", "untested", True)
    permission = services.label_allowed(session, batch)
    assert not permission.allowed and "无实测值" in permission.reason
    failed = grower.dried(session)
    _append(session, failed, Event(batch_id=failed.id, seq=0, stage="testing", data={**ticks, "so2_pass": False},
                                   hash="", occurred_at=datetime(2025, 7, 15, 2, tzinfo=timezone.utc)))
    assert quality.test_verdict(session, failed).failures == ["二氧化硫记录为不合格（旧记录，无限量比对）"]


def test_report_pass_rates_count_computed_verdicts_not_ticks(session, grower):
    from datetime import datetime, timezone

    from gi_trace.oversight.report_figures import sampling_tests
    from gi_trace.tracing.services.ledger import _append

    grower.tested(session)
    grower.tested(session, test=SO2_600)  # the lab said pass
    grower.tested(session, test={**PASSING_TEST, "residues": [{"substance": "吡虫啉", "mg_per_kg": 1.5}]})
    old = grower.dried(session)
    _append(session, old, Event(batch_id=old.id, seq=0, stage="testing", hash="",
                                occurred_at=datetime(2025, 7, 15, 2, tzinfo=timezone.utc),
                                data={"lab": "L", "report_no": "OLD", "moisture_pct": 11.0, "so2_pass": True,
                                      "pesticide_pass": True}))
    figures = sampling_tests(session, goji(session), 2025)
    assert (figures["tests"], figures["passed"]) == (4, 1)
    assert figures["items"]["so2"] == {"tested": 4, "passed": 3, "pass_rate": figures["items"]["so2"]["pass_rate"]}
    assert (figures["items"]["pesticide"]["tested"], figures["items"]["pesticide"]["passed"]) == (4, 3)

"""The scan page's one verdict (issue 12): four states through /t/<code>, and nothing green below a red or
amber headline (here by what the page prints; tests/e2e/test_scan_verdict.py checks the computed colours)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from gi_trace import jobs
from gi_trace.scan import read_path, verdict
from gi_trace.tracing import services as tracing
from gi_trace.tracing import transfers
from tests.factories import authorised_producer, producer_user
from tests.factories_scan import decide, lot_from_tested_harvest, unit_code
from tests.factories_tracing import Grower
from tests.factories_verdict import cleared, failed, recalled, sellable

ARRIVE = "2025-08-11T09:00:00+08:00"
SHIP = "2025-08-10T10:00:00+08:00"
LATER = "2025-08-20T09:00:00+08:00"


def _page(client, code, lang="zh", address="198.51.100.7"):
    response = client.get(f"/t/{code}", query_string={"lang": lang}, environ_base={"REMOTE_ADDR": address})
    return response, response.get_data(as_text=True)


def _verdict(html: str) -> str:
    found = re.findall(r'<section class="verdict (\w+)" data-verdict="(\w+)">', html)
    assert len(found) == 1 and html.count("<h1>") == 1, found
    return found[0]


def _nothing_reassures(html: str) -> None:
    """Below a headline that is not green: no green status, no GI mark, neutral badge and record check."""
    assert "s-authorised" not in html and 'class="gi-mark"' not in html and "✔" not in html
    assert 'class="tag gi"' not in html and 'class="card ok"' not in html
    assert 'class="verdict ok"' not in html


def test_sellable_lot_batch_and_unit_are_green(client, session):
    harvest, lot, unit = sellable(session)
    session.commit()
    for code in (harvest.code, lot.code, unit.code):
        response, html = _page(client, code)
        assert response.status_code == 200
        assert _verdict(html) == ("ok", "sellable")
        assert "<h1>✔ 正品：地理标志产品，全程可追溯</h1>" in html
        assert 'class="gi-mark"' in html and "s-authorised" in html and 'class="card ok"' in html
        assert 'role="alert"' not in html


@pytest.mark.parametrize("lang, headline, reason, item, report", [
    ("zh", "✘ 不得作为地理标志产品销售", "质量检测不合格：", "含水率 14.6% &gt; 13%", "检测报告 NX-2025-0716"),
    ("en", "✘ Not to be sold as a GI product", "The quality test failed: ", "moisture 14.6% &gt; 13%",
     "Test report NX-2025-0716"),
])
def test_failed_batch_lot_and_unit_show_one_red_verdict_and_nothing_green(client, session, lang, headline, reason,
                                                                          item, report):
    harvest, lot, unit = failed(session)
    session.commit()
    for code in (harvest.code, lot.code, unit.code):
        response, html = _page(client, code, lang)
        assert response.status_code == 200
        assert _verdict(html) == ("bad", "not_gi"), code
        assert f"<h1>{headline}</h1>" in html
        assert f'<p class="alert" role="alert">{reason}' in html and item in html and report in html, code
        # The reason stands under the headline, before anything else on the page.
        assert html.index("<h1>") < html.index(reason) < html.index('class="code"')
        _nothing_reassures(html)
        assert 's-neutral' in html and 'class="card neutral"' in html


def test_stored_and_live_pages_of_a_failed_batch_print_the_same(client, session):
    harvest, lot, unit = failed(session)
    session.commit()
    jobs.drain()
    for lang in ("zh", "en"):
        stored = {c: _page(client, c, lang)[1] for c in (harvest.code, lot.code, unit.code)}
        session.execute(text("DELETE FROM storedpage"))
        session.commit()
        for code, html in stored.items():
            live = _page(client, code, lang)[1]
            strip = lambda h: re.sub(r'<p class="scans">.*?</p>', "", h)  # noqa: E731 - the count moves on
            assert strip(live) == strip(html), code
            assert _verdict(live) == ("bad", "not_gi")
        jobs.drain()


def test_untested_batch_is_not_sold_as_gi(client, session):
    batch = Grower.make(session).dried(session)
    session.commit()
    _response, html = _page(client, batch.code)
    assert _verdict(html) == ("bad", "not_gi") and "尚未通过质量检测" in html
    _nothing_reassures(html)


def test_producer_not_authorised_when_the_batch_was_made(client, session):
    grower, _harvest, lot = lot_from_tested_harvest(session)
    decide(grower.producer.id, "suspend", read_path.local_date(lot.first_event_at) - timedelta(days=3))
    session.commit()
    _response, html = _page(client, lot.code)
    assert _verdict(html) == ("bad", "not_gi")
    assert "警告：此批次生产时" in html
    _nothing_reassures(html)


def test_origin_not_verified_is_red_with_the_source_named(client, session):
    grower = Grower.make(session)
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    dealer_user = producer_user(dealer)
    bought = transfers.purchase(session, dealer_user, transfers.PurchaseInput(
        quantity_kg=30, seller_name="王五", town_code="640521206", purchased_at=ARRIVE)).batch
    shipment = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=50, shipped_at=SHIP)
    received = transfers.receive(session, dealer_user, shipment, received_at=ARRIVE)
    blend = tracing.merge(session, dealer_user, [(received, None), (bought, None)], occurred_at=LATER).children[0]
    session.commit()
    _response, html = _page(client, blend.code)
    assert _verdict(html) == ("bad", "not_gi") and "不能使用地理标志专用标志" in html
    assert bought.code in html.replace(" ", "")
    _nothing_reassures(html)


def test_recalled_batch_its_descendant_and_package_answer_with_the_recall_notice(client, session):
    harvest, lot, unit = recalled(session)
    session.commit()
    for code in (harvest.code, lot.code, unit.code):
        response, html = _page(client, code)
        assert response.status_code == 410
        assert html.count("<h1>") == 1 and "已召回" in html and "霉变" in html
        _nothing_reassures(html)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SCAN_UNIT_FLAG_NETWORKS": 3}


def test_code_seen_on_three_networks_is_amber_and_says_what_was_seen(client, session):
    _harvest, _lot, unit = sellable(session)
    session.commit()
    for address in ("198.51.100.7", "203.0.113.5"):
        assert _verdict(_page(client, unit.code, address=address)[1]) == ("ok", "sellable")
    _response, html = _page(client, unit.code, address="192.0.2.1")
    assert _verdict(html) == ("warn", "suspicious") and "<h1>⚠ 请先核实此包装</h1>" in html
    assert "此码已在 3 个不同网络被扫描，首次扫描于" in html
    _nothing_reassures(html)


def test_a_failed_batch_whose_code_was_copied_stays_red(client, session):
    _harvest, _lot, unit = failed(session)
    session.commit()
    for address in ("198.51.100.7", "203.0.113.5", "192.0.2.1"):
        _response, html = _page(client, unit.code, address=address)
    assert _verdict(html) == ("bad", "not_gi") and 'class="caution"' in html


def test_a_record_that_does_not_verify_is_amber(client, session):
    _grower, harvest, lot = lot_from_tested_harvest(session)
    session.commit()
    session.execute(text("UPDATE event SET quantity_kg = 5000 WHERE batch_id = :b AND stage = 'harvest'"),
                    {"b": harvest.id})
    session.execute(text("DELETE FROM storedpage"))
    session.commit()
    _response, html = _page(client, lot.code)
    assert _verdict(html) == ("warn", "suspicious") and "记录校验未通过" in html
    _nothing_reassures(html)


def test_an_unregistered_code_is_amber(client, session):
    from gi_trace.tracing import codes

    response, html = _page(client, codes.new_code())
    assert response.status_code == 404
    assert _verdict(html) == ("warn", "suspicious")


@pytest.mark.parametrize("lang, first, reports", [
    ("zh", "复检合格（首次检测不合格：含水率 14.6% > 13%）", "复检报告 NX-2；首次检测报告 NX-1"),
    ("en", "Passed on re-test (first test failed: 含水率 14.6% > 13%)", "Re-test report NX-2; first test report NX-1"),
])
def test_a_cleared_failure_reads_with_both_reports(app, lang, first, reports):
    """The words of a cleared failure (the state itself comes from tracing.quality once it is connected)."""
    from flask_babel import force_locale

    from gi_trace.scan import page_text
    from gi_trace.scan.verdict import TestEvidence

    cleared = TestEvidence("cleared", (), "NX-2", ("含水率 14.6% > 13%",), "NX-1", "retest")
    with app.test_request_context(), force_locale(lang):
        t = page_text.texts(lang)
        assert page_text.test_lines(t, cleared) == [first, reports]


def test_the_public_trace_json_carries_the_pages_verdict(client, session):
    good, bad, gone, copied = sellable(session), failed(session), recalled(session), sellable(session)
    session.commit()
    for address in ("198.51.100.7", "203.0.113.5", "192.0.2.1"):
        _page(client, copied[2].code, address=address)
    expected = [(good[1].code, 200, "sellable", [], "✔ 正品：地理标志产品，全程可追溯"),
                (good[2].code, 200, "sellable", [], "✔ 正品：地理标志产品，全程可追溯"),
                (bad[0].code, 200, "not_gi", ["test_failed"], "✘ 不得作为地理标志产品销售"),
                (bad[2].code, 200, "not_gi", ["test_failed"], "✘ 不得作为地理标志产品销售"),
                (gone[0].code, 410, "recalled", ["recalled"], "⚠ 已召回"),
                (gone[1].code, 410, "recalled", ["recalled"], "⚠ 已召回"),  # made from the withdrawn harvest
                (gone[2].code, 410, "recalled", ["recalled"], "⚠ 已召回"),
                (copied[2].code, 200, "suspicious", ["code_flagged"], "⚠ 请先核实此包装")]
    for code, status, state, reasons, headline in expected:
        response = client.get(f"/api/v1/trace/{code}")
        assert response.status_code == status, code
        assert response.get_json()["verdict"] == {"state": state, "reasons": reasons, "headline": headline}, code
        if status == 200:  # the page says the same
            assert _verdict(_page(client, code)[1])[1] == state


def test_the_public_trace_json_headline_is_in_the_language_asked_for(client, session):
    # (One language per test: the test client's requests share the fixture's app context, locale included.)
    _harvest, lot, _unit = failed(session)
    session.commit()
    english = client.get(f"/api/v1/trace/{lot.code}", query_string={"lang": "en"}).get_json()["verdict"]
    assert english == {"state": "not_gi", "reasons": ["test_failed"], "headline": "✘ Not to be sold as a GI product"}


def test_a_failure_cleared_by_a_regulator_says_so_without_codes(app):
    from flask_babel import force_locale

    from gi_trace.scan import page_text
    from gi_trace.scan.verdict import TestEvidence

    cleared = TestEvidence("cleared", (), "NX-3", ("二氧化硫 120 mg/kg > 50 mg/kg",), "NX-1", "regulator")
    with app.test_request_context(), force_locale("zh"):
        lines = page_text.test_lines(page_text.texts("zh"), cleared)
    assert lines == ["复检合格（首次检测不合格：二氧化硫 120 mg/kg > 50 mg/kg）", "复检报告 NX-3；首次检测报告 NX-1",
                     "该不合格项已由监管部门作出记录在案的决定予以解除。"]


@pytest.mark.parametrize("lang, first, source, reports", [
    ("zh", "复检合格（首次检测不合格：含水率 14.6% > 13%）", "复检合格（首次检测不合格：来源批次 {code}：含水率 14.6% > 13%）",
     "复检报告 NX-2025-0720；首次检测报告 NX-2025-0716"),
    ("en", "Passed on re-test (first test failed: moisture 14.6% > 13%)",
     "Passed on re-test (first test failed: source batch {code}: moisture 14.6% > 13%)",
     "Re-test report NX-2025-0720; first test report NX-2025-0716"),
])
def test_a_cleared_re_test_is_green_and_says_what_happened(client, session, lang, first, source, reports):
    from markupsafe import escape

    harvest, lot, unit = cleared(session)
    session.commit()
    jobs.drain()
    for code, line in ((harvest.code, first), (lot.code, source.format(code=harvest.code)),
                       (unit.code, source.format(code=harvest.code))):
        response, html = _page(client, code, lang)
        assert response.status_code == 200
        assert _verdict(html) == ("ok", "sellable"), code
        assert f'<p class="test-line">{escape(line)}</p><p class="test-line">{reports}</p>' in html, code
        # Said under the headline, before the code and the statuses.
        assert html.index("<h1>") < html.index(str(escape(line))) < html.index('class="code"')
    # The page reads the verdict from its batch row; the same batch through the ORM says the same.
    from gi_trace.tracing import quality

    for batch in (harvest, lot):
        orm = verdict.TestEvidence.of(quality.test_verdict(session, batch))
        assert orm.state == "cleared" and orm.earlier_report_no == "NX-2025-0716"
    json = client.get(f"/api/v1/trace/{unit.code}").get_json()["verdict"]
    assert json["state"] == "sellable" and json["reasons"] == []


def test_an_ungraded_batch_is_not_sold_as_gi_and_says_by_how_much(client, session):
    from tests.factories_tracing import PASSING_TEST

    batch = Grower.make(session).tested(session, test={**PASSING_TEST, "grains_per_50g": 950})  # 乙级 ends at 900
    session.commit()
    _response, html = _page(client, batch.code)
    assert _verdict(html) == ("bad", "not_gi")
    assert "质量检测结果低于最低等级（等外品），不得使用地理标志。" in html and "950" in html and "900" in html
    _nothing_reassures(html)

"""Unit codes (一物一码), the label gate, product lines: the services against a real database."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.errors import Conflict, NotFound, Refused, ValidationError
from gi_trace.tracing import codes, gs1, labels, services, units
from gi_trace.tracing.models import PlausibilityFlag, UnitCode
from tests import factories
from tests.tracing_labels_support import TESTED, failed_batch, passed_batch, record, lab_report

BASE = "https://trace.example.cn"


def test_units_are_issued_in_bulk_with_valid_unique_codes_and_serials(session):
    _p, user, batch = passed_batch(session)  # 250 kg dried
    issued = units.issue_units(session, user, batch, 500, 0.5)
    assert [u.serial for u in issued] == list(range(1, 501))
    assert all(codes.is_valid(u.code) for u in issued)
    assert len({u.code for u in issued} | {batch.code}) == 501
    stored = session.exec(select(UnitCode).where(UnitCode.batch_id == batch.id).order_by(UnitCode.serial)).all()
    assert [(u.serial, u.code) for u in stored] == [(u.serial, u.code) for u in issued]
    assert batch.units_issued == 500


def test_units_are_bounded_by_what_the_batch_holds_per_package(session):
    _p, user, batch = passed_batch(session)  # 250 kg
    with pytest.raises(Refused) as refused:
        units.issue_units(session, user, batch, 501, 0.5)
    assert refused.value.code == "units_over_quantity" and refused.value.field == "count"
    assert "500" in refused.value.message
    assert session.exec(select(UnitCode)).all() == []
    assert len(units.issue_units(session, user, batch, 500, 0.5)) == 500


def test_labels_beyond_the_quantity_across_requests_are_refused(session):
    _p, user, batch = passed_batch(session)  # 250 kg
    units.issue_units(session, user, batch, 400, 0.5)  # 200 kg labelled: fine
    with pytest.raises(Refused) as refused:
        units.issue_units(session, user, batch, 200, 0.5)  # 300 kg labelled > 250 kg held
    assert refused.value.code == "units_over_quantity" and "200" in refused.value.message
    assert batch.units_issued == 400
    assert len(units.issue_units(session, user, batch, 100, 0.5)) == 100  # exactly 250 kg


def test_failed_test_blocks_unit_codes_and_label_sheets(session):
    _p, user, batch = failed_batch(session)
    with pytest.raises(Refused) as refused:
        units.issue_units(session, user, batch, 10, 0.5)
    assert refused.value.code == "label_test_failed"
    with pytest.raises(Refused):
        labels.build_sheet(session, user, batch, BASE, kind="batch", count=10)
    assert session.exec(select(UnitCode)).all() == []


def test_a_later_passing_test_lifts_the_gate(session):
    _p, user, batch = failed_batch(session)
    record(session, user, batch, "testing", "2026-07-08T10:00:00+08:00", lab_report(report="QS-2026-002"))
    assert len(units.issue_units(session, user, batch, 10, 0.5)) == 10


def test_untested_batch_gets_no_unit_codes(session):
    from tests.tracing_labels_support import dried_batch

    _p, user, batch = dried_batch(session)
    with pytest.raises(Refused) as refused:
        units.issue_units(session, user, batch, 1, 0.5)
    assert refused.value.code == "label_untested"


def test_suspended_producer_gets_no_unit_codes(session):
    producer, user, batch = passed_batch(session)
    from datetime import date

    factories.DecisionFactory(producer_id=producer.id, action="suspend", effective_date=date(2026, 8, 1),
                              reason="抽检不合格")
    with pytest.raises(Refused) as refused:
        units.issue_units(session, user, batch, 1, 0.5)
    assert refused.value.code == "label_not_authorised"


def test_another_producers_batch_is_not_found(session):
    _p, _user, batch = passed_batch(session)
    other = factories.producer_user(factories.authorised_producer())
    with pytest.raises(NotFound):
        units.issue_units(session, other, batch, 1, 0.5)
    with pytest.raises(NotFound):
        labels.build_sheet(session, other, batch, BASE)


@pytest.mark.parametrize("count,package,field", [(0, 0.5, "count"), (1.5, 0.5, "count"), ("3", 0.5, "count"),
                                                 (True, 0.5, "count"), (10, 0, "package_kg"), (10, -1, "package_kg"),
                                                 (10, None, "package_kg"), (10, "x", "package_kg"),
                                                 (units.MAX_UNITS_PER_ISSUE + 1, 0.001, "count")])
def test_bad_counts_and_package_sizes_are_invalid(session, count, package, field):
    _p, user, batch = passed_batch(session)
    with pytest.raises(ValidationError) as invalid:
        units.issue_units(session, user, batch, count, package)
    assert invalid.value.field == field


def test_package_size_defaults_to_the_product_lines(session):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134352", "礼盒",
                                                                         package_kg=0.25))
    _p, user, batch = passed_batch(session, producer, user, product_line_id=line.id, lot="L1")
    assert len(units.issue_units(session, user, batch, 1000)) == 1000  # 250 kg / 0.25 kg


def test_colliding_codes_are_drawn_again(session):
    _p, user, batch = passed_batch(session)
    first = units.issue_units(session, user, batch, 1, 0.5)[0].code
    fresh = iter([batch.code, first, first] + [codes.new_code() for _ in range(5)])
    issued = units.issue_units(session, user, batch, 3, 0.5, generate=lambda: next(fresh))
    got = [u.code for u in issued]
    assert batch.code not in got and first not in got and len(set(got)) == 3


def test_find_code_names_the_batch_of_a_unit_and_rejects_bad_check_characters(session):
    _p, user, batch = passed_batch(session)
    unit = units.issue_units(session, user, batch, 1, 0.5)[0]
    assert units.find_code(session, unit.code)[0].id == batch.id
    assert units.find_code(session, codes.display(batch.code).lower())[1] is None
    wrong = unit.code[:-1] + ("2" if unit.code[-1] != "2" else "3")
    with pytest.raises(NotFound):
        units.find_code(session, wrong)


def test_sheet_of_unit_labels_carries_marks_and_credit_code(session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer)
    mark = factories.TrademarkFactory(producer_id=producer.id, name="红宝")
    _p, user, batch = passed_batch(session, producer, user, trademark_id=mark.id)
    units.issue_units(session, user, batch, 40, 0.5)
    sheet = labels.build_sheet(session, user, batch, BASE, kind="units", start=3, count=10)
    assert [label.serial for label in sheet.labels] == list(range(3, 13))
    assert sheet.trademark == "红宝" and sheet.producer_code == producer.uscc
    assert sheet.gi_mark.startswith("中宁枸杞")
    assert all(label.url == f"{BASE}/t/{label.code}" for label in sheet.labels)


def test_product_line_needs_a_valid_unique_gtin(session):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "4006381")
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    with pytest.raises(ValidationError) as invalid:
        gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134353", "礼盒"))
    assert invalid.value.field == "gtin" and "2" in invalid.value.message
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "4006381333931", "礼盒"))
    assert line.gtin14 == "04006381333931"
    with pytest.raises(Conflict):
        gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "04006381333931", "x"))


def test_product_line_only_for_the_producers_own_products_and_trademarks(session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer)
    with pytest.raises(ValidationError):
        gs1.register_product_line(session, user, gs1.ProductLineInput("no-such-product", "4006381333931", "x"))
    foreign = factories.TrademarkFactory(producer_id=factories.ProducerFactory().id)
    with pytest.raises(ValidationError) as invalid:
        gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "4006381333931", "x",
                                                                      trademark_id=foreign.id))
    assert invalid.value.field == "trademark_id"


def test_digital_link_resolves_lots_and_packages_and_knows_when_withdrawn(session):
    from gi_trace.tracing import resolver

    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134352", "礼盒"))
    _p, user, batch = passed_batch(session, producer, user, product_line_id=line.id, lot="ZN-2026-07")
    unit = units.issue_units(session, user, batch, 3, 0.5)[2]

    def code(path):
        return resolver.resolve(session, resolver.parse(path)).code

    assert code("09506000134352/10/ZN-2026-07") == batch.code
    assert code("9506000134352/10/ZN-2026-07") == batch.code  # GTIN-13 form
    assert code(f"09506000134352/10/ZN-2026-07/21/{unit.code}") == unit.code
    assert code(f"09506000134352/21/{unit.code}") == unit.code
    assert code("09506000134352") is None  # the line itself
    for path in ("09506000134352/10/nope", "04006381333931/10/ZN-2026-07", "09506000134352/10/ZN-2026-07/21/3",
                 "09506000134352/10/ZN-2026-07/21/x"):
        with pytest.raises(NotFound):
            code(path)
    for path in ("09506000134353/10/ZN-2026-07", "09506000134352/10", "09506000134352/22/X"):
        with pytest.raises(resolver.SyntaxProblem):
            resolver.parse(path)
    assert not resolver.resolve(session, resolver.parse("09506000134352/10/ZN-2026-07")).withdrawn
    services.withdraw(session, user, batch, "召回：包装破损")
    assert resolver.resolve(session, resolver.parse("09506000134352/10/ZN-2026-07")).withdrawn


def test_lot_numbers_are_restricted_to_ai_10_when_entered(session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer)
    for lot in ("ZN/07", "ZN 07", "批次", "A" * 21, "L%1", "L&1", "L<1", "L?1", 'L"1'):
        with pytest.raises(ValidationError) as refused:
            passed_batch(session, producer, user, lot=lot)
        assert refused.value.field == "producer_lot" and "GS1 AI 10" in refused.value.message, lot
    _p, _u, batch = passed_batch(session, producer, user, lot="ZN-2026.07_A(1)")
    assert batch.producer_lot == "ZN-2026.07_A(1)"


def test_scan_counts_are_zero_without_scans(session):
    _p, user, batch = passed_batch(session)
    units.issue_units(session, user, batch, 2, 0.5)
    counts = units.scan_counts(session, [batch])
    assert counts[batch.id] == units.Scans(0, 0)


def test_max_units_is_floor_of_held_over_package():
    assert units.max_units(250.0, 0.5) == 500
    assert units.max_units(250.0, 0.3) == 833
    assert units.max_units(0.0, 0.5) == 0
    assert units.max_units(1.0, 0) == 0

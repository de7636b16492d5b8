"""Register imports against a real database: every kind, all-or-nothing, idempotent, domain rules."""
from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func
from sqlmodel import select

from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.errors import Forbidden
from gi_trace.registry.imports import ImportFileError, import_file
from gi_trace.registry.models import OutputRecord, Producer, ProducerProduct, SectorTotal
from tests import factories

PRODUCER_HEADER = ["uscc", "registry_no", "name", "kind", "county_code", "town_code", "products"]
GOJI = "zhongning-goji"
WORKED_EXAMPLE = "912301847345944427"  # check character 7 is right (domain notes)
BAD_CHECK = "912301847345944428"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en"}  # assert on English messages


def csv_bytes(header, rows, *, bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def xlsx_bytes(header, rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def problems(result):
    return {(p.row, p.column) for p in result.errors}


# --- producers ----------------------------------------------------------------------------

def producer_rows():
    return [
        [WORKED_EXAMPLE, "", "中宁红宝枸杞有限公司", "enterprise", "640521", "640521100", GOJI],
        [factories.valid_uscc(1), "", "鸣沙枸杞合作社", "cooperative", "640521", "640521101", GOJI],
        ["", "ZN-HH-0001", "张三", "household", "640521", "640521200", GOJI],
    ]


@pytest.mark.parametrize("fmt", ["csv", "csv-bom", "xlsx"])
def test_producers_import_in_every_format(session, fmt):
    data = {"csv": lambda: csv_bytes(PRODUCER_HEADER, producer_rows()),
            "csv-bom": lambda: csv_bytes(PRODUCER_HEADER, producer_rows(), bom=True),
            "xlsx": lambda: xlsx_bytes(PRODUCER_HEADER, producer_rows())}[fmt]()
    name = "producers.xlsx" if fmt == "xlsx" else "producers.csv"
    result = import_file(session, "producers", data, filename=name)
    assert result.errors == [] and result.written
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (3, 3, 0, 0)
    household = session.exec(select(Producer).where(Producer.registry_no == "ZN-HH-0001")).one()
    assert household.uscc is None and household.kind == "household" and household.town_code == "640521200"
    firm = session.exec(select(Producer).where(Producer.uscc == WORKED_EXAMPLE)).one()
    assert firm.name == "中宁红宝枸杞有限公司" and firm.uscc_check_ok and firm.created_at.tzinfo is not None
    assert count(session, ProducerProduct) == 3


def test_xlsx_numbers_and_dates_are_read_as_the_user_typed_them(session):
    # Excel stores codes typed as numbers as numbers; the import must still see "640521".
    rows = [[WORKED_EXAMPLE, "", "红宝", "enterprise", 640521, 640521100, GOJI]]
    result = import_file(session, "producers", xlsx_bytes(PRODUCER_HEADER, rows), filename="p.xlsx")
    assert result.errors == [] and result.inserted == 1
    header = ["producer", "product", "action", "effective_date", "reference_no", "reason", "valid_until", "sources"]
    rows = [[WORKED_EXAMPLE, GOJI, "approve", date(2024, 3, 1), "REF-1", None, date(2026, 12, 31), "宁安镇农户"]]
    result = import_file(session, "authorisations", xlsx_bytes(header, rows), filename="a.xlsx")
    assert result.errors == [] and result.inserted == 1
    decision = session.exec(select(AuthorisationDecision)).one()
    assert decision.effective_date == date(2024, 3, 1) and decision.valid_until == date(2026, 12, 31)


def test_other_columns_are_ignored_and_column_order_is_free(session):
    header = ["备注", "products", "town_code", "county_code", "kind", "name", "registry_no", "uscc"]
    rows = [["随便", GOJI, "640521100", "640521", "enterprise", "红宝", "", WORKED_EXAMPLE]]
    result = import_file(session, "producers", csv_bytes(header, rows), filename="p.csv")
    assert result.errors == [] and result.inserted == 1


def test_several_bad_rows_are_all_reported_and_nothing_is_written(session):
    rows = producer_rows() + [
        ["12345", "", "短码", "enterprise", "640521", "640521100", GOJI],  # row 5: length
        [factories.valid_uscc(2), "", "", "pirate", "640521", "640522100", "no-such"],  # row 6: 4 problems
    ]
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, rows), filename="p.csv")
    assert not result.written and not result.ok
    assert problems(result) == {(5, "uscc"), (6, "name"), (6, "kind"), (6, "town_code"), (6, "products")}
    assert any("18 characters" in p.message for p in result.errors if p.row == 5)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 0)
    assert count(session, Producer) == 0 and count(session, ProducerProduct) == 0


def test_missing_columns_are_named(session):
    header = ["uscc", "name", "kind", "county_code"]
    data = csv_bytes(header, [[WORKED_EXAMPLE, "x", "enterprise", "640521"]])
    result = import_file(session, "producers", data, filename="p.csv")
    assert problems(result) == {(1, "registry_no"), (1, "town_code"), (1, "products")}
    assert all("town_code" in p.message or p.column != "town_code" for p in result.errors)
    assert count(session, Producer) == 0


def test_reimporting_producers_changes_nothing(session):
    data = csv_bytes(PRODUCER_HEADER, producer_rows())
    import_file(session, "producers", data, filename="p.csv")
    session.commit()
    def state():
        rows = session.exec(select(Producer).order_by(Producer.id)).all()
        return [(p.id, p.uscc, p.registry_no, p.name, p.town_code) for p in rows]

    before = state()
    again = import_file(session, "producers", data, filename="p.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert state() == before and count(session, ProducerProduct) == 3


def test_changed_producer_row_updates_the_register(session):
    import_file(session, "producers", csv_bytes(PRODUCER_HEADER, producer_rows()), filename="p.csv")
    rows = producer_rows()
    rows[0][2] = "中宁红宝枸杞股份有限公司"
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, rows), filename="p.csv")
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 2)
    assert session.exec(select(Producer.name).where(Producer.uscc == WORKED_EXAMPLE)).one() == "中宁红宝枸杞股份有限公司"


def test_duplicate_producer_in_one_file_is_a_row_error(session):
    rows = producer_rows() + [[WORKED_EXAMPLE, "", "again", "enterprise", "640521", "640521100", GOJI]]
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, rows), filename="p.csv")
    assert problems(result) == {(5, "uscc")} and "row 2" in result.errors[0].message


def test_failed_check_character_is_a_warning_that_must_be_accepted(session):
    rows = [[BAD_CHECK, "", "校验码不符的企业", "enterprise", "640521", "640521100", GOJI]]
    data = csv_bytes(PRODUCER_HEADER, rows)
    result = import_file(session, "producers", data, filename="p.csv")
    assert result.errors == [] and [(w.row, w.column) for w in result.warnings] == [(2, "uscc")]
    assert result.needs_confirmation and not result.written and count(session, Producer) == 0
    regulator = factories.UserFactory(role="regulator")
    result = import_file(session, "producers", data, filename="p.csv", user=regulator, accept_warnings=True)
    assert result.written and result.inserted == 1
    producer = session.exec(select(Producer)).one()
    assert not producer.uscc_check_ok and producer.uscc_warning_accepted_by == regulator.id
    assert producer.created_by == regulator.id
    # Once accepted, re-importing the file needs no new acceptance.
    again = import_file(session, "producers", data, filename="p.csv")
    assert again.ok and again.warnings == [] and again.unchanged == 1


@pytest.mark.parametrize("row,column", [
    (["", "", "李四", "household", "640521", "640521200", GOJI], "registry_no"),
    (["", "ZN-1", "某公司", "enterprise", "640521", "640521100", GOJI], "uscc"),
    ([WORKED_EXAMPLE, "", "x", "enterprise", "640521", "640522100", GOJI], "town_code"),
    ([WORKED_EXAMPLE, "", "x", "enterprise", "640521", "640521100", "zhongning-goji;potato"], "products"),
    (["91230184734594442O", "", "x", "enterprise", "640521", "640521100", GOJI], "uscc"),
])
def test_producer_rules_of_the_register_apply_to_imports(session, row, column):
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, [row]), filename="p.csv")
    assert problems(result) == {(2, column)}


def test_household_without_code_is_found_by_registry_number_later(session):
    rows = [["", "ZN-HH-0001", "张三", "household", "640521", "640521200", GOJI]]
    import_file(session, "producers", csv_bytes(PRODUCER_HEADER, rows), filename="p.csv")
    header = ["producer", "product", "year", "output_kg", "output_value_yuan"]
    result = import_file(session, "output", csv_bytes(header, [["ZN-HH-0001", GOJI, 2024, 300, 15000]]),
                         filename="o.csv")
    assert result.errors == [] and result.inserted == 1


def test_county_regulator_imports_only_its_county(session):
    haiyuan = factories.UserFactory(role="regulator", county_code="640522")
    rows = [[factories.valid_uscc(5), "", "海原马铃薯合作社", "cooperative", "640522", "640522100", ""],
            [WORKED_EXAMPLE, "", "中宁企业", "enterprise", "640521", "640521100", GOJI]]
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, rows), filename="p.csv",
                         user=haiyuan)
    assert problems(result) == {(3, "county_code")} and count(session, Producer) == 0
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, rows[:1]), filename="p.csv",
                         user=haiyuan)
    assert result.written and result.inserted == 1


def test_producer_accounts_cannot_import(session):
    producer = factories.ProducerFactory()
    with pytest.raises(Forbidden):
        import_file(session, "producers", csv_bytes(PRODUCER_HEADER, producer_rows()), filename="p.csv",
                    user=factories.producer_user(producer))


# --- output -------------------------------------------------------------------------------

OUTPUT_HEADER = ["producer", "product", "year", "output_kg", "output_value_yuan"]


@pytest.mark.parametrize("fmt", ["csv", "csv-bom", "xlsx"])
def test_output_import_in_every_format(session, fmt):
    a = factories.ProducerFactory()
    b = factories.ProducerFactory(uscc=None, registry_no="ZN-HH-7", kind="household")
    rows = [[a.uscc, GOJI, 2024, 5000, 250000], [a.uscc.lower(), GOJI, 2023, "4,800.5", 240000],
            ["ZN-HH-7", GOJI, 2024, 300, 15000]]
    if fmt == "xlsx":
        data = xlsx_bytes(OUTPUT_HEADER, rows)
    else:
        data = csv_bytes(OUTPUT_HEADER, rows, bom=fmt == "csv-bom")
    result = import_file(session, "output", data, filename=f"o.{fmt[:4].rstrip('-')}")
    assert result.errors == [] and result.inserted == 3
    records = {(r.producer_id, r.year): (r.output_kg, r.output_value_yuan)
               for r in session.exec(select(OutputRecord)).all()}
    assert records == {(a.id, 2024): (5000.0, 250000.0), (a.id, 2023): (4800.5, 240000.0),
                       (b.id, 2024): (300.0, 15000.0)}


def test_output_reimport_is_idempotent_and_new_figures_update(session):
    a = factories.ProducerFactory()
    data = csv_bytes(OUTPUT_HEADER, [[a.uscc, GOJI, 2024, 5000, 250000], [a.uscc, GOJI, 2023, 4000, 200000]])
    import_file(session, "output", data, filename="o.csv")
    again = import_file(session, "output", data, filename="o.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert count(session, OutputRecord) == 2
    changed = csv_bytes(OUTPUT_HEADER, [[a.uscc, GOJI, 2024, 5200, 260000],
                                        [a.uscc, GOJI, 2023, 4000, 200000]])
    result = import_file(session, "output", changed, filename="o.csv")
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    record = session.exec(select(OutputRecord).where(OutputRecord.year == 2024)).one()
    assert (record.output_kg, record.output_value_yuan) == (5200.0, 260000.0)
    assert count(session, OutputRecord) == 2


@pytest.mark.parametrize("row,column", [
    (["NO-SUCH-CODE", GOJI, 2024, 1, 1], "producer"),
    (["{code}", "apple", 2024, 1, 1], "product"),
    (["{code}", GOJI, "2024年", 1, 1], "year"),
    (["{code}", GOJI, 2999, 1, 1], "year"),
    (["{code}", GOJI, 2024, "-5", 1], "output_kg"),
    (["{code}", GOJI, 2024, 1, "nan"], "output_value_yuan"),
    (["{code}", GOJI, 2024, "", 1], "output_kg"),
    (["{code}", GOJI, 2024, "1e10", 1], "output_kg"),
    (["{code}", GOJI, 1999, 1, 1], "year"),
])
def test_bad_output_rows_name_the_column(session, row, column):
    a = factories.ProducerFactory()
    row = [a.uscc if c == "{code}" else c for c in row]
    good = [a.uscc, GOJI, 2023, 10, 10]
    result = import_file(session, "output", csv_bytes(OUTPUT_HEADER, [good, row]), filename="o.csv")
    assert problems(result) == {(3, column)} and count(session, OutputRecord) == 0


def test_output_needs_the_producer_registered_for_the_product(session):
    unregistered = factories.ProducerFactory(products=[])
    result = import_file(session, "output", csv_bytes(OUTPUT_HEADER, [[unregistered.uscc, GOJI, 2024, 1, 1]]),
                         filename="o.csv")
    assert problems(result) == {(2, "product")} and "not registered" in result.errors[0].message


def test_same_output_key_twice_in_a_file_is_a_row_error(session):
    a = factories.ProducerFactory()
    rows = [[a.uscc, GOJI, 2024, 1, 1], [a.uscc, GOJI, 2024, 2, 2]]
    result = import_file(session, "output", csv_bytes(OUTPUT_HEADER, rows), filename="o.csv")
    assert problems(result) == {(3, "producer")}


def test_county_regulator_cannot_import_output_of_another_county(session):
    zhongning = factories.ProducerFactory()
    haiyuan = factories.UserFactory(role="regulator", county_code="640522")
    result = import_file(session, "output", csv_bytes(OUTPUT_HEADER, [[zhongning.uscc, GOJI, 2024, 1, 1]]),
                         filename="o.csv", user=haiyuan)
    assert problems(result) == {(2, "producer")} and count(session, OutputRecord) == 0


# --- sector totals ------------------------------------------------------------------------

SECTOR_HEADER = ["product", "year", "county_code", "producers_total", "output_value_yuan", "source"]


@pytest.mark.parametrize("fmt", ["csv", "csv-bom", "xlsx"])
def test_sector_totals_import_in_every_format(session, fmt):
    rows = [[GOJI, 2024, "640521", 3100, 4.2e9, "中宁县统计局"], [GOJI, 2024, "", 3600, "", "中卫市统计局"]]
    data = xlsx_bytes(SECTOR_HEADER, rows) if fmt == "xlsx" else csv_bytes(SECTOR_HEADER, rows,
                                                                          bom=fmt == "csv-bom")
    result = import_file(session, "sector-totals", data, filename="s.xlsx" if fmt == "xlsx" else "s.csv")
    assert result.errors == [] and result.inserted == 2
    city = session.exec(select(SectorTotal).where(SectorTotal.county_code.is_(None))).one()
    assert city.producers_total == 3600 and city.output_value_yuan is None and city.source == "中卫市统计局"


def test_sector_totals_reimport_changes_nothing_and_new_numbers_update(session):
    rows = [[GOJI, 2024, "640521", 3100, 4200000000, "统计局"], [GOJI, 2024, "", 3600, "", "统计局"]]
    import_file(session, "sector-totals", csv_bytes(SECTOR_HEADER, rows), filename="s.csv")
    again = import_file(session, "sector-totals", csv_bytes(SECTOR_HEADER, rows), filename="s.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2) and count(session, SectorTotal) == 2
    rows[1][3] = 3650
    result = import_file(session, "sector-totals", csv_bytes(SECTOR_HEADER, rows), filename="s.csv")
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    city = session.exec(select(SectorTotal).where(SectorTotal.county_code.is_(None))).one()
    assert city.producers_total == 3650


@pytest.mark.parametrize("row,column", [
    ([GOJI, 2024, "640521100", 1, 1, "统计局"], "county_code"),  # a town, not a county
    ([GOJI, 2024, "640521", 1.5, 1, "统计局"], "producers_total"),
    ([GOJI, 2024, "640521", "", "", "x"], "producers_total"),
    ([GOJI, 2024, "640521", 1, 1, "x" * 301], "source"),
    ([GOJI, 2024, "640521", 1, 1, ""], "source"),
    ([GOJI, 1999, "640521", 1, 1, "统计局"], "year"),
    (["potato", 2024, "640521", 1, 1, "统计局"], "product"),
])
def test_bad_sector_total_rows(session, row, column):
    result = import_file(session, "sector-totals", csv_bytes(SECTOR_HEADER, [row]), filename="s.csv")
    assert problems(result) == {(2, column)} and count(session, SectorTotal) == 0


def test_county_regulator_cannot_import_city_totals(session):
    zhongning = factories.UserFactory(role="regulator", county_code="640521")
    rows = [[GOJI, 2024, "640521", 3100, "", "统计局"], [GOJI, 2024, "", 3600, "", "统计局"]]
    result = import_file(session, "sector-totals", csv_bytes(SECTOR_HEADER, rows), filename="s.csv",
                         user=zhongning)
    assert problems(result) == {(3, "county_code")}


# --- authorisation decisions --------------------------------------------------------------

DECISION_HEADER = ["producer", "product", "action", "effective_date", "reference_no", "reason", "valid_until"]


def grower(**fields):
    """A cooperative with a plot in its own town (an approval's evidence, see check_evidence)."""
    producer = factories.ProducerFactory(**fields)
    factories.PlotFactory(producer_id=producer.id, town_code=producer.town_code)
    return producer


def decision_rows(code):
    return [[code, GOJI, "apply", "2023-01-05", "", "", ""],
            [code, GOJI, "approve", "2023-03-01", "中宁地标许字〔2023〕1号", "", "2026-02-28"],
            [code, GOJI, "suspend", "2024-06-01", "", "抽检农残超标", ""],
            [code, GOJI, "reinstate", "2024-09-01", "", "整改合格", ""]]


@pytest.mark.parametrize("fmt", ["csv", "csv-bom", "xlsx"])
def test_decisions_import_in_every_format(session, fmt):
    producer = grower()
    rows = decision_rows(producer.uscc)
    data = xlsx_bytes(DECISION_HEADER, rows) if fmt == "xlsx" else csv_bytes(DECISION_HEADER, rows,
                                                                            bom=fmt == "csv-bom")
    regulator = factories.UserFactory(role="regulator")
    result = import_file(session, "authorisations", data, filename="a.xlsx" if fmt == "xlsx" else "a.csv",
                         user=regulator)
    assert result.errors == [] and result.inserted == 4
    decisions = session.exec(select(AuthorisationDecision).order_by(AuthorisationDecision.id)).all()
    assert [d.action for d in decisions] == ["apply", "approve", "suspend", "reinstate"]
    assert {d.source for d in decisions} == {"import"} and {d.decided_by for d in decisions} == {regulator.id}
    assert decisions[1].valid_until == date(2026, 2, 28) and decisions[2].reason == "抽检农残超标"
    from gi_trace.authorisation.services import status
    assert status(session, producer.id, decisions[0].product_id, date(2024, 7, 1)).state == "suspended"
    assert status(session, producer.id, decisions[0].product_id, date(2025, 1, 1)).state == "authorised"


def test_decision_reimport_skips_identical_rows_and_applies_new_ones_after_them(session):
    producer = grower()
    rows = decision_rows(producer.uscc)
    import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows[:2]), filename="a.csv")
    session.commit()
    # The same two rows again plus two new ones: only the new ones are recorded.
    result = import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows), filename="a.csv")
    assert (result.inserted, result.unchanged) == (2, 2)
    again = import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows), filename="a.csv")
    assert (again.inserted, again.unchanged) == (0, 4) and count(session, AuthorisationDecision) == 4


def test_same_day_decision_in_the_file_applies_after_the_recorded_one(session):
    producer = grower()
    factories.DecisionFactory(producer_id=producer.id, effective_date=date(2024, 1, 1))  # approve
    rows = [[producer.uscc, GOJI, "suspend", "2024-01-01", "", "标签不合格", ""]]
    result = import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows), filename="a.csv")
    assert result.errors == [] and result.inserted == 1


def test_approval_outside_the_protected_area_is_a_row_error(session):
    outside = grower(town_code="640521206")  # 太阳梁乡: in 中宁县 but not protected
    inside = grower()
    rows = [[inside.uscc, GOJI, "approve", "2024-01-01", "REF-1", "", ""],
            [outside.uscc, GOJI, "approve", "2024-01-01", "REF-2", "", ""]]
    result = import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows), filename="a.csv")
    assert problems(result) == {(3, "producer")}
    assert "protected area" in result.errors[0].message and "640521206" in result.errors[0].message
    assert "Taiyangliang" in result.errors[0].message or "太阳梁乡" in result.errors[0].message
    assert count(session, AuthorisationDecision) == 0


def test_impossible_transitions_and_missing_reasons_are_row_errors(session):
    a, b, c = grower(), grower(), grower()
    rows = [[a.uscc, GOJI, "reinstate", "2024-01-01", "", "", ""],       # 2: nothing to reinstate
            [b.uscc, GOJI, "approve", "2024-01-01", "REF-9", "", ""],    # 3: fine
            [b.uscc, GOJI, "revoke", "2024-02-01", "", "", ""],          # 4: a revocation needs a reason
            [b.uscc, GOJI, "suspend", "2023-12-01", "", "迟到", ""],      # 5: before the latest decision
            [c.uscc, GOJI, "approve", "2024-01-01", "", "", ""],         # 6: approval without reference
            [c.uscc, GOJI, "reject", "2024-01-01", "", "x", "2025-01-01"],  # 7: expiry on a rejection
            [c.uscc, GOJI, "approve", "2024-13-01", "R", "", ""],        # 8: no such date
            [c.uscc, GOJI, "bless", "2024-01-01", "R", "", ""]]          # 9: no such action
    result = import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows), filename="a.csv")
    assert problems(result) == {(2, "action"), (4, "reason"), (5, "effective_date"), (6, "reference_no"),
                                (7, "valid_until"), (8, "effective_date"), (9, "action")}
    assert count(session, AuthorisationDecision) == 0


def test_county_regulator_cannot_import_decisions_for_another_county(session):
    zhongning = factories.ProducerFactory()
    haiyuan = factories.UserFactory(role="regulator", county_code="640522")
    rows = [[zhongning.uscc, GOJI, "approve", "2024-01-01", "REF", "", ""]]
    result = import_file(session, "authorisations", csv_bytes(DECISION_HEADER, rows), filename="a.csv",
                         user=haiyuan)
    assert problems(result) == {(2, "producer")}


def test_valid_until_column_is_optional(session):
    producer = grower()
    header = DECISION_HEADER[:-1]
    rows = [[producer.uscc, GOJI, "approve", "2024-01-01", "REF", ""]]
    result = import_file(session, "authorisations", csv_bytes(header, rows), filename="a.csv")
    assert result.errors == [] and result.inserted == 1


# --- files --------------------------------------------------------------------------------

def test_dry_run_reports_counts_and_writes_nothing(session):
    result = import_file(session, "producers", csv_bytes(PRODUCER_HEADER, producer_rows()), filename="p.csv",
                         dry_run=True)
    assert result.ok and result.inserted == 3 and not result.written and count(session, Producer) == 0


@pytest.mark.parametrize("data,name", [
    (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx"),
    ("uscc,名称\n".encode("gbk") + "一,二\n".encode("gbk"), "gbk.csv"),
    (b"", "empty.csv"),
    (b"uscc,name\n", "producers.pdf"),
    (b"plain text", "p.xlsx"),
])
def test_unreadable_files_are_refused_with_a_message(session, data, name):
    with pytest.raises(ImportFileError) as exc:
        import_file(session, "producers", data, filename=name)
    assert exc.value.field == "file" and exc.value.message


def test_rows_written_by_someone_else_meanwhile_give_a_conflict_not_a_crash(session):
    from sqlalchemy import insert

    from gi_trace.errors import Conflict
    from gi_trace.types import utcnow

    def meanwhile(_n):
        # Another writer registers the same credit code between the check and the write.
        if not session.info.get("raced"):
            session.info["raced"] = True
            session.connection().execute(insert(Producer.__table__), [dict(
                uscc=WORKED_EXAMPLE, name="别人先登记", kind="enterprise", county_code="640521",
                town_code="640521100", uscc_check_ok=True, address="", contact_name="", contact_phone="",
                created_at=utcnow())])

    with pytest.raises(Conflict):
        import_file(session, "producers", csv_bytes(PRODUCER_HEADER, producer_rows()), filename="p.csv",
                    progress=meanwhile)
    session.rollback()
    assert count(session, Producer) == 0


def test_imported_approval_needs_the_same_evidence_as_one_decided_on_the_page(session):
    # A cooperative (a grower) without a plot in the protected towns cannot be approved by import either;
    # a processor without one needs its declared sources; nothing of the file is written.
    grower = factories.ProducerFactory()
    processor = factories.ProducerFactory(kind="enterprise")
    with_plot = factories.ProducerFactory()
    factories.PlotFactory(producer_id=with_plot.id)
    header = DECISION_HEADER + ["sources"]
    rows = [[with_plot.uscc, GOJI, "approve", "2024-01-01", "REF-1", "", "", ""],
            [grower.uscc, GOJI, "approve", "2024-01-01", "REF-2", "", "", ""],
            [processor.uscc, GOJI, "approve", "2024-01-01", "REF-3", "", "", ""]]
    result = import_file(session, "authorisations", csv_bytes(header, rows), filename="a.csv")
    assert problems(result) == {(3, "producer"), (4, "sources")}
    assert "plot" in result.errors[0].message and result.inserted == 0
    assert count(session, AuthorisationDecision) == 0
    rows[1] = [with_plot.uscc, GOJI, "suspend", "2024-02-01", "", "抽检不合格", "", ""]
    rows[2][-1] = "宁安镇合作社收购，鸣沙镇农户"
    result = import_file(session, "authorisations", csv_bytes(header, rows), filename="a.csv")
    assert result.errors == [] and result.inserted == 3
    stored = session.exec(select(AuthorisationDecision).where(
        AuthorisationDecision.producer_id == processor.id)).one()
    assert stored.sources == "宁安镇合作社收购，鸣沙镇农户"

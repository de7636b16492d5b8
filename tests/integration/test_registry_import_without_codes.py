"""Imports people can fill in: Chinese headings, names instead of codes, plots from the planting census,
and an XLSX template with an example row and the allowed values."""
from __future__ import annotations

import io

import openpyxl
from sqlmodel import select

from gi_trace.registry.imports import allowed_values, import_rows, template_xlsx
from gi_trace.registry.models import OutputRecord, Plot, Producer
from tests.factories import ProducerFactory, UserFactory


def test_chinese_headings_and_names_for_county_town_and_product(session):
    admin = UserFactory(role="admin")
    header = ["统一社会信用代码", "登记号", "名称", "类型", "县区", "乡镇", "产品", "联系电话", "登记日期"]
    result = import_rows(session, "producers", header,
                         [(2, ["", "ZW-77", "某农户", "农户", "中宁县", "鸣沙镇", "中宁枸杞", "13900000000", "2025-01-02"])],
                         user=admin)
    assert result.ok, result.errors
    producer = session.exec(select(Producer).where(Producer.registry_no == "ZW-77")).one()
    assert (producer.county_code, producer.town_code, producer.kind) == ("640521", "640521101", "household")
    output = import_rows(session, "output", ["生产者", "产品", "年度", "产量（公斤）", "产值（元）"],
                         [(2, ["ZW-77", "中宁枸杞", "2025", "300", "15000"])], user=admin)
    assert output.ok, output.errors
    assert session.exec(select(OutputRecord)).one().output_value_yuan == 15000
    bad = import_rows(session, "producers", header,
                      [(2, ["", "ZW-78", "某农户", "农户", "中宁县", "不存在镇", "中宁枸杞", "", ""])], user=admin)
    assert not bad.ok and bad.errors[0].column == "town_code"


def test_plots_from_the_planting_census(session):
    admin = UserFactory(role="admin")
    grower = ProducerFactory()
    header = ["producer", "town_code", "area_mu", "cultivar", "lat", "lon"]
    rows = [(2, [grower.uscc, "640521101", "12.5", "宁杞7号", "37.49", "105.66"]),
            (3, [grower.uscc, "余丁乡", "8", "宁杞1号", "", ""])]
    result = import_rows(session, "plots", header, rows, user=admin)
    assert result.ok and result.inserted == 2, result.errors
    again = import_rows(session, "plots", header, rows, user=admin)
    assert again.ok and again.inserted == 0 and again.unchanged == 2
    towns = sorted(p.town_code for p in session.exec(select(Plot).where(Plot.producer_id == grower.id)).all())
    assert towns == ["640521101", "640521202"]
    bad = import_rows(session, "plots", header, [(2, ["NOPE", "640521101", "-3", "", "95", ""])], user=admin)
    assert {e.column for e in bad.errors} == {"producer", "area_mu", "lat"}


def test_xlsx_template_has_an_example_row_and_the_allowed_values(session):
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx("producers", allowed_values(session))))
    assert len(list(book["producers"].iter_rows(values_only=True))) == 1  # the sheet imported: header only
    rows = list(book["example"].iter_rows(values_only=True))
    assert rows[0][:3] == ("uscc", "registry_no", "name") and rows[1][2] == "中宁县示例枸杞合作社"
    allowed = book["allowed values"]
    columns = {allowed.cell(row=1, column=c).value: [allowed.cell(row=r, column=c).value
                                                     for r in range(2, allowed.max_row + 1)]
               for c in range(1, allowed.max_column + 1)}
    assert "640521 中宁县" in columns["county_code"] and "640521101 鸣沙镇" in columns["town_code"]
    assert "中宁枸杞" in columns["product"] and "农户" in columns["kind"]

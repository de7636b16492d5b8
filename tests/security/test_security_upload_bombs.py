"""Issue 14 item 7: spreadsheet bombs are refused before parsing, within seconds, with nothing written.

The shared-strings bomb is real: 8 million entries packed into a few hundred KB (the attack that
took a worker down for 30 s and 1.25 GB, and the CLI for 203 s). The time bound is loose: a guard
that the file is refused before it is parsed, not a performance measurement.
"""
from __future__ import annotations

import io
import time
import zipfile

import pytest
from sqlmodel import func, select

from gi_trace.registry.imports import ImportFileError, read_table
from gi_trace.registry.models import Producer
from tests import factories
from tests.conftest import csrf_token, login

CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                 '2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                 'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/'
                 'xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
                 'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
                 'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/'
                 'sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                 'sharedStrings+xml"/></Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            '<sheet name="producers" sheetId="1" r:id="rId1"/></sheets></workbook>')
WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
           '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           'relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
           'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
           '</Relationships>')
SHEET = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
         '2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v>'
         '</c></row></sheetData></worksheet>')


def shared_strings_bomb(entries: int = 8_000_000) -> bytes:
    """A valid workbook whose shared-strings part holds `entries` strings: small packed, huge unpacked."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", SHEET)
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
                     f'spreadsheetml/2006/main" count="{entries}" uniqueCount="{entries}">'.encode())
            block = b"<si><t>uscc</t></si>" * 100_000
            for _ in range(entries // 100_000):
                fh.write(block)
            fh.write(b"</sst>")
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = shared_strings_bomb()
    assert len(data) < 2 * 1024 * 1024  # small enough to pass any upload size limit
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.getinfo("xl/sharedStrings.xml").file_size > 100 * 1024 * 1024
    return data


def _producers(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Producer)).one()


def test_the_shared_strings_bomb_is_refused_by_the_command_line(runner, session, bomb, tmp_path):
    path = tmp_path / "producers.xlsx"
    path.write_bytes(bomb)
    started = time.monotonic()
    result = runner.invoke(args=["import", "producers", str(path)])
    elapsed = time.monotonic() - started
    assert result.exit_code != 0
    assert "Excel" in result.output, result.output
    assert elapsed < 10, elapsed
    assert _producers(session) == 0


def test_the_shared_strings_bomb_is_refused_by_the_upload_page(client, session, bomb):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    started = time.monotonic()
    response = client.post("/import", data={"csrf_token": csrf_token(client, "/import"), "kind": "producers",
                                            "file": (io.BytesIO(bomb), "producers.xlsx")},
                           content_type="multipart/form-data")
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert "field-error" in response.get_data(as_text=True)
    assert elapsed < 10, elapsed
    assert _producers(session) == 0


def test_a_workbook_with_too_many_parts_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(300):
            zf.writestr(f"xl/media/image{i}.png", b"x")
    with pytest.raises(ImportFileError) as refused:
        read_table(out.getvalue(), "big.xlsx")
    assert "300" in refused.value.message


def test_csv_rows_fields_and_columns_are_bounded(app):
    header = "uscc,registry_no,name,kind,county_code,town_code,products\n"
    with app.app_context():
        app.config["IMPORT_ROWS"] = 10
        with pytest.raises(ImportFileError):
            with read_table((header + "a,b,c\n" * 50).encode(), "many.csv") as table:
                list(table.rows())
        with pytest.raises(ImportFileError) as wide:
            with read_table((header + ",".join(["x"] * 5000) + "\n").encode(), "wide.csv") as table:
                list(table.rows())
        assert "5000" in wide.value.message
        with pytest.raises(ImportFileError) as long_cell:
            with read_table((header + "a," + "x" * 50_000 + "\n").encode(), "long.csv") as table:
                list(table.rows())
        assert "10000" in long_cell.value.message
        app.config["IMPORT_FILE_BYTES"] = 1000
        with pytest.raises(ImportFileError):
            read_table((header + "a,b,c\n" * 500).encode(), "big.csv")


@pytest.mark.parametrize("overrides, words", [
    ({}, "MB"),  # unpacked size
    ({"IMPORT_XLSX_UNCOMPRESSED_BYTES": 10**10}, "times"),  # packing ratio
    ({"IMPORT_XLSX_UNCOMPRESSED_BYTES": 10**10, "IMPORT_XLSX_RATIO": 10**6}, "different texts"),  # shared strings
])
def test_each_guard_refuses_the_bomb_on_its_own(app, bomb, overrides, words):
    app.config.update({"BABEL_DEFAULT_LOCALE": "en", **overrides})
    with app.test_request_context("/?lang=en"):
        with pytest.raises(ImportFileError) as refused:
            read_table(bomb, "producers.xlsx")
    assert words in refused.value.message

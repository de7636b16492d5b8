"""The one writer of CSV and XLSX files, with the formula guard.

Every table the system hands out as a spreadsheet (the annual report's tables, recall lists, import
templates) is written here. Text that a spreadsheet would run as a formula (a cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return: OWASP "CSV injection") gets a leading apostrophe, so a
complaint's code field `=HYPERLINK(...)` reaches a regulator's Excel as plain text. Numbers stay numbers.

The XLSX part writes the sheet XML directly: openpyxl builds a Python object per cell, and for the
report's tables (up to a million cells) this is an order of magnitude faster. Cells are numbers or
inline strings. The files open in Excel, LibreOffice and openpyxl.
"""
from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from typing import Iterable, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NEEDS_CARE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")
_STR_OPEN = '<c t="inlineStr"><is><t xml:space="preserve">'
_STR_CLOSE = "</t></is></c>"
_BIG = float("inf")


def guard(value):
    """The value, with an apostrophe in front when it is text a spreadsheet would run as a formula."""
    if value.__class__ is str and value and value[0] in _FORMULA_START:
        return "'" + value
    return value


# --- CSV ------------------------------------------------------------------------------------------

def csv_bytes(header: Sequence[str], rows: Iterable[Sequence], *, lineterminator: str = "\r\n") -> bytes:
    """UTF-8 CSV with a BOM (so Excel shows Chinese) and a header row; every cell guarded."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([guard(h) for h in header])
    writer.writerows([guard(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------------------

def _col(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


def _esc(text: str) -> str:
    text = _ILLEGAL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value) -> str:
    if value is None or value == "":
        return "<c/>"
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"<c><v>{value!r}</v></c>"
    return f'<c t="inlineStr"><is><t xml:space="preserve">{_esc(guard(str(value)))}</t></is></c>'


def _row(row: Sequence) -> str:
    """One <row>: the common types inline (this runs once per row of the big tables)."""
    texts = [v for v in row if v.__class__ is str]
    if texts and (_NEEDS_CARE.search("".join(texts)) or any(v and v[0] in _FORMULA_START for v in texts)):
        return "<row>" + "".join([_cell(v) for v in row]) + "</row>"
    parts = ["<row>"]
    append = parts.append
    for value in row:
        kind = value.__class__
        if kind is str:
            append(_STR_OPEN + value + _STR_CLOSE if value else "<c/>")
        elif value is None:
            append("<c/>")
        elif kind is int or (kind is float and -_BIG < value < _BIG):  # finite floats (NaN fails both tests)
            append(f"<c><v>{value!r}</v></c>")
        else:
            append(_cell(value))
    append("</row>")
    return "".join(parts)


def _sheet(header: Sequence[str], rows: Iterable[Sequence], widths: Sequence[int] | None) -> str:
    width = max(len(header), 1)
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
             'state="frozen"/></sheetView></sheetViews>']
    if widths:
        parts.append("<cols>" + "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
                                        for i, w in enumerate(widths)) + "</cols>")
    parts.append("<sheetData>")
    parts.append("<row>" + "".join(_cell(h) for h in header) + "</row>")
    count = 1
    for row in rows:
        parts.append(_row(row))
        count += 1
    parts.append("</sheetData>")
    parts.append(f'<autoFilter ref="A1:{_col(width - 1)}{count}"/>')
    parts.append("</worksheet>")
    return "".join(parts)


def xlsx_bytes(sheets: dict[str, tuple[Sequence[str], Iterable[Sequence]]],
               widths: dict[str, Sequence[int]] | None = None) -> bytes:
    """An .xlsx file with one sheet per entry: name -> (header, rows); frozen header, auto-filter."""
    names = list(sheets)
    widths = widths or {}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                    '<Default Extension="xml" ContentType="application/xml"/>'
                    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                    'spreadsheetml.sheet.main+xml"/>'
                    + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
                              f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                              for i in range(len(names)))
                    + "</Types>")
        zf.writestr("_rels/.rels",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                    + "".join(f'<sheet name="{_esc(_sheet_name(name))}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                              for i, name in enumerate(names))
                    + "</sheets></workbook>")
        zf.writestr("xl/_rels/workbook.xml.rels",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    + "".join(f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/'
                              f'2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                              for i in range(len(names)))
                    + "</Relationships>")
        for i, name in enumerate(names):
            header, rows = sheets[name]
            zf.writestr(f"xl/worksheets/sheet{i + 1}.xml", _sheet(header, rows, widths.get(name)))
    return out.getvalue()


def _sheet_name(name: str) -> str:
    """Excel refuses sheet names over 31 characters or with []:*?/\\ in them."""
    return re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"

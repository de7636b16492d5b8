"""A small, fast XLSX writer for plain data tables (one sheet per table, header row, auto-filter).

openpyxl builds a Python object per cell; for the report's tables (up to a million cells) writing
the sheet XML directly is an order of magnitude faster. Cells are numbers or inline strings; text
that a spreadsheet would run as a formula is written as text anyway (inline strings never
evaluate). The files open in Excel, LibreOffice and openpyxl.
"""
from __future__ import annotations

import io
import math
import re
import zipfile
from typing import Iterable, Sequence

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")
_STR_OPEN = '<c t="inlineStr"><is><t xml:space="preserve">'
_STR_CLOSE = "</t></is></c>"
_BIG = float("inf")


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
    return f'<c t="inlineStr"><is><t xml:space="preserve">{_esc(str(value))}</t></is></c>'


def _row(row: Sequence) -> str:
    """One <row>: the common types inline (this runs once per row of the big tables)."""
    texts = [v for v in row if v.__class__ is str]
    if texts and _NEEDS_ESCAPE.search("".join(texts)):
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


def _sheet(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    width = max(len(header), 1)
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
             'state="frozen"/></sheetView></sheetViews><sheetData>']
    parts.append("<row>" + "".join(_cell(h) for h in header) + "</row>")
    count = 1
    for row in rows:
        parts.append(_row(row))
        count += 1
    parts.append("</sheetData>")
    parts.append(f'<autoFilter ref="A1:{_col(width - 1)}{count}"/>')
    parts.append("</worksheet>")
    return "".join(parts)


def workbook(sheets: dict[str, tuple[Sequence[str], Iterable[Sequence]]]) -> bytes:
    """An .xlsx file with one sheet per entry: name -> (header, rows)."""
    names = list(sheets)
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
                    + "".join(f'<sheet name="{_esc(name[:31])}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
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
            zf.writestr(f"xl/worksheets/sheet{i + 1}.xml", _sheet(header, rows))
    return out.getvalue()

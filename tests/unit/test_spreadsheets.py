"""The small XLSX writer: files that openpyxl reads back cell for cell."""
from __future__ import annotations

import io
import math

from openpyxl import load_workbook

from gi_trace.spreadsheets import xlsx_bytes as workbook


def test_workbook_round_trips_through_openpyxl():
    rows = [(1, "中宁枸杞", 2.5, None, True, "a<b&c>", "=SUM(A1:A2)", ""), (2, "x\x01y", math.inf, -3, False, "", "", "")]
    data = workbook({"first": (["id", "name", "value", "empty", "flag", "esc", "formula", "blank"], rows),
                     "second sheet": (["only"], [])})
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["first", "second sheet"]
    ws = wb["first"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == ["id", "name", "value", "empty", "flag", "esc", "formula", "blank"]
    assert values[1] == [1, "中宁枸杞", 2.5, None, True, "a<b&c>", "'=SUM(A1:A2)", None]
    assert values[2][:5] == [2, "xy", "inf", -3, False]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H3"
    assert ws["G2"].data_type == "s"  # text, never a formula

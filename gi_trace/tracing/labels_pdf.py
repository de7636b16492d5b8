"""Label sheets as a vector PDF: A4, 5 × 7 cells of 38 mm, each a 2 cm QR drawn as filled rectangles
with its human-readable lines in Noto Sans CJK SC, embedded as a subset.

Why vectors: a QR drawn as rectangles stays sharp at any printer resolution, and the file holds a few
hundred bytes per label instead of a 300 dpi bitmap of every page. The library is fpdf2: it embeds
and subsets OpenType fonts with CFF outlines — Debian's fonts-noto-cjk ships only those, and
reportlab's TTF support refuses them (the labels' marks and names are Chinese, so the font must be
in the file, not left to the printer's PC). Module edges are snapped to the 300 dpi grid of a label
printer, so a module is a whole number of printer dots, as in the PNGs (`qr.box_size_for`).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Optional

from flask_babel import gettext as _

from gi_trace.errors import NotFound
from gi_trace.tracing import qr

PT_PER_MM = 72 / 25.4
DOT = 72 / qr.LABEL_DPI  # one printer dot at 300 dpi, in points
PAGE_W, PAGE_H = 210 * PT_PER_MM, 297 * PT_PER_MM
MARGIN = 10 * PT_PER_MM
CELL = 38 * PT_PER_MM
COLUMNS, ROWS = 5, 7
PER_PAGE = COLUMNS * ROWS
FONT_SIZE = 6.0  # points
LINE = FONT_SIZE * 1.25
CJK_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc")
FAMILY = "Noto Sans CJK SC"
# fontTools logs every subsetting step at INFO: one line per table for every PDF.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


@lru_cache(maxsize=1)
def font_face() -> Optional[tuple[str, int]]:
    """(file, face number) of Noto Sans CJK SC in the installed collection, or None without fonts-noto-cjk."""
    from fontTools.ttLib import TTCollection

    for path in CJK_FONT_FILES:
        try:
            collection = TTCollection(path, lazy=True)
        except OSError:
            continue
        try:
            names = [face["name"].getDebugName(1) for face in collection.fonts]
        finally:
            collection.close()
        if FAMILY in names:
            return path, names.index(FAMILY)
    return None


def _snap(value: float) -> float:
    return round(value / DOT) * DOT


def qr_operators(symbol: qr.Symbol, left: float, top: float, module: float) -> str:
    """The dark modules as PDF path operators: one rectangle per horizontal run, then one fill.

    `left`/`top` are the symbol's top-left corner in PDF points from the page's bottom-left. A `cm`
    transform makes one unit one module (y downwards), so each run is written in small integers.
    """
    parts = [f"q {module:.4f} 0 0 {-module:.4f} {left:.3f} {top:.3f} cm"]
    append = parts.append
    for r, row in enumerate(symbol.rows()):
        for run in qr._DARK_RUNS.finditer(row):
            start = run.start()
            append(f"{start} {r} {run.end() - start} 1 re")
    append("f Q")
    return "\n".join(parts)


def pdf_sheet(sheet, progress=None, every: int = 100) -> bytes:
    """The sheet as an A4 PDF drawn in vectors, for printing as it is (`labels.Sheet`); `progress(labels
    drawn)` every `every` labels (a background job's progress page)."""
    from fpdf import FPDF

    face = font_face()
    if face is None:
        raise NotFound(_("PDF labels need a Chinese font on the server (fonts-noto-cjk); use the print view."))
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_compression(True)
    pdf.set_creator("gi-trace")
    pdf.set_title(sheet.batch_display)
    pdf.add_font("cjk", "", face[0], collection_font_number=face[1])
    pdf.set_font("cjk", size=FONT_SIZE)
    widths: dict[str, float] = {}
    fitted: dict[tuple[str, float], str] = {}
    text_width = CELL - 4 * PT_PER_MM

    def fit(text: str) -> str:
        # Marks and credit codes repeat on every label: measure each distinct line once.
        key = (text, text_width)
        if key not in fitted:
            cut = text
            while cut and pdf.get_string_width(cut + ("…" if cut != text else "")) > text_width:
                cut = cut[:-1]
            fitted[key] = cut if cut == text else cut + "…"
        return fitted[key]

    def width(text: str) -> float:
        if text not in widths:
            widths[text] = pdf.get_string_width(text)
        return widths[text]

    mark = sheet.gi_mark + (f" · {sheet.trademark}" if sheet.trademark else "")
    owner = f"{sheet.producer_code_label} {sheet.producer_code}" if sheet.producer_code else sheet.producer_name
    symbols = [qr.encode(label.url) for label in sheet.labels]
    for index, (label, symbol) in enumerate(zip(sheet.labels, symbols)):
        if index % PER_PAGE == 0:
            pdf.add_page()
            pdf.set_fill_color(0)
        i = index % PER_PAGE
        cell_left = MARGIN + (i % COLUMNS) * CELL
        cell_top = MARGIN + (i // COLUMNS) * CELL  # from the page's top
        box = qr.box_size_for(symbol.size)
        module = box * DOT
        side = (symbol.size + 2 * qr.BORDER) * module
        qr_left = _snap(cell_left + (CELL - side) / 2)
        qr_top = _snap(cell_top + 2 * PT_PER_MM + (qr.LABEL_MM * PT_PER_MM - side) / 2)
        # fpdf2 draws a rectangle per call; ~400 calls a label would dominate the time, so the QR goes into
        # the page's content stream as one path (the same operators `rect` writes).
        pdf._out(qr_operators(symbol, qr_left + qr.BORDER * module, PAGE_H - qr_top - qr.BORDER * module, module))
        lines = list(label.human_readable or [label.display])
        if label.human_readable and label.serial is None:
            lines.append(label.display)  # a batch label: its trace code too, for typing
        lines += [mark, owner]
        if label.serial:
            lines.append(_("Pack %(serial)s of %(total)s", serial=label.serial, total=sheet.units_total))
        y = cell_top + 2 * PT_PER_MM + qr.LABEL_MM * PT_PER_MM + FONT_SIZE
        centre = cell_left + CELL / 2
        for text in lines:
            text = fit(text)
            pdf.text(centre - width(text) / 2, y, text)
            y += LINE
        if progress is not None and (index + 1) % every == 0:
            progress(index + 1)
    return bytes(pdf.output())

"""Label sheets: an A4 print view (inline SVG QR codes) and a ZIP of PNGs for label printers.

What a label carries (区域公用品牌 + 企业自主商标品牌, and the user's credit code next to the mark):
the 2 cm QR of `PUBLIC_BASE_URL/t/<code>`, the grouped code a person can type, the GI product
name with the mark, the enterprise's own trademark, and the producer's unified social credit code
(or registry number for households). A sheet is refused while the batch may not carry the GI label
(see `tracing.services.label_allowed`): a failed test, an authorisation not in force, withdrawal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup

from gi_trace.tracing import codes, qr

# A4 with 10 mm margins: 5 columns × 7 rows of 38 mm cells (see static/css/tracing.css).
LABELS_PER_PAGE = 35
MAX_LABELS_PER_SHEET = 5000


@dataclass(frozen=True)
class Label:
    """One label: its code, the URL in its QR, and the package number for unit codes."""

    code: str
    url: str
    serial: Optional[int] = None

    @property
    def display(self) -> str:
        return codes.display(self.code)



@dataclass
class Sheet:
    """Everything printed on a sheet of labels for one batch."""

    batch_code: str
    gi_mark: str  # e.g. 中宁枸杞 地理标志
    trademark: str
    producer_name: str
    producer_code: str  # USCC, else the registry number
    labels: list[Label] = field(default_factory=list)
    units_total: int = 0

    @property
    def batch_display(self) -> str:
        return codes.display(self.batch_code)

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def producer_code_label(self) -> str:
        # A USCC has 18 characters; anything else is the register's own number for a household.
        return _("USCC") if len(self.producer_code) == 18 else _("Reg. no.")


def labels_for_codes(base_url: str, code_list: Sequence[str], serials: Optional[Sequence[int]] = None) -> list[Label]:
    """Labels for codes (with package numbers for unit codes)."""
    if serials is None:
        return [Label(c, qr.trace_url(base_url, c)) for c in code_list]
    return [Label(c, qr.trace_url(base_url, c), s) for c, s in zip(code_list, serials)]


def pages(labels: Sequence[Label], svgs: Sequence[str], per_page: int = LABELS_PER_PAGE) -> list[list[tuple]]:
    """Labels with their SVGs, cut into A4 pages."""
    pairs = list(zip(labels, (Markup(s) for s in svgs)))
    return [pairs[i:i + per_page] for i in range(0, len(pairs), per_page)]


def render_sheet(sheet: Sheet, *, back_url: str | None = None, zip_url: str | None = None,
                 parallel: bool = False) -> str:
    """The HTML print view of a sheet (needs a request context for translations and URLs)."""
    svgs = qr.svg_elements([label.url for label in sheet.labels], parallel=parallel)
    return render_template("tracing/labels.html", sheet=sheet, pages=pages(sheet.labels, svgs),
                           back_url=back_url, zip_url=zip_url)


def zip_sheet(sheet: Sheet, parallel: bool = False) -> bytes:
    """A ZIP with one 2 cm / 300 dpi PNG per label, named by package (or position) number and code."""
    # Numbered by position: copies of one batch code must not share a file name.
    named = [(f"{label.serial or i:05d}-{label.display}.png", label.url) for i, label in enumerate(sheet.labels, 1)]
    return qr.zip_of_pngs(named, parallel=parallel)

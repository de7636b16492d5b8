"""Label sheets: an A4 print view (inline SVG QR codes) and a ZIP of PNGs for label printers.

What a label carries (区域公用品牌 + 企业自主商标品牌, and the user's credit code next to the mark):
the 2 cm QR — the GS1 Digital Link URI `PUBLIC_BASE_URL/01/<gtin>/10/<lot>[/21/<unit code>]` when the batch
has a product line, else `PUBLIC_BASE_URL/t/<code>` — with the GS1 human-readable line under it
(`(01)… (10)… (21)…`) or the grouped code a person can type, the GI product
name with the mark, the enterprise's own trademark, and the producer's unified social credit code
(or registry number for households). A sheet is refused while the batch may not carry the GI label
(see `tracing.services.label_allowed`): a failed test, an authorisation not in force, withdrawal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional, Sequence

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup

from gi_trace import formatting as fmt
from gi_trace.errors import NotFound, ValidationError
from gi_trace.registry.models import Producer, Product
from gi_trace.tracing import capacity, codes, gs1, labels_pdf, qr, services, units

# A4 with 10 mm margins: 5 columns × 7 rows of 38 mm cells (see static/css/tracing.css).
LABELS_PER_PAGE = 35
# One sheet is drawn in the request up to 500 labels; a PDF or ZIP of more (up to 10,000) is made by a
# background job with a progress page and a download (`tracing.tasks`), so no producer holds a web worker
# for long. The print view stays at 500 (a browser prints no more in one go).
MAX_LABELS_PER_SHEET = 500
MAX_LABELS_PER_JOB = 10_000
PROGRESS_EVERY = 100  # labels between two progress reports of a background sheet


@dataclass(frozen=True)
class Label:
    """One label: its code, the URL in its QR, and the package number for unit codes."""

    code: str
    url: str
    serial: Optional[int] = None
    human_readable: Optional[tuple[str, ...]] = None  # GS1 element strings, when the label has a GTIN

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


def labels_for_codes(base_url: str, code_list: Sequence[str], serials: Optional[Sequence[int]] = None,
                     identity: Optional[gs1.LabelIdentity] = None) -> list[Label]:
    """Labels for codes: unit codes when `serials` (package numbers) are given, else copies of a batch code."""
    identity = identity or gs1.LabelIdentity()
    unit = serials is not None

    def label(code: str, serial: Optional[int]) -> Label:
        hri = identity.human_readable(code, unit)
        return Label(code, identity.url(base_url, code, unit), serial, tuple(hri) if hri else None)

    if serials is None:
        return [label(c, None) for c in code_list]
    return [label(c, s) for c, s in zip(code_list, serials)]


def pages(labels: Sequence[Label], svgs: Sequence[str], per_page: int = LABELS_PER_PAGE) -> list[list[tuple]]:
    """Labels with their SVGs, cut into A4 pages."""
    pairs = list(zip(labels, (Markup(s) for s in svgs)))
    return [pairs[i:i + per_page] for i in range(0, len(pairs), per_page)]


def render_sheet(sheet: Sheet, *, back_url: str | None = None, zip_url: str | None = None,
                 pdf_url: str | None = None) -> str:
    """The HTML print view of a sheet (needs a request context for translations and URLs)."""
    svgs = qr.svg_elements([label.url for label in sheet.labels])
    return render_template("tracing/labels.html", sheet=sheet, pages=pages(sheet.labels, svgs),
                           back_url=back_url, zip_url=zip_url, pdf_url=pdf_url)


def zip_sheet(sheet: Sheet, progress: Optional[Callable[[int], None]] = None) -> bytes:
    """A ZIP with one 2 cm / 300 dpi PNG per label, named by package (or position) number and code
    (`progress(labels done)` every PROGRESS_EVERY labels, for a background job)."""
    # Numbered by position: copies of one batch code must not share a file name.
    import io
    import zipfile

    names = [f"{label.serial or i:05d}-{label.display}.png" for i, label in enumerate(sheet.labels, 1)]
    images = []
    for i, label in enumerate(sheet.labels, 1):
        images.append(captioned_png(label.url, label.display, label.human_readable))
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in zip(names, images):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def captioned_png(url: str, display: str, human_readable: Optional[Sequence[str]] = None) -> bytes:
    """A label PNG: the 2 cm QR with its human-readable line(s) under it — the GS1 element strings where
    the label has a GTIN, else the grouped code (300 dpi)."""
    import io

    from PIL import Image

    symbol = qr.image(url)
    lines = [_caption_line(line) for line in (human_readable or [display])]
    side = symbol.size[0]
    width = max([side] + [line.size[0] for line in lines])
    page = Image.new("1", (width, side + sum(line.size[1] for line in lines)), 1)
    page.paste(symbol, ((width - side) // 2, 0))
    y = side
    for line in lines:
        page.paste(line, ((width - line.size[0]) // 2, y))
        y += line.size[1]
    out = io.BytesIO()
    page.save(out, "PNG", dpi=(qr.LABEL_DPI, qr.LABEL_DPI))
    return out.getvalue()


@lru_cache(maxsize=256)
def _caption_line(text: str):
    """One caption line as a 1-bit image; (01) and (10) repeat on every label of a lot, so each is drawn once."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = pdf_fonts()
    font = fonts.code if fonts is not None else ImageFont.load_default(size=round(7.5 / 72 * qr.LABEL_DPI))
    width = round(ImageDraw.Draw(Image.new("1", (1, 1), 1)).textlength(text, font=font)) + 16
    line = Image.new("1", (width, round(font.size * 1.3)), 1)
    ImageDraw.Draw(line).text((width // 2, 0), text, font=font, fill=0, anchor="mt")
    return line


# --- building a sheet from the database -------------------------------------------------------

def build_sheet(session, user, batch, base_url: str, *, kind: str = "units", start: int = 1,
                count: int = 1000, limit: int = MAX_LABELS_PER_SHEET, record: bool = True) -> Sheet:
    """The labels of the user's own batch: its unit codes from `start`, or `count` copies of the
    batch code. Refused while the batch may not carry the GI label. `limit`: the most labels allowed
    (MAX_LABELS_PER_JOB for a background sheet); `record=False` checks everything and records nothing
    (copies of a batch label are counted against the batch only when `record`)."""
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    services.require_label_allowed(session, batch)
    if kind not in ("units", "batch"):
        raise ValidationError(_("Choose unit codes or copies of the batch code."), field="kind")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
        if limit < MAX_LABELS_PER_JOB and isinstance(count, int) and limit < count <= MAX_LABELS_PER_JOB:
            raise ValidationError(_("The print view holds at most %(n)s labels; download the PDF or the ZIP for up "
                                    "to %(most)s (made in the background).", n=fmt.number(limit),
                                    most=fmt.number(MAX_LABELS_PER_JOB)), field="count")
        raise ValidationError(_("A sheet holds between 1 and %(n)s labels; print larger runs in parts (packages "
                                "1–%(n)s, then from %(next)s on).", n=fmt.number(limit),
                                next=fmt.number(limit + 1)), field="count")
    if isinstance(start, bool) or not isinstance(start, int) or start < 1:
        raise ValidationError(_("The first package number must be 1 or more."), field="start")
    product = session.get(Product, batch.product_id)
    producer = session.get(Producer, batch.producer_id)
    identity = gs1.label_identity(session, batch)
    if kind == "units":
        rows = units.units_of(session, batch, start, count)
        if not rows:
            raise ValidationError(_("No unit codes from package %(start)s; issue unit codes first.", start=start),
                                  field="start")
        label_list = labels_for_codes(base_url, [u.code for u in rows], [u.serial for u in rows], identity)
    else:
        # Each copy labels a package: copies count against the batch's kilograms like unit codes, and
        # every sheet printed counts (a reprint is labels too).
        if record:
            services.lock_batch(session, batch)
        size = units.copy_size(session, batch)
        units.require_labels_within_quantity(session, batch, count * size,
                                             _("%(n)s copies of the batch label", n=count))
        if record:
            batch.label_copies = (batch.label_copies or 0) + count
            session.add(batch)
            session.flush()
            capacity.check_party(session, batch)  # 以产核标 across owners: the party's mark against its traced sources
        label_list = labels_for_codes(base_url, [batch.code] * count, identity=identity)
    return Sheet(batch_code=batch.code, gi_mark=_("%(product)s GI", product=product.name_zh),
                 trademark=batch.trademark_name,
                 producer_name=producer.name, producer_code=producer.code, labels=label_list,
                 units_total=batch.units_issued)


# --- fonts for the PNG captions; the PDF is drawn in vectors by `labels_pdf` -----------------

# Where Debian's fonts-noto-cjk puts its fonts; without a CJK font there is no PDF (the print
# view and the PNG ZIP still work), since the marks and names on a label are Chinese.
CJK_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk")
MM = qr.LABEL_DPI / 25.4  # pixels per millimetre at 300 dpi (the certificate's raster)


@dataclass(frozen=True)
class _Fonts:
    code: object
    small: object
    bold: object


def _find_face(file_name: str, family: str, size: int):
    from PIL import ImageFont

    for directory in CJK_FONT_DIRS:
        path = f"{directory}/{file_name}"
        for index in range(12):
            try:
                font = ImageFont.truetype(path, size, index=index)
            except OSError:
                break
            if font.getname()[0] == family:
                return font
    return None


_fonts_cache: dict = {}


def pdf_fonts() -> Optional[_Fonts]:
    """Noto Sans CJK SC (and its monospace face for the code) at label sizes, or None if not installed."""
    if "fonts" not in _fonts_cache:
        small = _find_face("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC", round(6 / 72 * qr.LABEL_DPI))
        bold = _find_face("NotoSansCJK-Bold.ttc", "Noto Sans CJK SC", round(6 / 72 * qr.LABEL_DPI))
        code = _find_face("NotoSansCJK-Bold.ttc", "Noto Sans Mono CJK SC", round(7.5 / 72 * qr.LABEL_DPI))
        _fonts_cache["fonts"] = _Fonts(code, small, bold) if small and bold and code else None
    return _fonts_cache["fonts"]


def pdf_sheet(sheet: Sheet, progress: Optional[Callable[[int], None]] = None) -> bytes:
    """The sheet as an A4 PDF drawn in vectors (see `labels_pdf`)."""
    return labels_pdf.pdf_sheet(sheet, progress, every=PROGRESS_EVERY)

"""GS1: GTIN check digits (pure), product lines with a GTIN, and the Digital Link resolver.

A GTIN-8, -12, -13 or -14 is one number padded with leading zeros to 14 digits; its last digit is
a mod-10 check digit: from the right, the other digits are weighted 3, 1, 3, 1, …; the check digit
brings the weighted sum up to a multiple of ten. GS1 Digital Link: `/01/<gtin14>/10/<lot>` (and
`/21/<serial>` for one package) names a batch; `tracing.resolver` answers for it. What a label's QR
carries: the Digital Link URI when the batch has a product line (a GTIN) and a lot number, else
`/t/<code>`; both open the same scan page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, Gone, ValidationError
from gi_trace.formatting import number
from gi_trace.registry.gln import check_digit  # noqa: F401 (gs1.check_digit: GTINs' check digit)
from gi_trace.registry.gs1_prefixes import require_gtin_under_prefix
from gi_trace.registry.models import Product, Trademark
from gi_trace.registry.services import producer_products
from gi_trace.tracing import recall as recalls
from gi_trace.tracing.models import Batch, ProductLine

GTIN_LENGTHS = (8, 12, 13, 14)
# GS1 AI (10) batch/lot and AI (21) serial: up to 20 characters of the GS1 "82-character set".
_AI82_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
# What a producer may enter as a lot number: set 82 less `" % & / < > ?` — the characters a URI path or
# a web page must escape (a `/` splits the Digital Link path, `%` reads as an escape, `?` starts a
# query, `& < > "` are markup), so a lot prints and scans the same everywhere.
LOT_CHARACTERS = "A–Z a–z 0–9 ! ' ( ) * + , - . : ; = _"
_LOT_RE = re.compile(r"^[!'()*+,\-.0-9:;=A-Z_a-z]{1,20}$")
MAX_LOT = 20
PRODUCT_FORMS = ("fresh", "dried", "powder", "juice", "wine", "other")


# --- pure ----------------------------------------------------------------------------------

def is_valid_gtin(text: str) -> bool:
    """True for a GTIN-8/12/13/14 whose check digit is right."""
    return (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) in GTIN_LENGTHS
            and check_digit(text[:-1]) == int(text[-1]))


def gtin14(text: str) -> str:
    """The GTIN-14 form (left-padded with zeros), or ValueError naming what is wrong."""
    value = (text or "").strip().replace(" ", "")
    if not value.isascii() or not value.isdigit():
        raise ValueError("digits")
    if len(value) not in GTIN_LENGTHS:
        raise ValueError("length")
    if check_digit(value[:-1]) != int(value[-1]):
        raise ValueError("check")
    return value.zfill(14)


def gtin_problem(text: str) -> Optional[str]:
    """A user-facing message for what is wrong with a GTIN, or None when it is valid."""
    try:
        gtin14(text)
    except ValueError as exc:
        reason = str(exc)
        if reason == "digits":
            return _("A GTIN has digits only.")
        if reason == "length":
            return _("A GTIN has 8, 12, 13 or 14 digits.")
        value = (text or "").strip().replace(" ", "")
        return _("The check digit of GTIN %(gtin)s is wrong: it should end in %(digit)s.",
                 gtin=value, digit=check_digit(value[:-1]))
    return None


def is_valid_lot(lot: str) -> bool:
    """True when `lot` may be entered as a lot number: 1–20 characters of AI (10)'s set, none that a URI escapes."""
    return isinstance(lot, str) and bool(_LOT_RE.match(lot))


def is_ai82(value: str) -> bool:
    """True when `value` fits the syntax of AI (10) or AI (21): 1–20 characters of GS1 set 82."""
    return isinstance(value, str) and bool(_AI82_RE.match(value))


def lot_problem(lot: str) -> Optional[str]:
    """A user-facing message for a lot number that does not fit AI (10), or None."""
    if len(lot) > MAX_LOT:
        return _("A lot number has at most %(n)s characters (GS1 AI 10).", n=MAX_LOT)
    bad = next((ch for ch in lot if not _LOT_RE.match(ch)), None)
    if bad is not None:
        return _("A lot number may contain only %(chars)s (GS1 AI 10), not “%(char)s”.", chars=LOT_CHARACTERS,
                 char=bad)
    return None


def digital_link_path(gtin: str, lot: str, serial: Optional[str] = None) -> str:
    """The Digital Link path of a lot (and a package): /01/<gtin14>/10/<lot>[/21/<serial>].

    The serial of a package is its own random unit code, never its running number: a number can be
    counted through (1, 2, 3…) and would hand out every package's code of a lot.
    """
    # Set-82 characters outside the URI's unreserved set are percent-encoded (GS1 Digital Link URI syntax).
    path = f"/01/{gtin14(gtin)}" + (f"/10/{quote(lot, safe='')}" if lot is not None else "")
    return path + (f"/21/{quote(serial, safe='')}" if serial is not None else "")


def digital_link_uri(base_url: str, gtin: str, lot: Optional[str] = None, serial: Optional[str] = None) -> str:
    """The full Digital Link URI on this resolver (PUBLIC_BASE_URL is the resolver's domain)."""
    return base_url.rstrip("/") + digital_link_path(gtin, lot, serial)


def element_strings(gtin: str, lot: Optional[str] = None, serial: Optional[str] = None) -> list[str]:
    """The human-readable interpretation, one GS1 element string per AI: ["(01)…", "(10)…", "(21)…"]."""
    return [f"(01){gtin14(gtin)}"] + ([f"(10){lot}"] if lot else []) + ([f"(21){serial}"] if serial else [])


@dataclass(frozen=True)
class LabelIdentity:
    """What a batch's labels carry: its GTIN and lot when it has a product line (else only its trace code)."""

    gtin: Optional[str] = None
    lot: Optional[str] = None

    def url(self, base_url: str, code: str, unit: bool) -> str:
        """The QR content of a batch label (unit=False) or a package's unit code (unit=True).

        A batch label needs the lot (its (10)); a package needs only its serial, since (01)+(21) is unique.
        Without a GTIN — or a lot for a batch label — the label keeps `/t/<code>`.
        """
        if self.gtin and unit:
            return digital_link_uri(base_url, self.gtin, self.lot, code)
        if self.gtin and self.lot:
            return digital_link_uri(base_url, self.gtin, self.lot)
        return f"{base_url.rstrip('/')}/t/{code}"

    def human_readable(self, code: str, unit: bool) -> Optional[list[str]]:
        """The GS1 element strings printed under the QR, or None when the label has no GTIN."""
        if not self.gtin or not (unit or self.lot):
            return None
        return element_strings(self.gtin, self.lot, code if unit else None)


def label_identity(session: Session, batch: Batch) -> LabelIdentity:
    """The GTIN (from the batch's product line) and lot its labels carry; a lot outside AI (10) is left off."""
    line = session.get(ProductLine, batch.product_line_id) if batch.product_line_id else None
    if line is None:
        return LabelIdentity()
    return LabelIdentity(line.gtin14, batch.producer_lot if is_valid_lot(batch.producer_lot) else None)


# --- product lines -------------------------------------------------------------------------

@dataclass
class ProductLineInput:
    """What a producer gives to register a product line."""

    product_slug: str
    gtin: str
    name: str
    trademark_id: Optional[int] = None
    product_form: str = "dried"
    package_kg: Optional[float] = None


def register_product_line(session: Session, user: User, data: ProductLineInput) -> ProductLine:
    """Register a GTIN for one of the producer's product lines (validated, unique)."""
    if user is None or user.role != "producer" or user.producer_id is None:
        raise Forbidden(_("Only a producer account can register product lines."))
    products = {p.slug: p for p in producer_products(session, user.producer_id)}
    product: Optional[Product] = products.get(data.product_slug)
    if product is None:
        raise ValidationError(_("Choose one of the GI products your business is registered for."), field="product")
    problem = gtin_problem(data.gtin)
    if problem:
        raise ValidationError(problem, field="gtin")
    code = gtin14(data.gtin)
    name = (data.name or "").strip()
    if not name:
        raise ValidationError(_("Give the product line a name."), field="name")
    if len(name) > 200:
        raise ValidationError(_("The name is longer than 200 characters."), field="name")
    if data.product_form not in PRODUCT_FORMS:
        raise ValidationError(_("Choose a product form."), field="product_form")
    if data.package_kg is not None and not (0 < data.package_kg <= 100000):
        raise ValidationError(_("The package size must be more than 0 kg."), field="package_kg")
    sizes = [float(v) for v in (product.package_sizes_kg or [])]
    if data.package_kg is not None and sizes and not any(abs(data.package_kg - v) < 0.0005 for v in sizes):
        # A line's size is fixed for its GTIN and used for every unit code: only an approved size.
        raise ValidationError(_("%(kg)s kg is not an approved package size of %(product)s; choose one of %(sizes)s "
                                "kg.", kg=number(data.package_kg), product=product.name_zh,
                                sizes=", ".join(number(v) for v in sizes)), field="package_kg")
    if data.trademark_id is not None:
        mark = session.get(Trademark, data.trademark_id)
        if mark is None or mark.producer_id != user.producer_id:
            raise ValidationError(_("Choose one of your own registered trademarks."), field="trademark_id")
    # Only under the producer's own GS1 company prefixes: no squatting on another firm's GTIN.
    require_gtin_under_prefix(session, user.producer_id, code)
    if session.exec(select(ProductLine.id).where(ProductLine.gtin14 == code)).first() is not None:
        raise Conflict(_("GTIN %(gtin)s is already registered.", gtin=code), field="gtin")
    line = ProductLine(producer_id=user.producer_id, product_id=product.id, gtin14=code, name=name,
                       trademark_id=data.trademark_id, product_form=data.product_form, package_kg=data.package_kg,
                       created_by=user.id)
    session.add(line)
    session.flush()
    return line


def product_lines_of(session: Session, producer_id: int) -> list[ProductLine]:
    return list(session.exec(select(ProductLine).where(ProductLine.producer_id == producer_id)
                             .order_by(ProductLine.id)).all())


def recalled(batch: Batch, info: Optional[recalls.RecallInfo], message: str, field: str) -> Gone:
    """410 for a recalled (or withdrawn) batch, saying why and when; `.batch` and `.recall` for pages."""
    when = info.recalled_at if info is not None else batch.withdrawn_at
    error = Gone(message, field=field, code="recalled", recall={
        "reason": info.reason if info is not None else batch.withdrawn_reason,
        "recalled_at": when.isoformat() if when else None,
        "source_code": info.source_code if info is not None else batch.code})
    error.batch, error.recall = batch, info
    return error

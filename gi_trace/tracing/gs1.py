"""GS1: GTIN check digits (pure), product lines with a GTIN, and the Digital Link resolver.

A GTIN-8, -12, -13 or -14 is one number padded with leading zeros to 14 digits; its last digit is
a mod-10 check digit: from the right, the other digits are weighted 3, 1, 3, 1, …; the check digit
brings the weighted sum up to a multiple of ten. GS1 Digital Link: `/01/<gtin14>/10/<lot>` (and
`/21/<serial>` for one package) names a batch; the resolver redirects (307) to its trace page and
answers 410 for a withdrawn batch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, Gone, NotFound, ValidationError
from gi_trace.formatting import number
from gi_trace.registry.gs1_prefixes import require_gtin_under_prefix
from gi_trace.registry.models import Product, Trademark
from gi_trace.registry.services import producer_products
from gi_trace.tracing import codes
from gi_trace.tracing import recall as recalls
from gi_trace.tracing.models import Batch, ProductLine, UnitCode

GTIN_LENGTHS = (8, 12, 13, 14)
# GS1 AI (10) batch/lot: up to 20 characters of the GS1 "82-character set".
_LOT_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
PRODUCT_FORMS = ("fresh", "dried", "powder", "juice", "wine", "other")


# --- pure ----------------------------------------------------------------------------------

def check_digit(body: str) -> int:
    """The mod-10 check digit for the digits before it (any GTIN length)."""
    if not body.isdigit() or not body.isascii():
        raise ValueError("digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


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
    """True when `lot` fits GS1 AI (10): 1–20 characters of the GS1 character set."""
    return bool(_LOT_RE.match(lot or ""))


def digital_link_path(gtin: str, lot: str, serial: Optional[str] = None) -> str:
    """The Digital Link path of a lot (and a package): /01/<gtin14>/10/<lot>[/21/<serial>].

    The serial of a package is its own random unit code, never its running number: a number can be
    counted through (1, 2, 3…) and would hand out every package's code of a lot.
    """
    from urllib.parse import quote

    path = f"/01/{gtin14(gtin)}/10/{quote(lot, safe='')}"
    return path + (f"/21/{serial}" if serial is not None else "")


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


# --- resolver ------------------------------------------------------------------------------

def resolve(session: Session, gtin: str, lot: str, serial: Optional[str] = None) -> str:
    """The trace code a Digital Link names: NotFound when unknown, Gone when withdrawn.

    The lot is the producer's own lot number of a batch of the GTIN's owner. A batch opened for
    another product line does not answer to this GTIN; a batch with no line (e.g. made by
    processing) answers to any of its producer's GTINs for the same product.
    """
    problem = gtin_problem(gtin)
    if problem:
        raise NotFound(problem, field="gtin")
    line = session.exec(select(ProductLine).where(ProductLine.gtin14 == gtin14(gtin))).first()
    if line is None:
        raise NotFound(_("GTIN %(gtin)s is not registered here.", gtin=gtin14(gtin)), field="gtin")
    batch = session.exec(select(Batch).where(Batch.producer_id == line.producer_id,
                                             Batch.producer_lot == lot)).first()
    if (batch is None or batch.product_id != line.product_id
            or (batch.product_line_id is not None and batch.product_line_id != line.id)):
        raise NotFound(_("Lot %(lot)s of GTIN %(gtin)s is not registered here.", lot=lot[:40], gtin=line.gtin14),
                       field="lot")
    info = recalls.active_recall(session, batch)
    if info is not None or batch.is_withdrawn:
        raise recalled(batch, info, _("Lot %(lot)s has been recalled.", lot=lot[:40]), field="lot")
    if serial is None:
        return batch.code
    # AI (21) is the package's own unit code (random, with its check character). Running numbers are
    # refused like any unknown serial: they can be guessed, and a unit code is the package's secret.
    code = codes.parse(serial)
    unit = session.exec(select(UnitCode).where(UnitCode.code == code)).first() if code else None
    if unit is None or unit.batch_id != batch.id:
        raise NotFound(_("Package %(serial)s of lot %(lot)s is not registered here.", serial=serial[:20],
                         lot=lot[:40]), field="serial")
    return unit.code

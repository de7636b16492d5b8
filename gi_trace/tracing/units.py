"""One code per package (一物一码): unit codes issued under a batch, and finding any trace code.

A producer issues N unit codes for packages of `package_kg` under one of its batches, only while
the batch may carry the GI label (a failed test, withdrawal or an authorisation not in force
refuses it). One request may not label more packages than the batch still holds
(N ≤ available kg ÷ package kg). Labels issued across requests that add up to more than the
batch's quantity are recorded and raise the "labels over quantity" plausibility flag
(以产核标) for regulators. Codes are inserted in bulk (one Core INSERT) and are unique across
batch and unit codes.
"""
from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional, Sequence

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.db import is_postgres
from gi_trace.errors import Conflict, NotFound, Refused, ValidationError
from gi_trace.formatting import number
from gi_trace.registry.models import Product
from gi_trace.tracing import capacity, codes, services
from gi_trace.tracing.models import Batch, ProductLine, UnitCode
from gi_trace.types import utcnow

MAX_UNITS_PER_ISSUE = 20000
MAX_PACKAGE_KG = 100000
_LOOKUP_CHUNK = 500
EPSILON_KG = 0.0005


@dataclass(frozen=True)
class IssuedUnit:
    serial: int
    code: str


def find_code(session: Session, text: str) -> tuple[Batch, Optional[UnitCode]]:
    """The batch (and unit) a trace code names; a malformed code is NotFound before any lookup."""
    code = codes.parse(text or "")
    if code is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=(text or "")[:40]), field="code")
    batch = session.exec(select(Batch).where(Batch.code == code)).first()
    if batch is not None:
        return batch, None
    unit = session.exec(select(UnitCode).where(UnitCode.code == code)).first()
    if unit is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=code), field="code")
    return session.get(Batch, unit.batch_id), unit


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(_("%(field)s must be a number.", field=field), field=field)
    return value


def max_units(available_kg: float, package_kg: float) -> int:
    """How many packages of `package_kg` the kilograms still held can fill (none for a size that is no
    positive finite number: the form shows this beside what was typed, before checking it). Pure."""
    if not math.isfinite(package_kg) or package_kg <= 0:
        return 0
    return max(0, math.floor((available_kg + EPSILON_KG) / package_kg))


def _taken(session: Session, candidates: Sequence[str]) -> set[str]:
    """Which of these codes already name a batch or a unit."""
    found: set[str] = set()
    for i in range(0, len(candidates), _LOOKUP_CHUNK):
        chunk = list(candidates[i:i + _LOOKUP_CHUNK])
        found.update(session.exec(select(Batch.code).where(Batch.code.in_(chunk))).all())
        found.update(session.exec(select(UnitCode.code).where(UnitCode.code.in_(chunk))).all())
    return found


def fresh_codes(session: Session, count: int, generate: Callable[[], str] = codes.new_code) -> list[str]:
    """`count` new codes, distinct from each other and from every stored code (collisions redrawn)."""
    chosen: list[str] = []
    seen: set[str] = set()
    for _attempt in range(10):
        batch = []
        while len(batch) < count - len(chosen):
            code = generate()
            if code not in seen:
                seen.add(code)
                batch.append(code)
        taken = _taken(session, batch)
        chosen.extend(c for c in batch if c not in taken)
        if len(chosen) == count:
            return chosen
    raise Conflict(_("Could not find free codes; try again."))  # pragma: no cover - 64 random bits each


def _same_kg(a: float, b: float) -> bool:
    return abs(a - b) < EPSILON_KG


def _sized_line(session: Session, batch: Batch) -> Optional[ProductLine]:
    """The batch's product line if that fixes the package size."""
    line = session.get(ProductLine, batch.product_line_id) if batch.product_line_id else None
    return line if line is not None and line.package_kg else None


def _approved_sizes(session: Session, batch: Batch) -> tuple[Product, list[float]]:
    """The batch's product and the package sizes (kg) a regulator approved for it; refused when there are none."""
    product = session.get(Product, batch.product_id)
    sizes = [float(v) for v in (product.package_sizes_kg or [])]
    if not sizes:
        raise Refused(_("No package sizes are approved for %(product)s: ask the market regulator to record them, "
                        "or register a product line with its package size.", product=product.name_zh),
                      field="package_kg", code="no_package_sizes")
    return product, sizes


def package_size(session: Session, batch: Batch, requested=None) -> float:
    """The package size (kg) of the batch's labels: its product line's fixed size, else one of the sizes a
    regulator approved for the product. A request may only choose among those, never set its own."""
    line = _sized_line(session, batch)
    if requested is not None:
        requested = round(_number(requested, "package_kg"), 3)
    if line is not None:
        if requested is not None and not _same_kg(requested, line.package_kg):
            raise ValidationError(_("The package size of product line %(gtin)s is fixed at %(kg)s kg.",
                                    gtin=line.gtin14, kg=number(line.package_kg)), field="package_kg")
        return line.package_kg
    product, sizes = _approved_sizes(session, batch)
    if requested is None:
        raise ValidationError(_("Choose a package size: %(sizes)s kg.", sizes=", ".join(number(v) for v in sizes)),
                              field="package_kg")
    if not any(_same_kg(requested, v) for v in sizes):
        shown = number(requested) if 0 < requested <= MAX_PACKAGE_KG else str(requested)[:20]
        raise ValidationError(_("%(kg)s kg is not an approved package size of %(product)s; choose one of %(sizes)s "
                                "kg.", kg=shown, product=product.name_zh,
                                sizes=", ".join(number(v) for v in sizes)), field="package_kg")
    return requested


def labelled_kg(session: Session, batch: Batch) -> float:
    """Kilograms already labelled: unit codes × their package size + printed batch-label copies."""
    units_kg = float(session.exec(select(func.coalesce(func.sum(UnitCode.package_kg), 0.0))
                                  .where(UnitCode.batch_id == batch.id)).one())
    copies_kg = 0.0
    if batch.label_copies:
        copies_kg = batch.label_copies * copy_size(session, batch)
    return units_kg + copies_kg


def copy_size(session: Session, batch: Batch) -> float:
    """The package a copy of the batch code labels: the line's size, else the smallest approved size."""
    line = _sized_line(session, batch)
    if line is not None:
        return line.package_kg
    return min(_approved_sizes(session, batch)[1])


def require_labels_within_quantity(session: Session, batch: Batch, adding_kg: float, what: str) -> None:
    """Refused when labels for `adding_kg` more would label more kilograms than the batch has."""
    already = labelled_kg(session, batch)
    if already + adding_kg > batch.quantity_kg + EPSILON_KG:
        raise Refused(_("Batch %(code)s has %(quantity)s kg, %(labelled)s kg of it already labelled: %(what)s for "
                        "%(adding)s kg more would label more than the batch holds.", code=codes.display(batch.code),
                        quantity=number(batch.quantity_kg), labelled=number(already), what=what,
                        adding=number(adding_kg)), field="count", code="units_over_quantity")


def issue_units(session: Session, user: User, batch: Batch, count, package_kg=None, *,
                generate: Callable[[], str] = codes.new_code, named: Optional[Sequence[str]] = None,
                issued_at: Optional[datetime] = None) -> list[IssuedUnit]:
    """Issue `count` unit codes under the user's own batch, for packages of its fixed or approved size.

    `named`, `issued_at`: the packages' codes and the time of their commissioning where a captured EPCIS
    document gives them (each code well-formed and unused); by default new random codes, issued now."""
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValidationError(_("count must be a whole number."), field="count")
    if not 1 <= count <= MAX_UNITS_PER_ISSUE:
        raise ValidationError(_("Issue between 1 and %(n)s unit codes at a time.", n=MAX_UNITS_PER_ISSUE),
                              field="count")
    package_kg = package_size(session, batch, package_kg)
    services.lock_batch(session, batch)
    services.require_label_allowed(session, batch)
    limit = max_units(batch.available_kg, package_kg)
    if count > limit:
        raise Refused(_("Batch %(code)s holds %(available)s kg: at most %(limit)s packages of %(package)s kg, not "
                        "%(count)s.", code=codes.display(batch.code), available=batch.available_kg, limit=limit,
                        package=package_kg, count=count), field="count", code="units_over_quantity")
    require_labels_within_quantity(session, batch, count * package_kg, _("%(n)s unit codes", n=count))
    start = batch.units_issued + 1
    new = fresh_codes(session, count, generate) if named is None else _named_codes(session, named, count)
    now = issued_at or utcnow()
    rows = [{"code": code, "batch_id": batch.id, "serial": start + i, "package_kg": package_kg, "issued_at": now,
             "issued_by": user.id} for i, code in enumerate(new)]
    # Another request may take one of these codes (or serials) between our check and insert. The refusal
    # must leave the transaction usable (the page shows the form again) without undoing it here: on
    # PostgreSQL a failed statement aborts the transaction, so the insert runs in a SAVEPOINT; SQLite
    # undoes only the failed statement (and pysqlite's SAVEPOINT outside BEGIN would commit on release).
    try:
        with session.begin_nested() if is_postgres(session) else nullcontext():
            session.connection().execute(insert(UnitCode.__table__), rows)
    except IntegrityError:
        raise Conflict(_("The batch was changed by someone else at the same time; please try again.")) from None
    labelled = session.exec(select(func.coalesce(func.sum(UnitCode.package_kg), 0.0))
                            .where(UnitCode.batch_id == batch.id)).one()
    batch.units_issued = start + count - 1
    session.add(batch)
    session.flush()
    if float(labelled) > batch.quantity_kg + EPSILON_KG:
        services.raise_flag(session, batch, "labels_over_quantity", {
            "units": batch.units_issued, "package": package_kg, "quantity": batch.quantity_kg})
    capacity.check_party(session, batch)  # 以产核标 across owners: the party's mark against its traced sources
    return [IssuedUnit(row["serial"], row["code"]) for row in rows]


def _named_codes(session: Session, named: Sequence[str], count: int) -> list[str]:
    """The codes a captured document names for its packages: as many as packages, well-formed, distinct, unused."""
    parsed = [codes.parse(c) if isinstance(c, str) else None for c in named]
    if len(parsed) != count or None in parsed:
        bad = next((str(c)[:40] for c, p in zip(named, parsed) if p is None), "")
        raise ValidationError(_("%(code)s is not a well-formed trace code (13 characters and a check character).",
                                code=bad), field="codes")
    if len(set(parsed)) != len(parsed):
        raise ValidationError(_("A unit code is listed twice."), field="codes")
    taken = _taken(session, parsed)
    if taken:
        raise Conflict(_("Trace code %(code)s is already in use.", code=sorted(taken)[0]), field="codes",
                       code="code_in_use")
    return parsed


def units_of(session: Session, batch: Batch, start: int = 1, limit: int = 1000) -> list[UnitCode]:
    """A batch's unit codes by serial, from `start`."""
    return list(session.exec(select(UnitCode).where(UnitCode.batch_id == batch.id, UnitCode.serial >= start)
                             .order_by(UnitCode.serial).limit(limit)).all())


@dataclass(frozen=True)
class Scans:
    """How often a batch's own code, and its unit codes together, were scanned."""

    batch: int = 0
    units: int = 0


def scan_counts(session: Session, batches: Sequence[Batch]) -> dict[int, Scans]:
    """Scan counts per batch id. The scan area counts scans: the app factory gives its counter to the
    app (`app.extensions["tracing_scan_counts"]`), so tracing never imports scan."""
    if not batches:
        return {}
    return current_app.extensions["tracing_scan_counts"](session, batches)

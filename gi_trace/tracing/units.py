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
from typing import Callable, Optional, Sequence

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.db import is_postgres
from gi_trace.errors import Conflict, NotFound, Refused, ValidationError
from gi_trace.tracing import codes, services
from gi_trace.tracing.models import Batch, ProductLine, UnitCode
from gi_trace.types import utcnow

MAX_UNITS_PER_ISSUE = 20000
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
    """How many packages of `package_kg` the kilograms still held can fill. Pure."""
    if package_kg <= 0:
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


def issue_units(session: Session, user: User, batch: Batch, count, package_kg=None, *,
                generate: Callable[[], str] = codes.new_code) -> list[IssuedUnit]:
    """Issue `count` unit codes for packages of `package_kg` under the user's own batch."""
    if user is None or user.role != "producer" or user.producer_id != batch.producer_id:
        raise NotFound(_("%(code)s is not a registered trace code.", code=batch.code), field="code")
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValidationError(_("count must be a whole number."), field="count")
    if not 1 <= count <= MAX_UNITS_PER_ISSUE:
        raise ValidationError(_("Issue between 1 and %(n)s unit codes at a time.", n=MAX_UNITS_PER_ISSUE),
                              field="count")
    if package_kg is None and batch.product_line_id is not None:
        line = session.get(ProductLine, batch.product_line_id)
        package_kg = line.package_kg if line else None
    if package_kg is None:
        raise ValidationError(_("Give the package size in kg."), field="package_kg")
    package_kg = round(_number(package_kg, "package_kg"), 3)
    if package_kg <= 0:
        raise ValidationError(_("The package size must be more than 0 kg."), field="package_kg")
    services.lock_batch(session, batch)
    services.require_label_allowed(session, batch)
    limit = max_units(batch.available_kg, package_kg)
    if count > limit:
        raise Refused(_("Batch %(code)s holds %(available)s kg: at most %(limit)s packages of %(package)s kg, not "
                        "%(count)s.", code=codes.display(batch.code), available=batch.available_kg, limit=limit,
                        package=package_kg, count=count), field="count", code="units_over_quantity")
    start = batch.units_issued + 1
    new = fresh_codes(session, count, generate)
    now = utcnow()
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
    return [IssuedUnit(row["serial"], row["code"]) for row in rows]


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

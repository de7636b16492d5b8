"""GS1 company prefixes (厂商识别代码): which GTINs a producer may register.

A GTIN is the company prefix, an item reference and a check digit; GS1 (in China: the Article
Numbering Center, 中国物品编码中心) assigns the prefix to one company. Without the prefixes on
record, any producer could register any valid GTIN first and Digital Link scans of that GTIN would go
to it. A regulator records each producer's prefixes (page or import); a producer registers a GTIN
only when its GTIN-13 form (the GTIN-14 without the indicator digit) starts with one of them.
"""
from __future__ import annotations

from typing import Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import or_
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, ValidationError
from gi_trace.registry.models import CompanyPrefix, Producer
from gi_trace.registry.services import require_regulator_scope
from gi_trace.types import utcnow

MIN_LENGTH, MAX_LENGTH = 6, 12


# --- pure ------------------------------------------------------------------------------------

def normalise(text: str) -> str:
    return (text or "").strip().replace(" ", "")


def prefix_problem(text: str) -> Optional[str]:
    """A user-facing message for what is wrong with a company prefix, or None."""
    value = normalise(text)
    if not value.isascii() or not value.isdigit() or not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        return _("A GS1 company prefix has %(min)s to %(max)s digits.", min=MIN_LENGTH, max=MAX_LENGTH)
    return None


def covers(prefix: str, gtin14: str) -> bool:
    """True when a GTIN-14 lies under the company prefix (its GTIN-13 part starts with it)."""
    return len(gtin14) == 14 and gtin14[1:].startswith(prefix)


def overlaps(a: str, b: str) -> bool:
    """Two prefixes overlap when one starts with the other: their GTINs could collide."""
    return a.startswith(b) or b.startswith(a)


# --- services --------------------------------------------------------------------------------

def prefixes_of(session: Session, producer_id: int) -> list[CompanyPrefix]:
    return list(session.exec(select(CompanyPrefix).where(CompanyPrefix.producer_id == producer_id)
                             .order_by(CompanyPrefix.prefix)).all())


def clash(session: Session, prefix: str, producer_id: int) -> Optional[CompanyPrefix]:
    """Another producer's prefix that overlaps this one, if any."""
    candidates = [prefix[:n] for n in range(MIN_LENGTH, len(prefix) + 1)]
    query = select(CompanyPrefix).where(CompanyPrefix.producer_id != producer_id,
                                        or_(CompanyPrefix.prefix.in_(candidates),
                                            CompanyPrefix.prefix.startswith(prefix)))
    return session.exec(query).first()


def add_prefix(session: Session, user: User, producer: Producer, text: str) -> CompanyPrefix:
    """Record a company prefix for a producer (regulators, within their county)."""
    require_regulator_scope(user, producer.county_code)
    problem = prefix_problem(text)
    if problem:
        raise ValidationError(problem, field="prefix")
    prefix = normalise(text)
    existing = session.exec(select(CompanyPrefix).where(CompanyPrefix.prefix == prefix)).first()
    if existing is not None and existing.producer_id == producer.id:
        return existing
    other = existing or clash(session, prefix, producer.id)
    if other is not None:
        raise Conflict(_("GS1 company prefix %(prefix)s overlaps prefix %(other)s of another producer.",
                         prefix=prefix, other=other.prefix), field="prefix")
    row = CompanyPrefix(producer_id=producer.id, prefix=prefix, recorded_at=utcnow(),
                        recorded_by=getattr(user, "id", None))
    session.add(row)
    session.flush()
    return row


def require_gtin_under_prefix(session: Session, producer_id: int, gtin14: str) -> None:
    """ValidationError unless the GTIN lies under one of the producer's recorded prefixes."""
    prefixes: Iterable[str] = [p.prefix for p in prefixes_of(session, producer_id)]
    if any(covers(p, gtin14) for p in prefixes):
        return
    if not prefixes:
        raise ValidationError(_("No GS1 company prefix (厂商识别代码) is recorded for your business yet: ask the "
                                "market regulator to record it, then register the GTIN."), field="gtin")
    raise ValidationError(_("GTIN %(gtin)s is not under your GS1 company prefix (%(prefixes)s).", gtin=gtin14,
                            prefixes=", ".join(sorted(prefixes))), field="gtin")

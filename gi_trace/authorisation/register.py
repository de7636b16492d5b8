"""Lists built from many producers' statuses: the public register and the pending queue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.authorisation import rules
from gi_trace.authorisation.services import statuses
from gi_trace.registry.models import Producer, Product

# What the public sees: users of the mark and those who lost the right, never pending applications.
PUBLIC_STATES = (rules.AUTHORISED, rules.SUSPENDED, rules.REVOKED, rules.EXPIRED)


@dataclass(frozen=True)
class Entry:
    producer: Producer
    product: Product
    status: rules.Status


def public_entries(session: Session, product: Product, on: date, *, county_code: str = "",
                   state: str = "") -> list[Entry]:
    """Producers whose authorisation for `product` is public on `on` (one query for decisions, one for producers)."""
    wanted = (state,) if state in PUBLIC_STATES else PUBLIC_STATES
    found = {pid: s for pid, s in statuses(session, product.id, on).items() if s.state in wanted}
    if not found:
        return []
    query = select(Producer).where(Producer.id.in_(list(found)))
    if county_code:
        query = query.where(Producer.county_code == county_code)
    rows = session.exec(query).all()
    entries = [Entry(p, product, found[p.id]) for p in rows]
    order = {s: i for i, s in enumerate(PUBLIC_STATES)}
    entries.sort(key=lambda e: (order[e.status.state], e.producer.town_code, e.producer.name, e.producer.id))
    return entries


def pending_entries(session: Session, user: User, products: list[Product], on: date) -> list[Entry]:
    """Applications waiting for a decision, within the regulator's county, oldest first."""
    entries: list[Entry] = []
    for product in products:
        waiting = {pid: s for pid, s in statuses(session, product.id, on).items() if s.state == rules.PENDING}
        if not waiting:
            continue
        query = select(Producer).where(Producer.id.in_(list(waiting)))
        county: Optional[str] = user.county_code if user.role == "regulator" else None
        if county:
            query = query.where(Producer.county_code == county)
        entries.extend(Entry(p, product, waiting[p.id]) for p in session.exec(query).all())
    entries.sort(key=lambda e: (e.status.since or on, e.producer.id))
    return entries

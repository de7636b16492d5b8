"""Lists built from many producers' statuses: the public register and the pending queue.

Statuses are derived from decision histories in Python (`services.statuses`, one query), so the
filtering and paging by status happen here over light (id, town, name) rows; only the producers of
the page shown are loaded, which keeps every IN list at page size on any register size.
"""
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


def _producers_by_id(session: Session, ids: list[int]) -> dict[int, Producer]:
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Producer).where(Producer.id.in_(ids))).all()}


def public_list(session: Session, product: Product, on: date, *, county_code: str = "",
                state: str = "") -> list[tuple[int, Product, rules.Status]]:
    """(producer id, product, status) of every public authorisation for `product` on `on`, in display order."""
    wanted = (state,) if state in PUBLIC_STATES else PUBLIC_STATES
    found = {pid: s for pid, s in statuses(session, product.id, on).items() if s.state in wanted}
    if not found:
        return []
    query = select(Producer.id, Producer.town_code, Producer.name)
    if county_code:
        query = query.where(Producer.county_code == county_code)
    order = {s: i for i, s in enumerate(PUBLIC_STATES)}
    rows = sorted((r for r in session.exec(query).all() if r[0] in found),
                  key=lambda r: (order[found[r[0]].state], r[1], r[2], r[0]))
    return [(r[0], product, found[r[0]]) for r in rows]


def pending_list(session: Session, user: User, products: list[Product],
                 on: date) -> list[tuple[int, Product, rules.Status]]:
    """Applications waiting for a decision within the regulator's county, oldest first."""
    county: Optional[str] = user.county_code if user.role == "regulator" else None
    query = select(Producer.id)
    if county:
        query = query.where(Producer.county_code == county)
    in_scope: Optional[set[int]] = None
    waiting: list[tuple[int, Product, rules.Status]] = []
    for product in products:
        found = {pid: s for pid, s in statuses(session, product.id, on).items() if s.state == rules.PENDING}
        if not found:
            continue
        if in_scope is None:
            in_scope = set(session.exec(query).all())
        waiting.extend((pid, product, s) for pid, s in found.items() if pid in in_scope)
    waiting.sort(key=lambda w: (w[2].since or on, w[0], w[1].id))
    return waiting


def entries(session: Session, rows: list[tuple[int, Product, rules.Status]]) -> list[Entry]:
    """Load the producers of (a page of) rows from `public_list` or `pending_list`."""
    producers = _producers_by_id(session, list({pid for pid, _p, _s in rows}))
    return [Entry(producers[pid], product, status) for pid, product, status in rows]

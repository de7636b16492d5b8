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
from gi_trace.authorisation.models import AuthorisationDecision as D
from gi_trace.authorisation.services import statuses
from gi_trace.registry.models import Producer, Product, Trademark

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


# --- for e-commerce platforms and other programs (the public JSON register) -----------------------------

def _latest_approvals(session: Session, product_id: int, on: date, producer_ids: list[int]) -> dict[int, object]:
    """Each producer's latest approval up to `on` (its notice and contract numbers)."""
    if not producer_ids:
        return {}
    rows = session.exec(select(D).where(D.product_id == product_id, D.action == "approve", D.effective_date <= on,
                                        D.producer_id.in_(producer_ids))
                        .order_by(D.effective_date, D.id)).all()
    return {d.producer_id: d for d in rows}


def public_entry(producer: Producer, product: Product, status: rules.Status, approval, trademarks: list[str]) -> dict:
    """One authorised user as the public sees it: households by kind and registry number, never by name."""
    return {
        "name": "农户" if producer.kind == "household" else producer.name,
        "code": producer.code, "gln": producer.gln, "kind": producer.kind,
        "county_code": producer.county_code, "town_code": producer.town_code,
        "status": status.state,
        "since": (status.authorised_since or status.since).isoformat() if (status.authorised_since or status.since)
        else None,
        "until": status.valid_until.isoformat() if status.valid_until else None,
        "notice_no": getattr(approval, "notice_no", "") or "",
        "reference_no": status.reference_no,
        "scope": {"products": [product.slug], "trademarks": trademarks},
    }


def authorised_users_page(session: Session, product: Product, on: date, *, county_code: str = "", offset: int = 0,
                          limit: int = 100) -> dict:
    """The users authorised on `on` (optionally in one county), paged, in the public register's order."""
    rows = public_list(session, product, on, county_code=county_code, state=rules.AUTHORISED)
    page = rows[offset:offset + limit]
    found = entries(session, page)
    ids = [e.producer.id for e in found]
    approvals = _latest_approvals(session, product.id, on, ids)
    marks: dict[int, list[str]] = {}
    if ids:
        for t in session.exec(select(Trademark).where(Trademark.producer_id.in_(ids)).order_by(Trademark.id)).all():
            marks.setdefault(t.producer_id, []).append(t.name)
    return {"product": product.slug, "on": on.isoformat(), "county": county_code or None, "total": len(rows),
            "offset": offset, "limit": limit,
            "items": [public_entry(e.producer, product, e.status, approvals.get(e.producer.id),
                                   marks.get(e.producer.id, [])) for e in found]}


def check(session: Session, uscc: str, product: Product, on: date) -> dict:
    """Whether the business with this credit code may use the product's GI mark on `on`."""
    producer = session.exec(select(Producer).where(Producer.uscc == uscc)).first()
    if producer is None:
        return {"authorised": False, "status": "not_registered", "since": None, "until": None, "uscc": uscc,
                "gln": None, "product": product.slug, "on": on.isoformat()}
    status = statuses(session, product.id, on, [producer.id]).get(producer.id, rules.Status(rules.NONE))
    since = status.authorised_since if status.in_force else status.since
    return {"authorised": status.in_force, "status": status.state, "since": since.isoformat() if since else None,
            "until": status.valid_until.isoformat() if status.valid_until and status.state in (
                rules.AUTHORISED, rules.SUSPENDED, rules.EXPIRED) else None,
            "uscc": uscc, "gln": producer.gln, "product": product.slug, "on": on.isoformat()}


def papers(session: Session, product: Product, on: date, producer_ids: list[int]) -> dict[int, dict]:
    """For a page of the public register: each producer's 公告 no. (latest approval), the coded reason of its
    latest suspension or revocation, and its own trademarks shown beside the GI mark."""
    from gi_trace.authorisation.models import AuthorisationDecision as D
    out = {pid: {"notice_no": "", "reason_code": "", "trademarks": []} for pid in producer_ids}
    if not producer_ids:
        return out
    for d in session.exec(select(D).where(D.product_id == product.id, D.effective_date <= on,
                                          D.producer_id.in_(producer_ids),
                                          D.action.in_(("approve", "suspend", "revoke")))
                          .order_by(D.effective_date, D.id)).all():
        if d.action == "approve":
            out[d.producer_id]["notice_no"] = d.notice_no or ""
        else:
            out[d.producer_id]["reason_code"] = d.reason_code or "other"
    for t in session.exec(select(Trademark).where(Trademark.producer_id.in_(producer_ids)).order_by(Trademark.id)).all():
        out[t.producer_id]["trademarks"].append(t.name)
    return out

"""Users' annual reports on their use of the GI special mark (使用情况报告).

The system drafts each user's report for a year from its records (batches of the product, kilograms
under the mark, unit codes issued, its own trademarks used beside the GI mark); the user confirms it
in the portal, with a note where the records are not the whole story. Regulators see who has not.
"""
from __future__ import annotations

from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import func, select as sa_select
from sqlmodel import Session, or_, select

from gi_trace.accounts.models import User
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.errors import Conflict, Forbidden, ValidationError
from gi_trace.oversight import compliance as c
from gi_trace.oversight.models import UseReport
from gi_trace.oversight.report_figures import year_instants
from gi_trace.registry.models import Producer, ProducerProduct, Product
from gi_trace.timeutil import local_today
from gi_trace.tracing.models import Batch, UnitCode

MAX_NOTE = 2000


def reporting_products(session: Session, producer_id: int) -> list[Product]:
    """The products a user reports on: those it is registered for and those it was approved to use the mark
    for (a trader or processor is authorised without being registered as a grower of the product)."""
    registered = select(ProducerProduct.product_id).where(ProducerProduct.producer_id == producer_id)
    approved = select(AuthorisationDecision.product_id).where(AuthorisationDecision.producer_id == producer_id,
                                                              AuthorisationDecision.action == "approve")
    return list(session.exec(select(Product).where(or_(Product.id.in_(registered), Product.id.in_(approved)))
                             .order_by(Product.id)).all())


def draft(session: Session, producer_id: int, product: Product, year: int) -> dict:
    """The figures of a user's use report for a year, from its records."""
    b, u = Batch.__table__, UnitCode.__table__
    t0, t1 = year_instants(year)
    # A batch belongs to the year of its first event (a season typed in afterwards is still that season's).
    when = func.coalesce(b.c.first_event_at, b.c.created_at)
    where = (b.c.producer_id == producer_id, b.c.product_id == product.id, when >= t0, when < t1)
    batches, kg = session.execute(sa_select(func.count(), func.coalesce(func.sum(b.c.quantity_kg), 0.0))
                                  .where(*where, b.c.kind == "harvest")).one()
    lots = session.execute(sa_select(func.count()).where(*where, b.c.kind != "harvest")).scalar_one()
    units, unit_kg = session.execute(
        sa_select(func.count(), func.coalesce(func.sum(u.c.package_kg), 0.0)).select_from(u.join(b, b.c.id == u.c.batch_id))
        .where(b.c.producer_id == producer_id, b.c.product_id == product.id, u.c.issued_at >= t0,
               u.c.issued_at < t1)).one()
    marks = sorted({name for (name,) in session.execute(
        sa_select(b.c.trademark_name).where(*where, b.c.trademark_name != "").distinct()).all()})
    forms = sorted({form for (form,) in session.execute(sa_select(b.c.product_form).where(*where).distinct()).all()
                    if form})
    return {"product": product.slug, "year": year, "harvest_batches": int(batches),
            "harvest_kg": round(float(kg), 3), "other_batches": int(lots), "unit_codes": int(units),
            "kg_under_the_mark": round(float(unit_kg), 3), "product_forms": forms, "trademarks": marks}


def confirm(session: Session, user: User, product: Product, year: int, note: str = "") -> UseReport:
    """The user confirms its report for the year (the figures drafted now are what it confirms)."""
    if user.role != "producer" or user.producer_id is None:
        raise Forbidden(_("Only the user itself confirms its use report."))
    if len(note or "") > MAX_NOTE:
        raise ValidationError(_("Longer than %(n)s characters.", n=MAX_NOTE), field="note")
    existing = session.exec(select(UseReport).where(UseReport.producer_id == user.producer_id,
                                                    UseReport.product_id == product.id,
                                                    UseReport.year == year)).first()
    if existing is not None:
        raise Conflict(_("The use report for %(year)s is already confirmed.", year=year))
    report = UseReport(producer_id=user.producer_id, product_id=product.id, year=year,
                       figures=draft(session, user.producer_id, product, year), note=(note or "").strip(),
                       confirmed_by=user.id)
    session.add(report)
    session.flush()
    return report


def mine(session: Session, producer_id: int, product_id: int) -> dict[int, UseReport]:
    return {r.year: r for r in session.exec(select(UseReport).where(UseReport.producer_id == producer_id,
                                                                    UseReport.product_id == product_id)).all()}


def status(session: Session, product: Product, year: int, county_code: Optional[str] = None) -> dict:
    """Users authorised at any time in the year, and which of them have confirmed their report. Every user
    reports, a trader or processor too: not only the growers that the share of users counts."""
    start_end = c.default_as_of(year, local_today())
    p = Producer.__table__
    members = sa_select(p.c.id).where(c.on_register(start_end))
    if county_code is not None:
        members = members.where(p.c.county_code == county_code)
    members = members.subquery("members")
    on_first = c.authorised_subquery(product.id, start_end.replace(month=1, day=1))
    at_end = c.authorised_subquery(product.id, start_end)
    ids = sa_select(on_first.c.producer_id).union(sa_select(at_end.c.producer_id)).subquery("users")
    users = session.execute(sa_select(p.c.id, p.c.name, p.c.uscc, p.c.registry_no, p.c.county_code, p.c.kind)
                            .join(members, members.c.id == p.c.id).join(ids, ids.c.producer_id == p.c.id)
                            .order_by(p.c.county_code, p.c.id)).all()
    done = {r.producer_id: r for r in session.exec(select(UseReport).where(UseReport.product_id == product.id,
                                                                           UseReport.year == year)).all()}
    rows = [{"producer_id": r[0], "name": r[1], "code": r[2] or r[3] or "", "county_code": r[4], "kind": r[5],
             "confirmed": r[0] in done, "note": done[r[0]].note if r[0] in done else ""} for r in users]
    return {"users": len(rows), "received": sum(r["confirmed"] for r in rows),
            "missing": [r for r in rows if not r["confirmed"]], "rows": rows}

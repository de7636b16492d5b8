"""The compliance queries: validated parameters, who counts as authorised on a date (SQL), and the
per-county tallies from one aggregate query."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, literal, or_, select
from sqlmodel import Session

from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.errors import Forbidden, ValidationError
from gi_trace.oversight.compliance.shares import (
    FIRST_YEAR,
    PROTECTED_AREA,
    Official,
    Tally,
    assemble,
    default_as_of,
)
from gi_trace.registry.models import OutputRecord, Producer, ProducerProduct, Product, ProductTown, Region, SectorTotal
from gi_trace.registry.services import get_product
from gi_trace.timeutil import local_today, parse_iso_date



@dataclass(frozen=True)
class Query:
    """Validated parameters of a compliance request."""

    product: Product
    year: int
    county_code: Optional[str]
    as_of: date


def parse_query(session: Session, product_slug: str, year, county_code: Optional[str] = None,
                as_of=None, *, today: Optional[date] = None) -> Query:
    """Check a request's parameters (strings from a URL or CLI are fine); ValidationError names the field."""
    if not (product_slug or "").strip():
        raise ValidationError(_("Choose a product."), field="product")
    product = get_product(session, product_slug.strip())
    today = today or local_today()
    try:
        year = int(str(year).strip())
    except (TypeError, ValueError):
        raise ValidationError(_("The year must be a number like 2025."), field="year") from None
    if not FIRST_YEAR <= year <= today.year:
        raise ValidationError(_("The year must be between %(first)s and %(last)s.", first=FIRST_YEAR,
                                last=today.year), field="year")
    county_code = (county_code or "").strip() or None
    if county_code is not None:
        region = session.get(Region, county_code)
        if region is None or region.level != "county":
            raise ValidationError(_("Unknown county code %(code)s.", code=county_code), field="county")
    if as_of in (None, ""):
        as_of_date = default_as_of(year, today)
    elif isinstance(as_of, date):
        as_of_date = as_of
    else:
        try:
            as_of_date = parse_iso_date(str(as_of))
        except ValueError:
            raise ValidationError(_("The date must be written YYYY-MM-DD."), field="as_of") from None
    if as_of_date.year < FIRST_YEAR or as_of_date.year > today.year + 1:
        raise ValidationError(_("The date is out of range."), field="as_of")
    return Query(product, year, county_code, as_of_date)


def scoped_county(user, county_code: Optional[str]) -> Optional[str]:
    """The county a user may ask about: a county regulator only its own (Forbidden otherwise)."""
    if user is not None and user.role == "regulator" and user.county_code is not None:
        if county_code not in (None, "", user.county_code):
            raise Forbidden(_("You can only see your own county."), field="county")
        return user.county_code
    return county_code or None


def _last_decisions(product_id: int, as_of: date):
    """SQL: per producer, its last decision up to `as_of` and its latest approval (rn = 1 rows)."""
    d = AuthorisationDecision.__table__
    order = (d.c.effective_date.desc(), d.c.id.desc())
    last = (select(d.c.producer_id, d.c.action, d.c.effective_date,
                   func.row_number().over(partition_by=d.c.producer_id, order_by=order).label("rn"))
            .where(d.c.product_id == product_id, d.c.effective_date <= as_of).subquery("last_decision"))
    approval = (select(d.c.producer_id, d.c.valid_until,
                       func.row_number().over(partition_by=d.c.producer_id, order_by=order).label("rn"))
                .where(d.c.product_id == product_id, d.c.action == "approve", d.c.effective_date <= as_of)
                .subquery("last_approval"))
    return last, approval


def authorised_subquery(product_id: int, as_of: date):
    """Producer ids whose authorisation for the product is in force on `as_of`, as SQL.

    Decisions are checked against the state machine when recorded, so the state on a date is the
    result of the last decision up to it (same-day ties: the later record): in force when that is
    an approval or a reinstatement and the latest approval has no expiry before the date.
    """
    last, approval = _last_decisions(product_id, as_of)
    return (select(last.c.producer_id)
            .join(approval, and_(approval.c.producer_id == last.c.producer_id, approval.c.rn == 1))
            .where(last.c.rn == 1, last.c.action.in_(("approve", "reinstate")),
                   or_(approval.c.valid_until.is_(None), approval.c.valid_until >= as_of))
            .subquery("authorised"))


def on_register(as_of: date):
    """SQL condition: the producer is on the register on `as_of` (registered by then, not yet deregistered)."""
    p = Producer.__table__
    return and_(or_(p.c.registered_on.is_(None), p.c.registered_on <= as_of),
                or_(p.c.deregistered_on.is_(None), p.c.deregistered_on > as_of))


def region_producers(product_id: int, county_code: Optional[str], as_of: Optional[date] = None):
    """Producers of the region as SQL: registered for the product (on `as_of`), base town protected (in the county)."""
    p, pp, pt = Producer.__table__, ProducerProduct.__table__, ProductTown.__table__
    query = (select(p.c.id, p.c.county_code)
             .join(pp, and_(pp.c.producer_id == p.c.id, pp.c.product_id == product_id))
             .join(pt, and_(pt.c.product_id == product_id, pt.c.town_code == p.c.town_code)))
    if as_of is not None:
        query = query.where(on_register(as_of))
    if county_code is not None:
        query = query.where(p.c.county_code == county_code)
    return query


def _correlated_state(product_id: int, as_of: date, producer_id_col):
    """Per-producer scalar subqueries: last decision's action and date, latest approval's expiry test.

    SQLite walks the (producer, product, date, id) index backwards once per producer, which beats
    sorting every decision for a window function; PostgreSQL prefers the window (see tallies_sql).
    """
    d1 = AuthorisationDecision.__table__.alias("d_last")
    d2 = AuthorisationDecision.__table__.alias("d_approval")
    window = (d1.c.producer_id == producer_id_col, d1.c.product_id == product_id, d1.c.effective_date <= as_of)
    order = (d1.c.effective_date.desc(), d1.c.id.desc())
    last_action = select(d1.c.action).where(*window).order_by(*order).limit(1).scalar_subquery()
    last_date = select(d1.c.effective_date).where(*window).order_by(*order).limit(1).scalar_subquery()
    approval = (select(d2.c.valid_until).where(d2.c.producer_id == producer_id_col, d2.c.product_id == product_id,
                                              d2.c.action == "approve", d2.c.effective_date <= as_of)
                .order_by(d2.c.effective_date.desc(), d2.c.id.desc()).limit(1).scalar_subquery())
    # 1 when an approval exists and has no expiry before the date; NULL when there is no approval.
    approval_ok = (select(case((d2.c.valid_until.is_(None), 1), (d2.c.valid_until >= as_of, 1), else_=0))
                   .where(d2.c.producer_id == producer_id_col, d2.c.product_id == product_id,
                          d2.c.action == "approve", d2.c.effective_date <= as_of)
                   .order_by(d2.c.effective_date.desc(), d2.c.id.desc()).limit(1).scalar_subquery())
    return last_action, last_date, approval, approval_ok


def _prefers_window(session: Session) -> bool:
    return session.get_bind().dialect.name != "sqlite"


def tallies_sql(session: Session, product_id: int, year: int, as_of: date,
                county_code: Optional[str] = None) -> dict[str, Tally]:
    """Per-county tallies from one aggregate query."""
    o = OutputRecord.__table__
    if _prefers_window(session):
        members = region_producers(product_id, county_code, as_of).subquery("members")
        authorised = authorised_subquery(product_id, as_of)
        is_authorised = authorised.c.producer_id.is_not(None)
        value = func.coalesce(o.c.output_value_yuan, literal(0.0))
        query = (select(members.c.county_code,
                        func.count(),
                        func.count(authorised.c.producer_id),
                        func.coalesce(func.sum(o.c.output_value_yuan), 0.0),
                        func.coalesce(func.sum(case((is_authorised, value), else_=literal(0.0))), 0.0))
                 .select_from(members)
                 .outerjoin(authorised, authorised.c.producer_id == members.c.id)
                 .outerjoin(o, and_(o.c.producer_id == members.c.id, o.c.product_id == product_id,
                                    o.c.year == year))
                 .group_by(members.c.county_code))
        tallies = {row[0]: Tally(int(row[1]), int(row[2] or 0), float(row[3]), float(row[4]))
                   for row in session.execute(query).all()}
        for code, (n, in_year_value) in in_year_tallies(session, product_id, year, as_of, county_code).items():
            tally = tallies.setdefault(code, Tally())
            tally.authorised_in_year, tally.output_value_authorised_in_year = n, in_year_value
        return tallies
    else:
        p = Producer.__table__
        last_action, last_date, valid_until, approval_ok = _correlated_state(product_id, as_of, p.c.id)
        flag = case((and_(last_action.in_(("approve", "reinstate")), func.coalesce(approval_ok, 0) == 1), 1),
                    else_=0)
        # MATERIALIZED: the flag is used twice below; without it SQLite would run the subqueries twice.
        start = date(year, 1, 1)
        # In force at some time in the year (CASE is lazy, cheapest tests first): in force on the date; or,
        # when nothing was decided since 1 January, approved and expired within the year; else the full test.
        in_year = (case((flag == 1, 1),
                        (last_action.is_(None), 0),
                        (last_date < start, case((and_(last_action.in_(("approve", "reinstate")),
                                                       valid_until >= start), 1), else_=0)),
                        (in_force_in_period(product_id, start, as_of, p.c.id), 1), else_=0)
                   if as_of >= start else literal(0))
        members = (region_producers(product_id, county_code, as_of)
                   .add_columns(o.c.output_value_yuan.label("value"), flag.label("authorised"),
                                in_year.label("in_year"))
                   .outerjoin(o, and_(o.c.producer_id == p.c.id, o.c.product_id == product_id, o.c.year == year))
                   .cte("members").prefix_with("MATERIALIZED"))
        query = (select(members.c.county_code, func.count(), func.sum(members.c.authorised),
                        func.coalesce(func.sum(members.c.value), 0.0),
                        func.coalesce(func.sum(case((members.c.authorised == 1, members.c.value), else_=None)), 0.0),
                        func.sum(members.c.in_year),
                        func.coalesce(func.sum(case((members.c.in_year == 1, members.c.value), else_=None)), 0.0))
                 .group_by(members.c.county_code))
    return {row[0]: Tally(int(row[1]), int(row[2] or 0), float(row[3]), float(row[4]), int(row[5] or 0),
                          float(row[6]))
            for row in session.execute(query).all()}


def in_force_in_period(product_id: int, start: date, end: date, producer_id_col):
    """SQL condition: the producer's authorisation was in force on at least one day from `start` to `end`.

    Decisions follow the state machine, so that is when an approval or reinstatement up to `end` began a
    run of authorisation that no later decision ended on or before the run's first day in the period
    (`start`, or the decision's own day: one undone the same day never took effect), and whose approval
    had not expired by then. One index walk over the producer's decisions, no window over all of them.
    """
    ad = AuthorisationDecision.__table__
    d, n, a = ad.alias("d_run"), ad.alias("d_next"), ad.alias("d_approval")
    first_day = case((d.c.effective_date > start, d.c.effective_date), else_=literal(start, type_=d.c.effective_date.type))
    ended = (select(n.c.id).where(n.c.producer_id == d.c.producer_id, n.c.product_id == product_id,
                                  or_(n.c.effective_date > d.c.effective_date,
                                      and_(n.c.effective_date == d.c.effective_date, n.c.id > d.c.id)),
                                  n.c.effective_date <= first_day).exists())
    governing = (select(a.c.valid_until).where(a.c.producer_id == d.c.producer_id, a.c.product_id == product_id,
                                               a.c.action == "approve",
                                               or_(a.c.effective_date < d.c.effective_date,
                                                   and_(a.c.effective_date == d.c.effective_date, a.c.id < d.c.id)))
                 .order_by(a.c.effective_date.desc(), a.c.id.desc()).limit(1).scalar_subquery())
    valid_until = case((d.c.action == "approve", d.c.valid_until), else_=governing)
    return (select(d.c.id).where(d.c.producer_id == producer_id_col, d.c.product_id == product_id,
                                 d.c.action.in_(("approve", "reinstate")), d.c.effective_date <= end, ~ended,
                                 or_(valid_until.is_(None), valid_until >= first_day)).exists())


def in_year_tallies(session: Session, product_id: int, year: int, as_of: date,
                    county_code: Optional[str] = None) -> dict[str, tuple[int, float]]:
    """Per county: producers of the region (on `as_of`) authorised at any time from 1 January to `as_of`,
    and their output value in the year."""
    start = date(year, 1, 1)
    if as_of < start:
        return {}
    p, o = Producer.__table__, OutputRecord.__table__
    members = (region_producers(product_id, county_code, as_of)
               .where(in_force_in_period(product_id, start, as_of, p.c.id)).subquery("members"))
    query = (select(members.c.county_code, func.count(), func.coalesce(func.sum(o.c.output_value_yuan), 0.0))
             .select_from(members)
             .outerjoin(o, and_(o.c.producer_id == members.c.id, o.c.product_id == product_id, o.c.year == year))
             .group_by(members.c.county_code))
    return {row[0]: (int(row[1]), float(row[2])) for row in session.execute(query).all()}


def officials(session: Session, product_id: int, year: int) -> dict[Optional[str], Official]:
    """Official sector totals for the product and year, by county (None = the whole city)."""
    s = SectorTotal.__table__
    rows = session.execute(select(s.c.county_code, s.c.producers_total, s.c.output_value_yuan, s.c.source,
                                  s.c.scope)
                           .where(s.c.product_id == product_id, s.c.year == year)).all()
    return {row[0]: Official(row[1], row[2], row[3] or "", row[4] or PROTECTED_AREA) for row in rows}


def product_counties(session: Session, product_id: int, county_code: Optional[str] = None) -> list[tuple[str, str]]:
    """(code, name) of the counties holding the product's protected towns (or just the one asked for)."""
    r, pt = Region.__table__, ProductTown.__table__
    if county_code is not None:
        region = session.get(Region, county_code)
        return [(county_code, region.name_zh if region else county_code)]
    county = r.alias("county")
    rows = session.execute(select(county.c.code, county.c.name_zh).distinct()
                           .select_from(pt).join(r, r.c.code == pt.c.town_code)
                           .join(county, county.c.code == r.c.parent_code)
                           .where(pt.c.product_id == product_id).order_by(county.c.code)).all()
    return [(row[0], row[1]) for row in rows]


def compliance(session: Session, product: Product, year: int, county_code: Optional[str] = None,
               as_of: Optional[date] = None) -> dict:
    """The 专栏4 result for a product and year (optionally one county) as of a date, with `by_county`."""
    as_of = as_of or default_as_of(year, local_today())
    tallies = tallies_sql(session, product.id, year, as_of, county_code)
    counties = product_counties(session, product.id, county_code)
    known = {code for code, _name in counties}
    extra = sorted(code for code in tallies if code not in known)
    if extra:  # producers in a protected town filed under another county: show them, never hide them
        names = dict(session.execute(select(Region.code, Region.name_zh).where(Region.code.in_(extra))).all())
        counties = counties + [(code, names.get(code, code)) for code in extra]
    return assemble(product=product.slug, product_name=product.name_zh, year=year, county_code=county_code,
                    as_of=as_of, target=product.target_share, tallies=tallies,
                    officials=officials(session, product.id, year), counties=counties)


def compliance_for(session: Session, query: Query) -> dict:
    """compliance() for validated parameters."""
    return compliance(session, query.product, query.year, query.county_code, query.as_of)


def series(session: Session, product: Product, years: Iterable[int], county_code: Optional[str] = None,
           today: Optional[date] = None) -> list[dict]:
    """The compliance result for several years (each as of its default date), oldest first."""
    today = today or local_today()
    return [compliance(session, product, y, county_code, default_as_of(y, today)) for y in sorted(years)]

"""The two shares of the city plan's 专栏4: GI special-mark users among the region's producers, and their output value.

Definitions (issue 5), for a product, a year Y, optionally one county, as of a date:

- producers of the region: producers registered for the product (ProducerProduct) whose registered
  base town is one of the product's protected towns (and in the county, when one is given);
- authorised user: a producer of the region whose authorisation for the product is in force on the
  as-of date (authorisation.rules.status_on: approved, not suspended, revoked or past its expiry);
- user share = authorised users / producers of the region, or / the official sector total of
  producers for that product, year and area when one exists;
- output share = output value in Y of the authorised users / output value in Y of all producers of
  the region, or / the official sector output value when one exists;
- each share is compared with the product's target (60% by default).

The area of the whole-city figure is the city: only a city-wide official total (county empty)
replaces its denominator; a county's official total replaces only that county's denominator.

The pure part (tallies -> result, and a reference tally from plain facts) has no database; the
service `compliance()` gets the tallies from one aggregate query per call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import itemgetter
from typing import Iterable, Optional, Sequence

from flask_babel import gettext as _
from sqlalchemy import String, and_, case, cast, func, literal, or_, select, type_coerce
from sqlmodel import Session

from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.errors import ValidationError
from gi_trace.registry.models import OutputRecord, Producer, ProducerProduct, Product, ProductTown, Region, SectorTotal
from gi_trace.timeutil import local_today

REGISTER = "register"
OFFICIAL = "official"
FIRST_YEAR = 2000

# Why a producer counts or does not (drill-down).
COUNTS = "counts"
OUTSIDE_TOWNS = "outside_towns"
NO_AUTHORISATION = "no_authorisation"
PENDING = "pending"
REJECTED = "rejected"
SUSPENDED = "suspended"
REVOKED = "revoked"
EXPIRED = "expired"
NO_OUTPUT = "no_output"
_STATE_REASON = {
    rules.NONE: NO_AUTHORISATION,
    rules.PENDING: PENDING,
    rules.REJECTED: REJECTED,
    rules.SUSPENDED: SUSPENDED,
    rules.REVOKED: REVOKED,
    rules.EXPIRED: EXPIRED,
}


# --- pure rules -------------------------------------------------------------------------------

@dataclass
class Tally:
    """What the register says about one area: producers of the region, authorised users, output values."""

    producers: int = 0
    authorised: int = 0
    output_value: float = 0.0
    output_value_authorised: float = 0.0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.producers + other.producers, self.authorised + other.authorised,
                     self.output_value + other.output_value,
                     self.output_value_authorised + other.output_value_authorised)


@dataclass(frozen=True)
class Official:
    """An official sector total for one area (either figure may be missing)."""

    producers_total: Optional[int] = None
    output_value: Optional[float] = None
    source: str = ""


def share(numerator: float, denominator: Optional[float]) -> Optional[float]:
    """A fraction rounded to 4 places; None when there is nothing to divide by."""
    if not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 4)


def meets(value: Optional[float], target: float) -> bool:
    """A share meets the target when its rounded value reaches it (what is shown is what is judged)."""
    return value is not None and value >= round(target, 4)


def default_as_of(year: int, today: date) -> date:
    """31 December of the year, or today while that year is still running."""
    return min(date(year, 12, 31), today)


def area_figures(tally: Tally, official: Optional[Official], target: float) -> dict:
    """The shares of one area from its register tally and its official total, if any."""
    official = official or Official()
    if official.producers_total is not None:
        producers_total, producers_src = official.producers_total, {"kind": OFFICIAL, "source": official.source}
    else:
        producers_total, producers_src = tally.producers, {"kind": REGISTER, "source": ""}
    if official.output_value is not None:
        output_total, output_src = float(official.output_value), {"kind": OFFICIAL, "source": official.source}
    else:
        output_total, output_src = tally.output_value, {"kind": REGISTER, "source": ""}
    user_share = share(tally.authorised, producers_total)
    output_share = share(tally.output_value_authorised, output_total)
    return {
        "producers_registered": tally.producers,
        "producers_total": producers_total,
        "producers_authorised": tally.authorised,
        "user_share": user_share,
        "output_value_registered": round(tally.output_value, 2),
        "output_value_total": round(output_total, 2),
        "output_value_authorised": round(tally.output_value_authorised, 2),
        "output_share": output_share,
        "target": round(target, 4),
        "user_share_met": meets(user_share, target),
        "output_share_met": meets(output_share, target),
        "denominator_source": {"producers": producers_src, "output_value": output_src},
    }


def assemble(*, product: str, product_name: str, year: int, county_code: Optional[str], as_of: date, target: float,
             tallies: dict[str, Tally], officials: dict[Optional[str], Official],
             counties: Sequence[tuple[str, str]]) -> dict:
    """The compliance result from per-county tallies and official totals (key None = the city).

    `counties` lists (code, name) of the counties shown in `by_county`, in order.
    """
    by_county = []
    for code, name in counties:
        row = {"county_code": code, "county_name": name}
        row.update(area_figures(tallies.get(code, Tally()), officials.get(code), target))
        by_county.append(row)
    if county_code is None:
        whole = Tally()
        for tally in tallies.values():
            whole = whole + tally
        top = area_figures(whole, officials.get(None), target)
    else:
        top = area_figures(tallies.get(county_code, Tally()), officials.get(county_code), target)
    result = {"product": product, "product_name": product_name, "year": year, "county_code": county_code,
              "as_of": as_of.isoformat()}
    result.update(top)
    result["by_county"] = by_county
    return result


@dataclass
class ProducerFacts:
    """One registered producer of the product, as plain data (reference computation and tests)."""

    id: int
    county_code: str
    town_code: str
    decisions: list = field(default_factory=list)  # objects with action, effective_date, valid_until, id
    outputs: dict[int, float] = field(default_factory=dict)  # year -> output value


def reasons(in_region: bool, status: rules.Status, has_output: bool) -> list[str]:
    """Why a producer counts or not: first whether it is in the region and authorised, then output."""
    if not in_region:
        return [OUTSIDE_TOWNS]
    found = [COUNTS if status.in_force else _STATE_REASON.get(status.state, NO_AUTHORISATION)]
    if not has_output:
        found.append(NO_OUTPUT)
    return found


def tally_facts(producers: Iterable[ProducerFacts], towns: set[str], year: int, as_of: date,
                county_code: Optional[str] = None, product_id: Optional[int] = None) -> dict[str, Tally]:
    """Reference tallies per county straight from the definitions (status_on per producer).

    Decisions carrying a `product_id` other than `product_id` (when given) are another product's.
    """
    tallies: dict[str, Tally] = {}
    for p in producers:
        if p.town_code not in towns or (county_code is not None and p.county_code != county_code):
            continue
        value = float(p.outputs.get(year, 0.0))
        mine = [d for d in p.decisions if product_id is None or getattr(d, "product_id", product_id) == product_id]
        in_force = rules.status_on(mine, as_of).in_force
        tallies[p.county_code] = tallies.get(p.county_code, Tally()) + Tally(
            1, int(in_force), value, value if in_force else 0.0)
    return tallies


# --- the service ------------------------------------------------------------------------------

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
    from gi_trace.registry.services import get_product
    from gi_trace.timeutil import parse_iso_date

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
    from gi_trace.errors import Forbidden

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


def state_from_last(last_action: Optional[str], last_date: Optional[date], valid_until: Optional[date],
                    as_of: date) -> tuple[str, Optional[date]]:
    """(state, since) on `as_of` from the last decision and the latest approval's expiry (valid histories)."""
    from datetime import timedelta

    if last_action is None:
        return rules.NONE, None
    if last_action in ("approve", "reinstate", "suspend") and valid_until is not None and as_of > valid_until:
        return rules.EXPIRED, valid_until + timedelta(days=1)
    state = {"apply": rules.PENDING, "approve": rules.AUTHORISED, "reinstate": rules.AUTHORISED,
             "suspend": rules.SUSPENDED, "reject": rules.REJECTED, "revoke": rules.REVOKED}[last_action]
    return state, last_date


def region_producers(product_id: int, county_code: Optional[str]):
    """Producers of the region as SQL: registered for the product, base town protected (and in the county)."""
    p, pp, pt = Producer.__table__, ProducerProduct.__table__, ProductTown.__table__
    query = (select(p.c.id, p.c.county_code)
             .join(pp, and_(pp.c.producer_id == p.c.id, pp.c.product_id == product_id))
             .join(pt, and_(pt.c.product_id == product_id, pt.c.town_code == p.c.town_code)))
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
        members = region_producers(product_id, county_code).subquery("members")
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
    else:
        p = Producer.__table__
        last_action, _last_date, _valid, approval_ok = _correlated_state(product_id, as_of, p.c.id)
        flag = case((and_(last_action.in_(("approve", "reinstate")), func.coalesce(approval_ok, 0) == 1), 1),
                    else_=0)
        # MATERIALIZED: the flag is used twice below; without it SQLite would run the subqueries twice.
        members = (region_producers(product_id, county_code)
                   .add_columns(o.c.output_value_yuan.label("value"), flag.label("authorised"))
                   .outerjoin(o, and_(o.c.producer_id == p.c.id, o.c.product_id == product_id, o.c.year == year))
                   .cte("members").prefix_with("MATERIALIZED"))
        query = (select(members.c.county_code, func.count(), func.sum(members.c.authorised),
                        func.coalesce(func.sum(members.c.value), 0.0),
                        func.coalesce(func.sum(case((members.c.authorised == 1, members.c.value), else_=None)), 0.0))
                 .group_by(members.c.county_code))
    return {row[0]: Tally(int(row[1]), int(row[2] or 0), float(row[3]), float(row[4]))
            for row in session.execute(query).all()}


def officials(session: Session, product_id: int, year: int) -> dict[Optional[str], Official]:
    """Official sector totals for the product and year, by county (None = the whole city)."""
    s = SectorTotal.__table__
    rows = session.execute(select(s.c.county_code, s.c.producers_total, s.c.output_value_yuan, s.c.source)
                           .where(s.c.product_id == product_id, s.c.year == year)).all()
    return {row[0]: Official(row[1], row[2], row[3] or "") for row in rows}


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


# --- drill-down -------------------------------------------------------------------------------

def reason_label(reason: str) -> str:
    """The user-facing words for a drill-down reason."""
    labels = {
        COUNTS: _("authorised on the date"),
        OUTSIDE_TOWNS: _("outside the protected towns"),
        NO_AUTHORISATION: _("no authorisation"),
        PENDING: _("application pending"),
        REJECTED: _("application rejected"),
        SUSPENDED: _("suspended on the date"),
        REVOKED: _("revoked"),
        EXPIRED: _("expired"),
        NO_OUTPUT: _("no output record for the year"),
    }
    return labels.get(reason, reason)


DRILLDOWN_FILTERS = ("authorised", "not_authorised", "outside")


def drilldown(session: Session, product: Product, year: int, county_code: Optional[str] = None,
              as_of: Optional[date] = None, *, offset: int = 0, limit: Optional[int] = None,
              only: Optional[str] = None) -> dict:
    """Every producer registered for the product (in the county), with why it counts or not.

    `only` narrows to authorised users, producers of the region not authorised, or producers
    outside the protected towns. Returns {"total": n, "rows": [...]}; each row has the producer,
    its status on the date, output value in the year, whether it counts among the producers /
    authorised users, and its reasons.
    """
    from gi_trace.authorisation.services import statuses

    if only is not None and only not in DRILLDOWN_FILTERS:
        raise ValidationError(_("Unknown filter."), field="only")
    as_of = as_of or default_as_of(year, local_today())
    p, pp, pt, o = Producer.__table__, ProducerProduct.__table__, ProductTown.__table__, OutputRecord.__table__
    authorised = authorised_subquery(product.id, as_of)
    base = (select(p.c.id)
            .join(pp, and_(pp.c.producer_id == p.c.id, pp.c.product_id == product.id))
            .outerjoin(pt, and_(pt.c.product_id == product.id, pt.c.town_code == p.c.town_code)))
    if county_code is not None:
        base = base.where(p.c.county_code == county_code)
    if only == "outside":
        base = base.where(pt.c.town_code.is_(None))
    elif only is not None:
        base = base.where(pt.c.town_code.is_not(None))
        in_force = p.c.id.in_(select(authorised.c.producer_id))
        base = base.where(in_force if only == "authorised" else ~in_force)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    ids = base.order_by(p.c.county_code, p.c.town_code, p.c.id).offset(offset)
    if limit is not None:
        ids = ids.limit(limit)
    page = ids.subquery("page")
    query = (select(p.c.id, p.c.name, p.c.uscc, p.c.registry_no, p.c.county_code, p.c.town_code,
                    pt.c.town_code.label("protected"), o.c.output_value_yuan)
             .join(page, page.c.id == p.c.id)
             .outerjoin(pt, and_(pt.c.product_id == product.id, pt.c.town_code == p.c.town_code))
             .outerjoin(o, and_(o.c.producer_id == p.c.id, o.c.product_id == product.id, o.c.year == year))
             .order_by(p.c.county_code, p.c.town_code, p.c.id))
    rows = session.execute(query).all()
    status_by_id = (statuses(session, product.id, as_of, [r.id for r in rows]) if limit is not None and limit <= 5000
                    else statuses(session, product.id, as_of))
    out = []
    for r in rows:
        status = status_by_id.get(r.id, rules.Status(rules.NONE))
        in_region = r.protected is not None
        has_output = r.output_value_yuan is not None
        why = reasons(in_region, status, has_output)
        out.append({
            "producer_id": r.id, "name": r.name, "code": r.uscc or r.registry_no or "",
            "county_code": r.county_code, "town_code": r.town_code, "in_region": in_region,
            "state": status.state, "since": status.since.isoformat() if status.since else None,
            "valid_until": status.valid_until.isoformat() if status.valid_until else None,
            "output_value": float(r.output_value_yuan) if has_output else None,
            "counts_as_producer": in_region, "counts_as_authorised": in_region and status.in_force,
            "reasons": why,
        })
    return {"product": product.slug, "year": year, "county_code": county_code, "as_of": as_of.isoformat(),
            "total": total, "offset": offset, "rows": out}


DRILLDOWN_COLUMNS = ("producer_id", "name", "code", "county_code", "town_code", "in_region", "state", "since",
                     "valid_until", "output_value", "output_kg", "counts_as_producer", "counts_as_authorised",
                     "reasons")


def drilldown_rows(session: Session, product: Product, year: int, county_code: Optional[str] = None,
                   as_of: Optional[date] = None) -> list[tuple]:
    """Every registered producer with why it counts or not, as tuples in DRILLDOWN_COLUMNS order.

    One query; states are derived from each producer's last decision (state_from_last). Dates are
    ISO strings, booleans 0/1, reasons joined with ";" — ready for CSV and spreadsheets.
    """
    as_of = as_of or default_as_of(year, local_today())
    p, pp, pt, o = Producer.__table__, ProducerProduct.__table__, ProductTown.__table__, OutputRecord.__table__
    base = (select(p.c.id, p.c.name, p.c.uscc, p.c.registry_no, p.c.county_code, p.c.town_code,
                   pt.c.town_code.label("protected"), o.c.output_value_yuan, o.c.output_kg)
            .join(pp, and_(pp.c.producer_id == p.c.id, pp.c.product_id == product.id))
            .outerjoin(pt, and_(pt.c.product_id == product.id, pt.c.town_code == p.c.town_code))
            .outerjoin(o, and_(o.c.producer_id == p.c.id, o.c.product_id == product.id, o.c.year == year)))
    if _prefers_window(session):
        last, approval = _last_decisions(product.id, as_of)
        query = (base.add_columns(last.c.action, last.c.effective_date, approval.c.valid_until)
                 .outerjoin(last, and_(last.c.producer_id == p.c.id, last.c.rn == 1))
                 .outerjoin(approval, and_(approval.c.producer_id == p.c.id, approval.c.rn == 1)))
    else:
        # SQLite keeps dates as ISO text: fetch the last decision's action and date in one index walk.
        d1 = AuthorisationDecision.__table__.alias("d_last")
        last = (select(type_coerce(d1.c.action + literal(" ") + cast(d1.c.effective_date, String), String))
                .where(d1.c.producer_id == p.c.id, d1.c.product_id == product.id, d1.c.effective_date <= as_of)
                .order_by(d1.c.effective_date.desc(), d1.c.id.desc()).limit(1).scalar_subquery())
        _action, _date, valid_until, _ok = _correlated_state(product.id, as_of, p.c.id)
        query = base.add_columns(last.label("action"), literal(None).label("effective_date"),
                                 valid_until.label("valid_until"))
    if county_code is not None:
        query = query.where(p.c.county_code == county_code)
    expired_from = {}
    reason_of = dict(_STATE_REASON)
    out = []
    append = out.append
    for (pid, name, uscc, registry_no, county, town, protected, value, kg, action, last_date,
         valid_until) in session.execute(query).all():
        # state_from_last, inlined: this loop runs once per registered producer.
        if last_date is None and action is not None:  # "action YYYY-MM-DD" (SQLite path)
            action, _sp, last_day = action.partition(" ")
        else:
            last_day = last_date.isoformat() if last_date is not None else None
        if action is None:
            state, since = rules.NONE, None
        elif valid_until is not None and action in _HOLDING and as_of > valid_until:
            state = rules.EXPIRED
            since = expired_from.get(valid_until)
            if since is None:
                since = expired_from[valid_until] = (valid_until + _ONE_DAY).isoformat()
        else:
            state, since = _ACTION_STATE[action], last_day
        if protected is None:
            in_region = in_force = 0
            why = OUTSIDE_TOWNS
        else:
            in_region = 1
            in_force = 1 if state == rules.AUTHORISED else 0
            why = COUNTS if in_force else reason_of.get(state, NO_AUTHORISATION)
            if value is None:
                why += ";" + NO_OUTPUT
        append((pid, name, uscc or registry_no or "", county, town, in_region, state, since,
                valid_until.isoformat() if valid_until is not None and state in _DATED else None,
                value, kg, in_region, in_force, why))
    # Sorted here, not in SQL: PostgreSQL would spill a 100k-row sort of wide rows to disk.
    out.sort(key=_DRILLDOWN_ORDER)
    return out


def drilldown_all(session: Session, product: Product, year: int, county_code: Optional[str] = None,
                  as_of: Optional[date] = None) -> list[dict]:
    """drilldown_rows() as dicts (booleans as True/False, reasons as a list), like drilldown()'s rows."""
    out = []
    for row in drilldown_rows(session, product, year, county_code, as_of):
        item = dict(zip(DRILLDOWN_COLUMNS, row))
        item["in_region"] = bool(item["in_region"])
        item["counts_as_producer"] = bool(item["counts_as_producer"])
        item["counts_as_authorised"] = bool(item["counts_as_authorised"])
        item["output_value"] = float(item["output_value"]) if item["output_value"] is not None else None
        item["reasons"] = item["reasons"].split(";")
        out.append(item)
    return out


_DATED = (rules.AUTHORISED, rules.SUSPENDED, rules.EXPIRED)
_DRILLDOWN_ORDER = itemgetter(3, 4, 0)  # county, town, producer id
_HOLDING = ("approve", "reinstate", "suspend")
_ONE_DAY = timedelta(days=1)
_ACTION_STATE = {"apply": rules.PENDING, "approve": rules.AUTHORISED, "reinstate": rules.AUTHORISED,
                 "suspend": rules.SUSPENDED, "reject": rules.REJECTED, "revoke": rules.REVOKED}

"""The drill-down: every registered producer with why it counts or not (paged, or all rows for
exports)."""
from __future__ import annotations

from datetime import date
from operator import itemgetter
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import String, and_, cast, func, literal, select, type_coerce
from sqlmodel import Session

from gi_trace.authorisation import rules
from gi_trace.authorisation.rules import expired_since, state_after_last
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import statuses
from gi_trace.errors import ValidationError
from gi_trace.oversight.compliance.queries import (
    _correlated_state,
    _last_decisions,
    _prefers_window,
    authorised_subquery,
    on_register,
)
from gi_trace.oversight.compliance.shares import (
    _STATE_REASON,
    COUNTS,
    EXPIRED,
    NO_AUTHORISATION,
    NO_OUTPUT,
    OUTSIDE_TOWNS,
    PENDING,
    REJECTED,
    REVOKED,
    SUSPENDED,
    default_as_of,
    reasons,
)
from gi_trace.registry.models import OutputRecord, Producer, ProducerProduct, Product, ProductTown
from gi_trace.timeutil import local_today




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
    if only is not None and only not in DRILLDOWN_FILTERS:
        raise ValidationError(_("Unknown filter."), field="only")
    as_of = as_of or default_as_of(year, local_today())
    p, pp, pt, o = Producer.__table__, ProducerProduct.__table__, ProductTown.__table__, OutputRecord.__table__
    authorised = authorised_subquery(product.id, as_of)
    base = (select(p.c.id)
            .join(pp, and_(pp.c.producer_id == p.c.id, pp.c.product_id == product.id))
            .outerjoin(pt, and_(pt.c.product_id == product.id, pt.c.town_code == p.c.town_code))
            .where(on_register(as_of)))
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

    One query; states are derived from each producer's last decision (rules.state_after_last). Dates are
    ISO strings, booleans 0/1, reasons joined with ";" — ready for CSV and spreadsheets.
    """
    as_of = as_of or default_as_of(year, local_today())
    p, pp, pt, o = Producer.__table__, ProducerProduct.__table__, ProductTown.__table__, OutputRecord.__table__
    base = (select(p.c.id, p.c.name, p.c.uscc, p.c.registry_no, p.c.county_code, p.c.town_code,
                   pt.c.town_code.label("protected"), o.c.output_value_yuan, o.c.output_kg)
            .join(pp, and_(pp.c.producer_id == p.c.id, pp.c.product_id == product.id))
            .outerjoin(pt, and_(pt.c.product_id == product.id, pt.c.town_code == p.c.town_code))
            .outerjoin(o, and_(o.c.producer_id == p.c.id, o.c.product_id == product.id, o.c.year == year))
            .where(on_register(as_of)))
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
    reason_of = dict(_STATE_REASON)
    out = []
    append = out.append
    for (pid, name, uscc, registry_no, county, town, protected, value, kg, action, last_date,
         valid_until) in session.execute(query).all():
        if last_date is None and action is not None:  # "action YYYY-MM-DD" (SQLite path)
            action, _sp, last_day = action.partition(" ")
        else:
            last_day = last_date.isoformat() if last_date is not None else None
        state = state_after_last(action, valid_until, as_of)
        since = expired_since(valid_until).isoformat() if state == rules.EXPIRED else last_day
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

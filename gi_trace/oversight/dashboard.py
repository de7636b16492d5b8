"""What the dashboard pages show, gathered from the compliance service (no Flask request here)."""
from __future__ import annotations

from typing import Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlmodel import Session, select

from gi_trace.oversight import compliance as c
from gi_trace.registry.models import OutputRecord, Product, Region
from gi_trace.registry.paging import page_of
from gi_trace.timeutil import local_today

YEARS_SHOWN = 5
REASON_FILTERS = (
    ("", _l("All registered producers")),
    ("authorised", _l("GI mark users")),
    ("not_authorised", _l("Producers of the region not authorised")),
    ("outside", _l("Outside the protected towns")),
)


def default_year() -> int:
    """The current year (in Zhongwei)."""
    return local_today().year


def latest_output_year(session: Session, product: Optional[Product]) -> int:
    """The year the dashboard opens on: the latest with output records, else the current one."""

    this_year = default_year()
    if product is None:
        return this_year
    year = session.exec(select(func.max(OutputRecord.year)).where(OutputRecord.product_id == product.id,
                                                                  OutputRecord.year <= this_year)).one()
    return int(year) if year else this_year


def products(session: Session) -> list[Product]:
    return list(session.exec(select(Product).order_by(Product.id)).all())


def visible_counties(session: Session, user) -> list[Region]:
    """Counties a user may choose: all for the city and admins, its own for a county regulator."""
    query = select(Region).where(Region.level == "county").order_by(Region.code)
    if user is not None and user.role == "regulator" and user.county_code:
        query = query.where(Region.code == user.county_code)
    return list(session.exec(query).all())


def dashboard(session: Session, query: c.Query, years_shown: int = YEARS_SHOWN) -> dict:
    """The result for the chosen year and the same figures for the years before it."""
    result = c.compliance_for(session, query)
    first = max(c.FIRST_YEAR, query.year - years_shown + 1)
    history = c.series(session, query.product, range(first, query.year), query.county_code)
    history.append(result)
    return {
        "result": result,
        "history": history,
        "years": [r["year"] for r in history],
        "county_rows": [(row["county_name"], row["user_share"], row["output_share"]) for row in result["by_county"]],
    }


def drilldown_page(session: Session, query: c.Query, raw_page: Optional[str], *, reason: Optional[str] = None,
                   per_page: int = 50) -> dict:
    """One page of the drill-down (filtered by `reason`: authorised, not_authorised, outside)."""
    reason = reason or None
    first = c.drilldown(session, query.product, query.year, query.county_code, query.as_of, offset=0, limit=1,
                        only=reason)
    page = page_of(raw_page, first["total"], per_page)
    view = c.drilldown(session, query.product, query.year, query.county_code, query.as_of, offset=page.offset,
                       limit=per_page, only=reason)
    towns = {r.code: r.name_zh for r in session.exec(select(Region)).all()}
    view["page"] = page
    view["region_names"] = towns
    return view

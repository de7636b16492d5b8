"""以地定产、以产核标 across owners, for regulators: per county, capacity vs harvested vs received vs GI-marked
kilograms, the gap (GI-marked beyond the parties' traced sources), and a drill-down to the county's parties."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.oversight.compliance.queries import scoped_county
from gi_trace.oversight.dashboard import products, visible_counties
from gi_trace.registry.models import Region
from gi_trace.registry.paging import page_of
from gi_trace.registry.services import get_product, region_names
from gi_trace.timeutil import local_today
from gi_trace.tracing import capacity
from gi_trace.tracing.models import Batch

bp = Blueprint("oversight_capacity", __name__, url_prefix="/oversight/capacity")
PAGE_SIZE = 50


def _product_year(session):
    """The product and harvest year asked for (default: the first product, its latest harvest year)."""
    all_products = products(session)
    slug = request.args.get("product") or (all_products[0].slug if all_products else "")
    product = get_product(session, slug)
    text = (request.args.get("year") or "").strip()
    if text:
        if not text.isdigit() or not 2000 <= int(text) <= 2100:
            raise ValidationError(_("The year must be a number such as 2025."), field="year")
        year = int(text)
    else:
        latest = session.execute(select(func.max(Batch.harvest_year)).where(Batch.product_id == product.id,
                                                                            Batch.harvest_year <= local_today().year)
                                 ).scalar()
        year = int(latest) if latest else local_today().year
    return all_products, product, year


@bp.get("/")
@access("regulator", "admin")
def overview():
    """Per county: certified capacity, harvested, received and GI-marked kilograms, and the gap."""
    session = get_session()
    all_products, product, year = _product_year(session)
    counties = visible_counties(session, actor())
    rows = capacity.by_county(session, product, year, [r.code for r in counties])
    total = capacity.Balance(*(sum(getattr(r.balance, m) for r in rows) for m in capacity.MEASURES))
    excess = round(sum(r.excess for r in rows), 3)
    beyond_harvest = max(0.0, round(total.marked - total.harvested, 3))
    names = {r.code: r for r in counties}
    return render_template("oversight/capacity.html", rows=rows, total=total, excess=excess,
                           beyond_harvest=beyond_harvest, names=names, product=product, year=year,
                           products=all_products, show_total=len(rows) > 1)


@bp.get("/<county_code>")
@access("regulator", "admin")
def county(county_code: str):
    """A county's parties: those marking most beyond their traced sources first."""
    session = get_session()
    all_products, product, year = _product_year(session)
    code = scoped_county(actor(), county_code)
    region = session.get(Region, code) if code else None
    if region is None or region.level != "county":
        raise ValidationError(_("Unknown county."), field="county_code")
    asked = page_of(request.args.get("page"), 10**9, PAGE_SIZE)  # the number asked for, clamped to 1..
    total, rows = capacity.parties(session, product, year, code, limit=PAGE_SIZE, offset=asked.offset)
    page = page_of(str(asked.number), total, PAGE_SIZE)
    if page.number != asked.number:  # past the last page: show the last one
        total, rows = capacity.parties(session, product, year, code, limit=PAGE_SIZE, offset=page.offset)
    return render_template("oversight/capacity_county.html", rows=rows, total=total, region=region,
                           product=product, year=year, towns=region_names(session), page=page)

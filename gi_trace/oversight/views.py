"""Regulators' supervision pages: the 专栏4 dashboard and its drill-down."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from gi_trace.access import access, actor
from gi_trace.authorisation.services import state_label
from gi_trace.db import get_session
from gi_trace.errors import DomainError
from gi_trace.oversight import compliance as c
from gi_trace.oversight import dashboard as d
from gi_trace.oversight import svg
from gi_trace.registry.paging import page_of

bp = Blueprint("oversight", __name__, url_prefix="/oversight")
bp.add_app_template_global(svg.share_bars, "svg_share_bars")
bp.add_app_template_global(svg.share_lines, "svg_share_lines")
bp.add_app_template_global(svg.simple_bars, "svg_simple_bars")
bp.add_app_template_global(c.reason_label, "compliance_reason_label")
bp.add_app_template_global(state_label, "oversight_state_label")

CHART_LABELS = (_l("User share"), _l("Output share"), _l("Target"))


def _filters():
    """The product/year/county/as-of filter from the query string, scoped to the user's county."""
    session = get_session()
    args = request.args
    products = d.products(session)
    slug = args.get("product") or (products[0].slug if products else "")
    county = c.scoped_county(actor(), args.get("county"))
    year = args.get("year") or str(d.latest_output_year(session, next((p for p in products if p.slug == slug),
                                                                        None)))
    return session, products, c.parse_query(session, slug, year, county, args.get("as_of"))


@bp.get("/")
@access("regulator", "admin")
def dashboard():
    """Both shares against the target, per county and over the years."""
    session = get_session()
    error = None
    try:
        session, products, query = _filters()
        view = d.dashboard(session, query)
    except DomainError as exc:
        if exc.status == 403:
            raise
        error, products, view, query = exc, d.products(session), None, None
    return render_template("oversight/dashboard.html", view=view, query=query, products=products,
                           counties=d.visible_counties(session, actor()), error=error, labels=CHART_LABELS,
                           args=request.args), (422 if error else 200)


@bp.get("/producers")
@access("regulator", "admin")
def drilldown():
    """Every producer registered for the product, with why it counts or not on the date."""
    session, _products, query = _filters()
    reason = request.args.get("reason") or None
    view = d.drilldown_page(session, query, request.args.get("page"), reason=reason)
    return render_template("oversight/drilldown.html", view=view, query=query, page=view["page"], reason=reason,
                           reasons=d.REASON_FILTERS, page_of=page_of)

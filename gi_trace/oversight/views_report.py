"""The annual report in the regulator pages: a form, the ZIP download and a printable view."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from gi_trace.access import access, actor
from gi_trace.db import get_session
from gi_trace.extensions import export_limit, limiter, user_key
from gi_trace.oversight import compliance as c
from gi_trace.oversight import dashboard as d
from gi_trace.oversight import report as rep

bp = Blueprint("oversight_report", __name__, url_prefix="/oversight")

# The report is a self-contained file with its CSS inside: viewed in the app, it may use its own
# inline style and nothing else (no scripts, no requests anywhere).
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")


def _query():
    session = get_session()
    county = c.scoped_county(actor(), request.args.get("county"))
    year = request.args.get("year") or str(d.default_year() - 1)
    return session, c.parse_query(session, request.args.get("product", "zhongning-goji"), year, county)


@bp.get("/reports")
@access("regulator", "admin")
def reports():
    """Choose a product, year and county and download the annual report."""
    session = get_session()
    return render_template("oversight/reports.html", products=d.products(session),
                           counties=d.visible_counties(session, actor()), args=request.args,
                           default_year=d.default_year() - 1)


@bp.get("/reports/annual.zip")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def annual_zip():
    """report.html, report.json and the data tables (CSV and XLSX) in one ZIP."""
    session, query = _query()
    data = rep.build_report(session, query.product, query.year, query.county_code, as_of=query.as_of)
    name = f"gi-report-{query.product.slug}-{query.year}{'-' + query.county_code if query.county_code else ''}.zip"
    return Response(rep.report_zip(data), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "private, no-store"})


@bp.get("/reports/annual.html")
@access("regulator", "admin")
@limiter.limit(export_limit, key_func=user_key)
def annual_html():
    """The printable report itself (print it to PDF from the browser)."""
    session, query = _query()
    data = rep.build_report(session, query.product, query.year, query.county_code, as_of=query.as_of)
    response = Response(rep.render_html(data), mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response

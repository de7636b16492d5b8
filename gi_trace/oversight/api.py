"""Oversight API: the 专栏4 shares and their drill-down, for regulators' programs."""
from __future__ import annotations

from gi_trace.access import access, actor
from gi_trace.api import api_bp, operation
from gi_trace.db import get_session
from gi_trace.oversight import compliance as c
from gi_trace.oversight.schemas import Compliance, ComplianceQuery, Drilldown, DrilldownQuery

_ERRORS = {403: "Not a regulator, or another county", 404: "Unknown product"}


def _parsed(query: ComplianceQuery) -> c.Query:
    county = c.scoped_county(actor(), query.county)
    return c.parse_query(get_session(), query.product, query.year, county, query.as_of)


@api_bp.get("/compliance")
@access("regulator", "admin")
@operation(query=ComplianceQuery, responses={200: Compliance}, errors=_ERRORS)
def compliance(query: ComplianceQuery):
    """专栏4 shares: GI special-mark users and their output value against the target, per county too."""
    return Compliance.model_validate(c.compliance_for(get_session(), _parsed(query)))


@api_bp.get("/compliance/producers")
@access("regulator", "admin")
@operation(query=DrilldownQuery, responses={200: Drilldown}, errors=_ERRORS)
def compliance_producers(query: DrilldownQuery):
    """Drill-down: every producer registered for the product with why it counts or not (paged)."""
    q = _parsed(query)
    return Drilldown.model_validate(c.drilldown(get_session(), q.product, q.year, q.county_code, q.as_of,
                                                offset=query.offset, limit=query.limit))

"""Oversight API: the 专栏4 shares and their drill-down, for regulators' programs."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from gi_trace.access import access, actor
from gi_trace.api import api_bp, openapi_paths
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.oversight import compliance as c

_PARAMS = [
    {"name": "product", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "Product slug, e.g. zhongning-goji"},
    {"name": "year", "in": "query", "required": True, "schema": {"type": "integer"}},
    {"name": "county", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "6-digit county code; a county regulator always gets its own county"},
    {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "Status date (default 31 December of the year, or today in the current year)"},
]
_ERRORS = {code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
           for code, text in (("401", "No valid token"), ("403", "Not a regulator, or another county"),
                              ("404", "Unknown product"), ("422", "Invalid parameter (see error.field)"))}


def _query():
    session = get_session()
    county = c.scoped_county(actor(), request.args.get("county"))
    return session, c.parse_query(session, request.args.get("product", ""), request.args.get("year", ""), county,
                                  request.args.get("as_of"))


@api_bp.get("/compliance")
@access("regulator", "admin")
def compliance():
    """The user share and output share against the target, with per-county figures."""
    session, query = _query()
    return c.compliance_for(session, query)


@api_bp.get("/compliance/producers")
@access("regulator", "admin")
def compliance_producers():
    """Every producer registered for the product with why it counts or not (paged)."""
    session, query = _query()
    try:
        offset = int(request.args.get("offset", "0"))
    except ValueError:
        raise ValidationError(_("offset and limit must be whole numbers."), field="offset") from None
    try:
        limit = int(request.args.get("limit", "500"))
    except ValueError:
        raise ValidationError(_("offset and limit must be whole numbers."), field="limit") from None
    if not 0 <= offset <= 10**9:
        raise ValidationError(_("offset must be 0 or more and limit between 1 and 5000."), field="offset")
    if not 1 <= limit <= 5000:
        raise ValidationError(_("offset must be 0 or more and limit between 1 and 5000."), field="limit")
    return c.drilldown(session, query.product, query.year, query.county_code, query.as_of, offset=offset, limit=limit)


_SHARE_FIELDS = {
    "producers_registered": {"type": "integer"},
    "producers_total": {"type": "integer"},
    "producers_authorised": {"type": "integer"},
    "user_share": {"type": ["number", "null"]},
    "output_value_registered": {"type": "number"},
    "output_value_total": {"type": "number"},
    "output_value_authorised": {"type": "number"},
    "output_share": {"type": ["number", "null"]},
    "target": {"type": "number"},
    "user_share_met": {"type": "boolean"},
    "output_share_met": {"type": "boolean"},
    "denominator_source": {"type": "object"},
}

openapi_paths(
    {
        "/compliance": {"get": {
            "summary": "专栏4 shares: GI special-mark users and their output value against the target",
            "security": [{"bearer": []}], "parameters": _PARAMS,
            "responses": {"200": {"description": "The shares", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Compliance"}}}}, **_ERRORS},
        }},
        "/compliance/producers": {"get": {
            "summary": "Drill-down: every registered producer with why it counts or not",
            "security": [{"bearer": []}],
            "parameters": _PARAMS + [
                {"name": "offset", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 1000000000}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
            "responses": {"200": {"description": "Producers", "content": {"application/json": {
                "schema": {"type": "object", "required": ["total", "rows"],
                           "properties": {"total": {"type": "integer"}, "rows": {"type": "array"}}}}}},
                **_ERRORS},
        }},
    },
    {"Compliance": {
        "type": "object",
        "required": ["product", "year", "county_code", "as_of", "producers_total", "producers_authorised",
                     "user_share", "output_value_total", "output_value_authorised", "output_share", "target",
                     "user_share_met", "output_share_met", "denominator_source", "by_county"],
        "properties": {
            "product": {"type": "string"}, "product_name": {"type": "string"}, "year": {"type": "integer"},
            "county_code": {"type": ["string", "null"]}, "as_of": {"type": "string", "format": "date"},
            **_SHARE_FIELDS,
            "by_county": {"type": "array", "items": {"type": "object", "properties": {
                "county_code": {"type": "string"}, "county_name": {"type": "string"}, **_SHARE_FIELDS}}},
        },
    }},
)

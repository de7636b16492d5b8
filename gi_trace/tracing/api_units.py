"""API for unit codes (一物一码) and product lines (GTIN): POST /api/v1/batches/<code>/units,
GET the units of a batch, POST/GET /api/v1/product-lines."""
from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _

from gi_trace.access import access, actor
from gi_trace.api import api_bp, json_body, openapi_paths
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.tracing import codes, gs1, qr, services, units
from gi_trace.tracing.models import ProductLine


def _urls(code: str) -> dict:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {"trace_url": qr.trace_url(base, code), "qr_png_url": f"{base}/t/{code}/qr.png",
            "qr_svg_url": f"{base}/t/{code}/qr.svg"}


def _unit_json(serial: int, code: str, package_kg=None) -> dict:
    body = {"serial": serial, "code": code, "display_code": codes.display(code)}
    if package_kg is not None:
        body["package_kg"] = package_kg
    body.update(_urls(code))
    return body


@api_bp.post("/batches/<code>/units")
@access("producer")
def issue_units(code: str):
    """Issue `count` unit codes for packages of `package_kg` under one of the producer's batches."""
    session = get_session()
    body = json_body()
    batch = services.own_batch(session, actor(), code)
    issued = units.issue_units(session, actor(), batch, body.get("count"), body.get("package_kg"))
    flags = [{"kind": f.kind, "message": services.rules.flag_text(f.kind, f.params)}
             for f in services.open_flags(session, batch)]
    units_issued, quantity = batch.units_issued, batch.quantity_kg
    return {"batch": batch.code, "units_issued": units_issued, "quantity_kg": quantity,
            "units": [_unit_json(u.serial, u.code) for u in issued], "flags": flags}, 201


@api_bp.get("/batches/<code>/units")
@access("producer", "regulator", "admin")
def list_units(code: str):
    """A batch's unit codes by serial (paged with start and limit)."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    try:
        start = int(request.args.get("start", "1"))
        limit = int(request.args.get("limit", "1000"))
    except ValueError:
        raise ValidationError(_("start and limit must be whole numbers."), field="start") from None
    if start < 1 or not 1 <= limit <= 5000:
        raise ValidationError(_("start must be 1 or more and limit between 1 and 5000."), field="limit")
    # Serials are 32-bit integers: a start beyond them finds nothing (and must not overflow PostgreSQL's integer).
    rows = units.units_of(session, batch, min(start, 2**31 - 1), limit)
    return {"batch": batch.code, "units_issued": batch.units_issued,
            "units": [_unit_json(u.serial, u.code, u.package_kg) for u in rows]}


def _line_json(line: ProductLine) -> dict:
    return {"id": line.id, "gtin14": line.gtin14, "name": line.name, "product_id": line.product_id,
            "trademark_id": line.trademark_id, "product_form": line.product_form, "package_kg": line.package_kg}


@api_bp.post("/product-lines")
@access("producer")
def create_product_line():
    """Register a GTIN for one of the producer's product lines."""
    session = get_session()
    body = json_body()
    for name in ("gtin", "name", "product"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ValidationError(_("%(field)s must be text.", field=name), field=name)
    package = body.get("package_kg")
    if package is not None and (isinstance(package, bool) or not isinstance(package, (int, float))):
        raise ValidationError(_("%(field)s must be a number.", field="package_kg"), field="package_kg")
    trademark = body.get("trademark_id")
    if trademark is not None and (isinstance(trademark, bool) or not isinstance(trademark, int)):
        raise ValidationError(_("%(field)s must be a whole number.", field="trademark_id"), field="trademark_id")
    line = gs1.register_product_line(session, actor(), gs1.ProductLineInput(
        product_slug=body.get("product") or "zhongning-goji", gtin=body.get("gtin") or "", name=body.get("name") or "",
        trademark_id=trademark, product_form=body.get("product_form") or "dried", package_kg=package))
    result = _line_json(line)
    return result, 201


@api_bp.get("/product-lines")
@access("producer")
def list_product_lines():
    """The producer's product lines."""
    return {"product_lines": [_line_json(x) for x in gs1.product_lines_of(get_session(), actor().producer_id)]}


# --- OpenAPI ------------------------------------------------------------------------------

def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {c: _json(_ERR, d) for c, d in (
    ("400", "Malformed request"), ("401", "No valid bearer token"), ("403", "Not allowed for this role"),
    ("404", "Unknown code, or another producer's batch"), ("409", "Conflict (concurrent change, GTIN taken)"),
    ("422", "Invalid input or refused by a rule: label gate, more packages than the batch holds"))}
_SEC = [{"bearer": []}]
_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "Trace code of the batch (with or without hyphens)"}

openapi_paths({
    "/batches/{code}/units": {
        "post": {
            "summary": "Issue unit codes (one per package, 一物一码)", "tags": ["labels"], "security": _SEC,
            "parameters": [_CODE],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["count"], "properties": {
                    "count": {"type": "integer", "minimum": 1, "maximum": units.MAX_UNITS_PER_ISSUE},
                    "package_kg": {"type": "number", "exclusiveMinimum": 0,
                                   "description": "Package size; default: the batch's product line's"}}}}}},
            "responses": {"201": _json({"$ref": "#/components/schemas/UnitIssue"}, "The new unit codes and their URLs"),
                          **{c: _ERRORS[c] for c in ("400", "401", "403", "404", "409", "422")}}},
        "get": {
            "summary": "A batch's unit codes", "tags": ["labels"], "security": _SEC,
            "parameters": [_CODE, {"name": "start", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 5000}}],
            "responses": {"200": _json({"type": "object", "required": ["batch", "units"], "properties": {
                "batch": {"type": "string"}, "units_issued": {"type": "integer"},
                "units": {"type": "array", "items": {"$ref": "#/components/schemas/Unit"}}}}, "Unit codes by serial"),
                **{c: _ERRORS[c] for c in ("401", "403", "404", "422")}}},
    },
    "/product-lines": {
        "post": {
            "summary": "Register a GTIN for a product line (GS1 Digital Link /01/{gtin14}/10/{lot})",
            "tags": ["labels"], "security": _SEC,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["gtin", "name"], "properties": {
                    "product": {"type": "string", "default": "zhongning-goji"},
                    "gtin": {"type": "string", "description": "GTIN-8/12/13/14 with a valid check digit"},
                    "name": {"type": "string"}, "trademark_id": {"type": "integer"},
                    "product_form": {"type": "string", "enum": list(gs1.PRODUCT_FORMS)},
                    "package_kg": {"type": "number"}}}}}},
            "responses": {"201": _json({"$ref": "#/components/schemas/ProductLine"}, "The product line"),
                          **{c: _ERRORS[c] for c in ("400", "401", "403", "409", "422")}}},
        "get": {
            "summary": "The producer's product lines", "tags": ["labels"], "security": _SEC,
            "responses": {"200": _json({"type": "object", "required": ["product_lines"], "properties": {
                "product_lines": {"type": "array", "items": {"$ref": "#/components/schemas/ProductLine"}}}},
                "Product lines"), **{c: _ERRORS[c] for c in ("401", "403")}}},
    },
}, schemas={
    "Unit": {"type": "object", "required": ["serial", "code", "trace_url", "qr_png_url", "qr_svg_url"], "properties": {
        "serial": {"type": "integer"}, "code": {"type": "string"}, "display_code": {"type": "string"},
        "package_kg": {"type": "number"}, "trace_url": {"type": "string"}, "qr_png_url": {"type": "string"},
        "qr_svg_url": {"type": "string"}}},
    "UnitIssue": {"type": "object", "required": ["batch", "units"], "properties": {
        "batch": {"type": "string"}, "units_issued": {"type": "integer"}, "quantity_kg": {"type": "number"},
        "units": {"type": "array", "items": {"$ref": "#/components/schemas/Unit"}},
        "flags": {"type": "array", "items": {"type": "object", "properties": {
            "kind": {"type": "string"}, "message": {"type": "string"}}}}}},
    "ProductLine": {"type": "object", "required": ["id", "gtin14", "name"], "properties": {
        "id": {"type": "integer"}, "gtin14": {"type": "string"}, "name": {"type": "string"},
        "product_id": {"type": "integer"}, "trademark_id": {"type": ["integer", "null"]},
        "product_form": {"type": "string"}, "package_kg": {"type": ["number", "null"]}}},
})

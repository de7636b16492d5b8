"""API for unit codes (一物一码) and product lines (GTIN): POST/GET /api/v1/batches/<code>/units,
POST/GET /api/v1/product-lines. Shapes are in `tracing/schemas_units.py`."""
from __future__ import annotations

from gi_trace.access import access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.tracing import gs1, rules, services, units
from gi_trace.tracing.api import CODE, NOT_YOURS, base_url
from gi_trace.tracing.schemas_units import (ProductLineCreate, ProductLineList, ProductLinePublic, UnitFlag, UnitIssue,
                                      UnitList, UnitPublic, UnitsCreate, UnitsQuery)


@api_bp.post("/batches/<code>/units")
@access("producer")
@operation(body=UnitsCreate, responses={201: UnitIssue}, path=CODE,
           errors={404: NOT_YOURS, 409: "Conflict (a concurrent issue)",
                   422: "Invalid input or refused by a rule: label gate, more packages than the batch holds"})
def issue_units(code: str, body: Load[UnitsCreate]):
    """Issue unit codes (one per package, 一物一码) under one of the producer's batches."""
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    given = body()
    issued = units.issue_units(session, actor(), batch, given.count, given.package_kg)
    flags = [UnitFlag(kind=f.kind, message=rules.flag_text(f.kind, f.params))
             for f in services.open_flags(session, batch)]
    units_issued, quantity = batch.units_issued, batch.quantity_kg
    return UnitIssue(batch=batch.code, units_issued=units_issued, quantity_kg=quantity,
                     units=[UnitPublic.of(u.serial, u.code, base_url()) for u in issued], flags=flags)


@api_bp.get("/batches/<code>/units")
@access("producer", "regulator", "admin")
@operation(query=UnitsQuery, responses={200: UnitList}, errors={403: None, 404: NOT_YOURS}, path=CODE)
def list_units(code: str, query: UnitsQuery):
    """A batch's unit codes by serial (paged with start and limit)."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    # Serials are 32-bit integers: a start beyond them finds nothing (and must not overflow PostgreSQL's integer).
    rows = units.units_of(session, batch, min(query.start, 2**31 - 1), query.limit)
    return UnitList(batch=batch.code, units_issued=batch.units_issued,
                    units=[UnitPublic.of(u.serial, u.code, base_url(), u.package_kg) for u in rows])


@api_bp.post("/product-lines")
@access("producer")
@operation(body=ProductLineCreate, responses={201: ProductLinePublic}, errors={409: "GTIN taken"})
def create_product_line(body: Load[ProductLineCreate]):
    """Register a GTIN for a product line (GS1 Digital Link /01/{gtin14}/10/{lot})."""
    given = body()
    session = get_session()
    line = gs1.register_product_line(session, actor(), gs1.ProductLineInput(
        product_slug=given.product or GOJI_SLUG, gtin=given.gtin, name=given.name, trademark_id=given.trademark_id,
        product_form=given.product_form or "dried", package_kg=given.package_kg))
    result = ProductLinePublic.of(line)
    return result


@api_bp.get("/product-lines")
@access("producer")
@operation(responses={200: ProductLineList})
def list_product_lines():
    """The producer's product lines."""
    return ProductLineList(product_lines=[ProductLinePublic.of(x)
                                          for x in gs1.product_lines_of(get_session(), actor().producer_id)])

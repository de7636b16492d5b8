"""API of the chain across owners: ship a batch, receive or reject a shipment, list shipments, purchases.

POST /api/v1/batches/{code}/ship, POST /api/v1/shipments/{id}/receive, POST /api/v1/shipments/{id}/reject,
GET /api/v1/shipments?direction=in|out&status=..., POST /api/v1/purchases.
"""
from __future__ import annotations

from typing import Optional

from flask import request
from flask_babel import gettext as _
from sqlmodel import select

from gi_trace.access import access, actor
from gi_trace.api import api_bp, json_body, openapi_paths
from gi_trace.db import get_session
from gi_trace.errors import ValidationError
from gi_trace.registry.models import Producer, Product
from gi_trace.tracing import rules, services, transfers
from gi_trace.tracing.api import MAX_LIMIT, _int_arg, batch_json
from gi_trace.tracing.models import Batch, Purchase, Shipment

_LOCAL = rules.local_time


def _when(value, offset: int) -> Optional[str]:
    return _LOCAL(value, offset).isoformat() if value is not None else None


def shipment_json(session, shipment: Shipment, parties: Optional[dict] = None, codes: Optional[dict] = None) -> dict:
    """A shipment as the API returns it."""
    parties = parties or {}
    codes = codes or {}

    def party(pid: int) -> str:
        if pid not in parties:
            parties[pid] = session.get(Producer, pid)
        return parties[pid].code

    def code(bid: Optional[int]) -> Optional[str]:
        if bid is None:
            return None
        if bid not in codes:
            codes[bid] = session.get(Batch, bid).code
        return codes[bid]

    return {
        "id": shipment.id,
        "status": shipment.status,
        "from": party(shipment.from_party_id),
        "to": party(shipment.to_party_id),
        "batch": code(shipment.batch_id),
        "quantity_kg": shipment.quantity_kg,
        "shipped_at": _when(shipment.shipped_at, shipment.utc_offset_min),
        "document_no": shipment.document_no or None,
        "received_at": _when(shipment.received_at, shipment.utc_offset_min),
        "received_kg": shipment.received_kg,
        "loss_kg": shipment.loss_kg,
        "received_batch": code(shipment.received_batch_id),
        "rejected_at": _when(shipment.rejected_at, shipment.utc_offset_min),
        "reject_reason": shipment.reject_reason or None,
        "purchase_id": shipment.purchase_id,
    }


def _slug(session, batch: Batch) -> str:
    return session.get(Product, batch.product_id).slug


@api_bp.post("/batches/<code>/ship")
@access("producer")
def ship_batch(code: str):
    """Ship kilograms of one of the party's batches to another registered party."""
    body = json_body()
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    shipment = transfers.ship(session, actor(), batch, to=body.get("to"), quantity_kg=body.get("quantity_kg"),
                              shipped_at=body.get("shipped_at"), document_no=body.get("document_no"))
    return {"shipment": shipment_json(session, shipment), "batch": batch_json(batch, _slug(session, batch))}, 201


@api_bp.post("/shipments/<int:shipment_id>/receive")
@access("producer")
def receive_shipment(shipment_id: int):
    """Accept a shipment addressed to the party: a new batch holding what arrived."""
    body = json_body()
    session = get_session()
    shipment = transfers.incoming(session, actor(), shipment_id)
    lot = body.get("producer_lot")
    batch = transfers.receive(session, actor(), shipment, received_at=body.get("received_at"),
                              quantity_kg=body.get("quantity_kg"), producer_lot=lot)
    return {"batch": batch_json(batch, _slug(session, batch)), "shipment": shipment_json(session, shipment)}, 201


@api_bp.post("/shipments/<int:shipment_id>/reject")
@access("producer")
def reject_shipment(shipment_id: int):
    """Refuse a shipment addressed to the party: the kilograms return to the sender's batch."""
    body = json_body()
    session = get_session()
    shipment = transfers.incoming(session, actor(), shipment_id)
    transfers.reject(session, actor(), shipment, reason=body.get("reason"), rejected_at=body.get("rejected_at"))
    return {"shipment": shipment_json(session, shipment)}


@api_bp.get("/shipments")
@access("producer")
def list_shipments():
    """The party's shipments: direction=in (to it, default) or out (from it), optionally by status."""
    session = get_session()
    direction = request.args.get("direction", "in")
    status = request.args.get("status") or None
    rows = transfers.shipments_of(session, actor(), direction, status, limit=_int_arg("limit", 50, 1, MAX_LIMIT),
                                  offset=_int_arg("offset", 0, 0, 10**9))
    parties: dict = {}
    codes: dict = {}
    return {"shipments": [shipment_json(session, s, parties, codes) for s in rows], "direction": direction}


def purchase_json(session, record: Purchase) -> dict:
    seller = session.get(Producer, record.seller_id) if record.seller_id else None
    return {
        "id": record.id,
        "seller": seller.code if seller else None,
        "seller_name": seller.name if seller else record.seller_name,
        "town_code": record.town_code,
        "quantity_kg": record.quantity_kg,
        "grade": record.grade or None,
        "price_yuan_per_kg": record.price_yuan_per_kg,
        "purchased_at": _when(record.purchased_at, record.utc_offset_min),
        "source_batch": session.get(Batch, record.source_batch_id).code if record.source_batch_id else None,
        "origin": "verified" if record.source_batch_id else "declared",
    }


@api_bp.post("/purchases")
@access("producer")
def create_purchase():
    """Record a purchase (收购) from a registered seller (and its batch) or an unregistered farmer."""
    body = json_body()
    session = get_session()
    for name in ("seller", "seller_name", "town_code", "source_batch", "grade", "product", "producer_lot"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationError(_("%(field)s must be text.", field=name), field=name)
    result = transfers.purchase(session, actor(), transfers.PurchaseInput(
        quantity_kg=body.get("quantity_kg"), seller=body.get("seller"), seller_name=body.get("seller_name"),
        town_code=body.get("town_code"), purchased_at=body.get("purchased_at"),
        source_batch=body.get("source_batch"), grade=body.get("grade"),
        price_yuan_per_kg=body.get("price_yuan_per_kg"), product=body.get("product"),
        producer_lot=body.get("producer_lot")))
    out = {"purchase": purchase_json(session, result.purchase),
           "batch": batch_json(result.batch, _slug(session, result.batch))}
    if result.shipment is not None:
        out["shipment"] = shipment_json(session, result.shipment)
    return out, 201


# --- OpenAPI ----------------------------------------------------------------------------------

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_NUM = {"type": "number"}
_NNUM = {"type": ["number", "null"]}
_ERR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict:
    return {c: _json(_ERR, "Error") for c in codes}


_BODY = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731
_SEC = [{"bearer": []}]

SCHEMAS = {
    "Shipment": {"type": "object", "required": ["id", "status", "from", "to", "batch", "quantity_kg", "shipped_at"],
                 "properties": {
                     "id": {"type": "integer"}, "status": {"type": "string",
                                                          "enum": ["in_transit", "received", "rejected"]},
                     "from": _STR, "to": _STR, "batch": _STR, "quantity_kg": _NUM, "shipped_at": _STR,
                     "document_no": _NSTR, "received_at": _NSTR, "received_kg": _NNUM, "loss_kg": _NNUM,
                     "received_batch": _NSTR, "rejected_at": _NSTR, "reject_reason": _NSTR,
                     "purchase_id": {"type": ["integer", "null"]}}},
    "Purchase": {"type": "object", "required": ["id", "quantity_kg", "purchased_at", "origin"], "properties": {
        "id": {"type": "integer"}, "seller": _NSTR, "seller_name": _NSTR, "town_code": _NSTR, "quantity_kg": _NUM,
        "grade": _NSTR, "price_yuan_per_kg": _NNUM, "purchased_at": _STR, "source_batch": _NSTR,
        "origin": {"type": "string", "enum": ["verified", "declared"]}}},
}

openapi_paths({
    "/batches/{code}/ship": {"post": {
        "summary": "Ship kilograms of a batch to another registered party (they leave the batch at once)",
        "tags": ["chain"], "security": _SEC,
        "parameters": [{"name": "code", "in": "path", "required": True, "schema": _STR}],
        "requestBody": _BODY({"type": "object", "required": ["to", "quantity_kg"], "properties": {
            "to": {"type": "string", "description": "The receiver's USCC or registry number"},
            "quantity_kg": _NUM, "shipped_at": {"type": "string", "description": "ISO 8601 with offset"},
            "document_no": {"type": "string", "description": "Waybill or invoice number"}}}),
        "responses": {"201": _json({"type": "object", "required": ["shipment"], "properties": {
            "shipment": _ref("Shipment"), "batch": _ref("Batch")}}, "The shipment, in transit"),
            **_errors("400", "401", "403", "404", "409", "422")}}},
    "/shipments/{shipment_id}/receive": {"post": {
        "summary": "Receive a shipment: a new batch of the receiver linked to the shipped one (link kind transfer)",
        "tags": ["chain"], "security": _SEC,
        "parameters": [{"name": "shipment_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": _BODY({"type": "object", "properties": {
            "received_at": _STR, "quantity_kg": {"type": "number", "description": "What arrived (default: all)"},
            "producer_lot": _STR}}),
        "responses": {"201": _json({"type": "object", "required": ["batch"], "properties": {
            "batch": _ref("Batch"), "shipment": _ref("Shipment")}}, "The receiver's new batch"),
            **_errors("400", "401", "403", "404", "409", "422")}}},
    "/shipments/{shipment_id}/reject": {"post": {
        "summary": "Refuse a shipment: its kilograms return to the sender's batch", "tags": ["chain"],
        "security": _SEC,
        "parameters": [{"name": "shipment_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": _BODY({"type": "object", "required": ["reason"], "properties": {
            "reason": _STR, "rejected_at": _STR}}),
        "responses": {"200": _json({"type": "object", "required": ["shipment"], "properties": {
            "shipment": _ref("Shipment")}}, "The rejected shipment"),
            **_errors("400", "401", "403", "404", "409", "422")}}},
    "/shipments": {"get": {
        "summary": "The party's shipments", "tags": ["chain"], "security": _SEC,
        "parameters": [{"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["in", "out"]}},
                       {"name": "status", "in": "query",
                        "schema": {"type": "string", "enum": ["in_transit", "received", "rejected"]}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                       {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
        "responses": {"200": _json({"type": "object", "required": ["shipments"], "properties": {
            "shipments": {"type": "array", "items": _ref("Shipment")}, "direction": _STR}}, "Newest first"),
            **_errors("401", "403", "422")}}},
    "/purchases": {"post": {
        "summary": "Record a market purchase (收购)", "tags": ["chain"], "security": _SEC,
        "requestBody": _BODY({"type": "object", "required": ["quantity_kg"], "properties": {
            "seller": {"type": ["string", "null"], "description": "A registered seller's USCC or registry number"},
            "seller_name": {"type": "string", "description": "An unregistered farmer's name"},
            "town_code": {"type": "string", "description": "Where an unregistered farmer's goji grew"},
            "quantity_kg": _NUM, "purchased_at": _STR,
            "source_batch": {"type": ["string", "null"], "description": "The seller's batch code, if any"},
            "grade": _STR, "price_yuan_per_kg": _NUM, "product": _STR, "producer_lot": _STR}}),
        "responses": {"201": _json({"type": "object", "required": ["purchase", "batch"], "properties": {
            "purchase": _ref("Purchase"), "batch": _ref("Batch"), "shipment": _ref("Shipment")}},
            "The purchase and the buyer's new batch"), **_errors("400", "401", "403", "404", "409", "422")}}},
}, SCHEMAS)

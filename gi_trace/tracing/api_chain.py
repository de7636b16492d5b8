"""API of the chain across owners: ship a batch, receive or reject a shipment, list shipments, purchases.

POST /api/v1/batches/{code}/ship, POST /api/v1/shipments/{id}/receive, POST /api/v1/shipments/{id}/reject,
GET /api/v1/shipments?direction=in|out&status=..., POST /api/v1/purchases, and the 承诺达标合格证 of a sale to an
unregistered buyer: GET /api/v1/sales/{event_id}/certificate (JSON) and ….pdf (A6 PDF). Shapes are in `tracing/schemas.py`.
"""
from __future__ import annotations

from typing import Optional

from flask import Response, current_app, url_for

from gi_trace.access import access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.registry.models import Producer
from gi_trace.tracing import certificate, rules, services, transfers
from gi_trace.tracing.api import CODE, MAX_LIMIT, NOT_YOURS, _batch, _clamp
from gi_trace.tracing.models import Batch, Purchase, Shipment
from gi_trace.tracing.schemas_certificate import CertificatePublic
from gi_trace.tracing.schemas import (PurchaseCreate, PurchasePublic, PurchaseResult, ReceiveCreate, ReceiveResult,
                                      RejectCreate, RejectResult, ShipCreate, ShipmentList, ShipmentListQuery,
                                      ShipmentPublic, ShipResult)

SHIPMENT = {"shipment_id": "The shipment's id"}
NOT_ADDRESSED = "Unknown shipment, or one addressed to another party"
ANSWER_ERRORS = {404: NOT_ADDRESSED, 409: "Already received or rejected"}


def _when(value, offset: int) -> Optional[str]:
    return rules.local_time(value, offset).isoformat() if value is not None else None


def shipment_public(session, shipment: Shipment, parties: Optional[dict] = None,
                    codes: Optional[dict] = None) -> ShipmentPublic:
    """A shipment as the API returns it (parties and batch codes looked up once per list)."""
    parties = {} if parties is None else parties
    codes = {} if codes is None else codes

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

    return ShipmentPublic.model_validate({
        "id": shipment.id, "status": shipment.status, "from": party(shipment.from_party_id),
        "to": party(shipment.to_party_id), "batch": code(shipment.batch_id), "quantity_kg": shipment.quantity_kg,
        "shipped_at": _when(shipment.shipped_at, shipment.utc_offset_min),
        "document_no": shipment.document_no or None,
        "received_at": _when(shipment.received_at, shipment.utc_offset_min),
        "received_kg": shipment.received_kg, "loss_kg": shipment.loss_kg,
        "received_batch": code(shipment.received_batch_id),
        "rejected_at": _when(shipment.rejected_at, shipment.utc_offset_min),
        "reject_reason": shipment.reject_reason or None, "purchase_id": shipment.purchase_id})


@api_bp.post("/batches/<code>/ship")
@access("producer")
@operation(body=ShipCreate, responses={201: ShipResult}, errors={404: NOT_YOURS, 409: None}, path=CODE,
           tags=["chain"])
def ship_batch(code: str, body: Load[ShipCreate]):
    """Ship kilograms of one of the party's batches to another registered party (they leave it at once)."""
    session = get_session()
    batch = services.own_batch(session, actor(), code)
    given = body()
    shipment = transfers.ship(session, actor(), batch, to=given.to, quantity_kg=given.quantity_kg,
                              shipped_at=given.shipped_at, document_no=given.document_no)
    return ShipResult(shipment=shipment_public(session, shipment), batch=_batch(session, batch)), 201


def _answering(shipment_id: int, body: Load):
    """The session, the in-transit shipment addressed to the actor (404 otherwise, before the body is read) and
    the body of the answer to it."""
    session = get_session()
    shipment = transfers.incoming(session, actor(), shipment_id)
    return session, shipment, body()


@api_bp.post("/shipments/<int:shipment_id>/receive")
@access("producer")
@operation(body=ReceiveCreate, responses={201: ReceiveResult}, errors=ANSWER_ERRORS, path=SHIPMENT, tags=["chain"])
def receive_shipment(shipment_id: int, body: Load[ReceiveCreate]):
    """Receive a shipment: a new batch of the receiver linked to the shipped one (link kind transfer)."""
    session, shipment, given = _answering(shipment_id, body)
    batch = transfers.receive(session, actor(), shipment, received_at=given.received_at,
                              quantity_kg=given.quantity_kg, producer_lot=given.producer_lot)
    return ReceiveResult(batch=_batch(session, batch), shipment=shipment_public(session, shipment)), 201


@api_bp.post("/shipments/<int:shipment_id>/reject")
@access("producer")
@operation(body=RejectCreate, responses={200: RejectResult}, errors=ANSWER_ERRORS, path=SHIPMENT, tags=["chain"])
def reject_shipment(shipment_id: int, body: Load[RejectCreate]):
    """Refuse a shipment: its kilograms return to the sender's batch."""
    session, shipment, given = _answering(shipment_id, body)
    transfers.reject(session, actor(), shipment, reason=given.reason, rejected_at=given.rejected_at)
    return RejectResult(shipment=shipment_public(session, shipment))


@api_bp.get("/shipments")
@access("producer")
@operation(query=ShipmentListQuery, responses={200: ShipmentList}, tags=["chain"])
def list_shipments(query: ShipmentListQuery):
    """The party's shipments: direction=in (to it, default) or out (from it), optionally by status."""
    session = get_session()
    rows = transfers.shipments_of(session, actor(), query.direction, query.status,
                                  limit=_clamp(query.limit, 1, MAX_LIMIT), offset=_clamp(query.offset, 0, 10**9))
    parties: dict = {}
    codes: dict = {}
    return ShipmentList(shipments=[shipment_public(session, s, parties, codes) for s in rows],
                        direction=query.direction)


def purchase_public(session, record: Purchase) -> PurchasePublic:
    seller = session.get(Producer, record.seller_id) if record.seller_id else None
    return PurchasePublic(
        id=record.id, seller=seller.code if seller else None,
        seller_name=seller.name if seller else record.seller_name, town_code=record.town_code,
        quantity_kg=record.quantity_kg, grade=record.grade or None, price_yuan_per_kg=record.price_yuan_per_kg,
        purchased_at=_when(record.purchased_at, record.utc_offset_min),
        source_batch=session.get(Batch, record.source_batch_id).code if record.source_batch_id else None,
        origin="verified" if record.source_batch_id else "declared")


@api_bp.post("/purchases")
@access("producer")
@operation(body=PurchaseCreate, responses={201: PurchaseResult}, errors={404: "Unknown product", 409: None},
           tags=["chain"])
def create_purchase(body: Load[PurchaseCreate]):
    """Record a market purchase (收购) from a registered seller (and its batch) or an unregistered farmer."""
    session = get_session()
    given = body()
    result = transfers.purchase(session, actor(), transfers.PurchaseInput(
        quantity_kg=given.quantity_kg, seller=given.seller, seller_name=given.seller_name or "",
        town_code=given.town_code, purchased_at=given.purchased_at, source_batch=given.source_batch,
        grade=given.grade or "", price_yuan_per_kg=given.price_yuan_per_kg, product=given.product,
        producer_lot=given.producer_lot))
    out = PurchaseResult(purchase=purchase_public(session, result.purchase), batch=_batch(session, result.batch))
    if result.shipment is not None:
        out.shipment = shipment_public(session, result.shipment)
    return out, 201


SALE = {"event_id": "Id of the distribution record (the sale) of one of the party's batches"}
NOT_A_SALE = "No such sale, or a sale of another party"
REFUSED_CERTIFICATE = "The batch is withdrawn or its latest test failed"


@api_bp.get("/sales/<int:event_id>/certificate")
@access("producer")
@operation(responses={200: CertificatePublic}, errors={404: NOT_A_SALE, 409: "The sale was corrected later",
                                                       422: REFUSED_CERTIFICATE}, path=SALE, tags=["chain"])
def sale_certificate(event_id: int):
    """承诺达标合格证 of a sale to an unregistered buyer (a distribution record of the party's batch)."""
    cert = certificate.for_sale(get_session(), actor(), event_id, current_app.config["PUBLIC_BASE_URL"])
    return CertificatePublic(
        product=cert.product, quantity_kg=cert.quantity_kg, seller=cert.seller, contact=cert.contact,
        origin=cert.origin, issued_on=cert.issued_on, buyer=cert.buyer, commitment=certificate.COMMITMENT,
        basis=cert.basis, batch_code=cert.batch_code, display_code=cert.display_code, trace_url=cert.trace_url,
        pdf_url=url_for("api.sale_certificate_pdf", event_id=event_id, _external=True))


@api_bp.get("/sales/<int:event_id>/certificate.pdf")
@access("producer")
@operation(responses={200: (None, "The certificate as an A6 PDF page", "application/pdf")},
           errors={404: NOT_A_SALE, 409: "The sale was corrected later", 422: REFUSED_CERTIFICATE}, path=SALE,
           tags=["chain"])
def sale_certificate_pdf(event_id: int):
    """承诺达标合格证 of a sale to an unregistered buyer, as an A6 PDF."""
    cert = certificate.for_sale(get_session(), actor(), event_id, current_app.config["PUBLIC_BASE_URL"])
    return Response(certificate.pdf(cert), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.batch_code}.pdf"'})

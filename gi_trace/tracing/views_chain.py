"""Portal pages of the chain across owners: ship a batch (发货), the inbox of incoming shipments
(收货/拒收), and market purchases (收购) on a phone. Views parse the form, call one service through
`attempt` and render; the request commits once.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from flask_wtf.file import FileField, FileRequired
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import or_, select
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional as Opt

from gi_trace import formatting
from gi_trace.access import access, actor
from gi_trace.db import fail, get_session
from gi_trace.errors import DomainError
from gi_trace.registry.views_import import _read_upload
from gi_trace.registry.models import Producer, Region
from gi_trace.registry.services import public_name
from gi_trace.tracing import certificate, codes, qr, services, transfers
from gi_trace.tracing.purchase_import import OPTIONAL, REQUIRED, import_purchases
from gi_trace.tracing import portal_forms as pf
from gi_trace.tracing.models import Batch, Shipment
from gi_trace.web.forms import NumberField, attempt

bp = Blueprint("chain", __name__)

SEARCH_LIMIT = 20


class ShipForm(FlaskForm):
    to = StringField(_l("Receiver (credit code or registry number)"), validators=[InputRequired(), Length(max=40)])
    quantity_kg = NumberField(_l("Quantity (kg)"), validators=[InputRequired(), NumberRange(min=0)])
    shipped_at = DateTimeLocalField(_l("Shipped at"), format=pf.DATETIME_FORMAT, validators=[InputRequired()])
    document_no = StringField(_l("Waybill or invoice number"), validators=[Opt(), Length(max=64)])


class ReceiveForm(FlaskForm):
    received_at = DateTimeLocalField(_l("Received at"), format=pf.DATETIME_FORMAT, validators=[InputRequired()])
    quantity_kg = NumberField(_l("Quantity that arrived (kg)"), validators=[InputRequired(), NumberRange(min=0)])
    producer_lot = StringField(_l("Your own lot number"), validators=[Opt(), Length(max=40)])


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Why are the goods refused?"), validators=[InputRequired(), Length(max=1000)])


class PurchaseForm(FlaskForm):
    seller = HiddenField()
    seller_name = StringField(_l("Farmer's name (not registered)"), validators=[Opt(), Length(max=200)])
    town_code = SelectField(_l("Town where it grew"), choices=[], default="", validate_choice=False)
    quantity_kg = NumberField(_l("Quantity (kg)"), validators=[InputRequired(), NumberRange(min=0)])
    grade = SelectField(_l("Grade"), choices=[], default="", validate_choice=False)
    price_yuan_per_kg = NumberField(_l("Price (yuan per kg)"), validators=[Opt(), NumberRange(min=0)])
    source_batch = StringField(_l("Seller's batch code (on the package, if any)"), validators=[Opt(), Length(max=40)])
    purchased_at = DateTimeLocalField(_l("Bought at"), format=pf.DATETIME_FORMAT, validators=[InputRequired()])


def _now():
    return pf.local_now().replace(second=0, microsecond=0, tzinfo=None)


def _names(session, ids) -> dict[int, Producer]:
    ids = set(ids)
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Producer).where(Producer.id.in_(ids))).all()}


def _town_choices(session) -> list:
    towns = session.exec(select(Region).where(Region.level == "town").order_by(Region.code)).all()
    return pf.choices([pf.NONE] + [(t.code, t.name_zh) for t in towns])


@bp.route("/batches/<code>/ship", methods=["GET", "POST"])
@access("producer")
def ship(code: str):
    """发货: ship kilograms of one of the party's batches to another registered party."""
    session = get_session()
    user = actor()
    batch = services.own_batch(session, user, code)
    form = ShipForm()
    if not form.is_submitted():
        form.shipped_at.data = _now()
        form.to.data = request.args.get("to", "")
    if form.validate_on_submit():
        done = attempt(form, lambda: transfers.ship(
            session, user, batch, to=form.to.data, quantity_kg=form.quantity_kg.data,
            shipped_at=pf.local_iso(form.shipped_at.data), document_no=form.document_no.data))
        if done:
            flash(_("Shipped %(kg)s kg; the receiver sees it in its inbox.", kg=formatting.kg(done.value.quantity_kg, unit=False)),
                  "success")
            return redirect(url_for("tracing.batch_detail", code=batch.code))
    receivers = session.exec(select(Producer).where(Producer.kind.in_(("trader", "processor", "market", "retailer")),
                                                    Producer.id != user.producer_id)
                             .order_by(Producer.name).limit(200)).all()
    return render_template("tracing/chain/ship.html", form=form, batch=batch, display=codes.display,
                           receivers=receivers)


@bp.get("/shipments")
@access("producer")
def shipments():
    """The inbox (incoming shipments to receive or refuse) and what the party has shipped."""
    session = get_session()
    user = actor()
    incoming = transfers.shipments_of(session, user, "in", "in_transit", limit=100)
    recent_in = transfers.shipments_of(session, user, "in", None, limit=30)
    outgoing = transfers.shipments_of(session, user, "out", None, limit=30)
    everything = incoming + recent_in + outgoing
    parties = _names(session, [s.from_party_id for s in everything] + [s.to_party_id for s in everything])
    batch_ids = {s.batch_id for s in everything} | {s.received_batch_id for s in everything if s.received_batch_id}
    batches = {b.id: b for b in session.exec(select(Batch).where(Batch.id.in_(batch_ids))).all()} if batch_ids else {}
    return render_template("tracing/chain/shipments.html", incoming=incoming, recent_in=recent_in,
                           outgoing=outgoing, parties=parties, batches=batches, display=codes.display)


@bp.route("/shipments/<int:shipment_id>/receive", methods=["GET", "POST"])
@access("producer")
def receive(shipment_id: int):
    """收货: accept a shipment; a new batch holds what arrived."""
    session = get_session()
    user = actor()
    shipment = transfers.incoming(session, user, shipment_id)
    form = ReceiveForm()
    if not form.is_submitted():
        form.received_at.data = _now()
        form.quantity_kg.data = shipment.quantity_kg
    if form.validate_on_submit():
        done = attempt(form, lambda: transfers.receive(
            session, user, shipment, received_at=pf.local_iso(form.received_at.data),
            quantity_kg=form.quantity_kg.data, producer_lot=(form.producer_lot.data or "").strip() or None))
        if done:
            flash(_("Received: new batch %(code)s.", code=codes.display(done.value.code)), "success")
            return redirect(url_for("tracing.batch_detail", code=done.value.code))
    sender = session.get(Producer, shipment.from_party_id)
    source = session.get(Batch, shipment.batch_id)
    return render_template("tracing/chain/receive.html", form=form, shipment=shipment, sender=sender,
                           source=source, display=codes.display, reject_form=RejectForm(formdata=None))


@bp.post("/shipments/<int:shipment_id>/reject")
@access("producer")
def reject(shipment_id: int):
    """拒收: refuse a shipment; the kilograms return to the sender's batch."""
    session = get_session()
    user = actor()
    shipment = transfers.incoming(session, user, shipment_id)
    form = RejectForm()
    if form.validate_on_submit():
        done = attempt(form, lambda: transfers.reject(session, user, shipment, reason=form.reason.data))
        if done:
            flash(_("Shipment refused; the goods go back to the sender's batch."), "success")
            return redirect(url_for("chain.shipments"))
    receive_form = ReceiveForm(formdata=None)
    receive_form.received_at.data = _now()
    receive_form.quantity_kg.data = shipment.quantity_kg
    return render_template("tracing/chain/receive.html", form=receive_form, shipment=shipment,
                           sender=session.get(Producer, shipment.from_party_id),
                           source=session.get(Batch, shipment.batch_id), display=codes.display,
                           reject_form=form), 422


def _sellers(session, query: str) -> list[Producer]:
    """Registered sellers matching a name, registry number, phone or USCC."""
    text = (query or "").strip()
    if not text:
        return []
    like = f"%{text}%"
    return list(session.exec(select(Producer).where(or_(
        Producer.name.like(like), Producer.registry_no == text, Producer.uscc == text.upper(),
        Producer.contact_phone == text)).order_by(Producer.name).limit(SEARCH_LIMIT)).all())


@bp.route("/purchases/new", methods=["GET", "POST"])
@access("producer")
def purchase():
    """收购: record a purchase at the market, from a registered seller or an unregistered farmer."""
    session = get_session()
    user = actor()
    form = PurchaseForm()
    form.town_code.choices = _town_choices(session)
    scale = transfers.default_product(session).grade_scale or []  # grades named in the page's language
    form.grade.choices = pf.choices([pf.NONE] + [(g["grade"], formatting.grade(scale, g["grade"]))
                                                 for g in scale])
    query = request.args.get("q", "")
    if not form.is_submitted():
        form.purchased_at.data = _now()
        form.seller.data = request.args.get("seller", "")
    seller = None
    if form.seller.data:
        seller = session.exec(select(Producer).where(or_(Producer.uscc == form.seller.data,
                                                         Producer.registry_no == form.seller.data))).first()
    if form.validate_on_submit():
        done = attempt(form, lambda: transfers.purchase(session, user, transfers.PurchaseInput(
            quantity_kg=form.quantity_kg.data, seller=form.seller.data or None,
            seller_name=form.seller_name.data or "", town_code=form.town_code.data or None,
            purchased_at=pf.local_iso(form.purchased_at.data),
            source_batch=(form.source_batch.data or "").strip() or None, grade=form.grade.data or "",
            price_yuan_per_kg=form.price_yuan_per_kg.data)))
        if done:
            batch = done.value.batch
            flash(_("Purchase recorded: batch %(code)s, %(kg)s kg.", code=codes.display(batch.code),
                    kg=formatting.kg(batch.quantity_kg, unit=False)), "success")
            return redirect(url_for("chain.purchase"))
    recent = certificate.recent_purchases(session, user, limit=10)
    matches = _sellers(session, query)
    if not form.is_submitted() and not matches and re.search(r"[\u4e00-\u9fff]", query):
        form.seller_name.data = query.strip()  # a farmer not on the register: the name just searched for
    return render_template("tracing/chain/purchase.html", form=form, query=query, scale=scale,
                           matches=matches, seller=seller, public_name=public_name, recent=recent)


class PurchaseImportForm(FlaskForm):
    file = FileField(_l("File (CSV in UTF-8, or XLSX)"), validators=[FileRequired(message=_l("Choose a file to "
                                                                                             "upload."))])


@bp.route("/purchases/import", methods=["GET", "POST"])
@access("producer")
def purchase_import():
    """A day's purchases from a spreadsheet: all rows or none, every bad row named."""
    form = PurchaseImportForm()
    result = None
    status = 200
    if form.validate_on_submit():
        data, problem = _read_upload(form.file.data)
        if problem is None:
            try:
                result = import_purchases(get_session(), actor(), data, filename=form.file.data.filename)
            except DomainError as exc:
                problem = exc.message
            else:
                if not result.ok:
                    fail()  # a bad row: nothing of the file is kept
                    status = 422
                else:
                    flash(_("%(n)s purchases recorded.", n=result.inserted), "success")
                    return redirect(url_for("chain.purchase_import"))
        if problem is not None:
            fail()
            form.file.errors.append(problem)
            status = 400
    elif form.is_submitted():
        status = 400
    return render_template("tracing/chain/purchase_import.html", form=form, result=result,
                           columns=REQUIRED + OPTIONAL), status


@bp.get("/purchases/import/template.csv")
@access("producer")
def purchase_import_template():
    """The purchases file's header row, to fill in."""
    header = ",".join(REQUIRED + OPTIONAL) + "\r\n"
    return Response(header.encode("utf-8-sig"), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="purchases.csv"'})


# --- 承诺达标合格证 -------------------------------------------------------------------------------

def _certificate_page(cert: certificate.Certificate, pdf_url: str):
    return render_template("tracing/chain/certificate.html", cert=cert, commitment=certificate.COMMITMENT,
                           bases=certificate.BASES, pdf_url=pdf_url,
                           qr_svg=Markup(qr.svg_element(cert.trace_url, size="22mm")))


def _certificate_pdf(cert: certificate.Certificate) -> Response:
    return Response(certificate.pdf(cert), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{cert.batch_code}.pdf"'})


@bp.get("/shipments/<int:shipment_id>/certificate")
@access("producer")
def shipment_certificate(shipment_id: int):
    """承诺达标合格证 of a shipment: A6 print view."""
    cert = certificate.for_shipment(get_session(), actor(), shipment_id, current_app.config["PUBLIC_BASE_URL"])
    return _certificate_page(cert, url_for("chain.shipment_certificate_pdf", shipment_id=shipment_id))


@bp.get("/shipments/<int:shipment_id>/certificate.pdf")
@access("producer")
def shipment_certificate_pdf(shipment_id: int):
    """承诺达标合格证 of a shipment: A6 PDF."""
    return _certificate_pdf(certificate.for_shipment(get_session(), actor(), shipment_id,
                                                     current_app.config["PUBLIC_BASE_URL"]))


@bp.get("/purchases/<int:purchase_id>/certificate")
@access("producer")
def purchase_certificate(purchase_id: int):
    """承诺达标合格证 of a purchase (the buyer's intake record): A6 print view."""
    cert = certificate.for_purchase(get_session(), actor(), purchase_id, current_app.config["PUBLIC_BASE_URL"])
    return _certificate_page(cert, url_for("chain.purchase_certificate_pdf", purchase_id=purchase_id))


@bp.get("/purchases/<int:purchase_id>/certificate.pdf")
@access("producer")
def purchase_certificate_pdf(purchase_id: int):
    """承诺达标合格证 of a purchase: A6 PDF."""
    return _certificate_pdf(certificate.for_purchase(get_session(), actor(), purchase_id,
                                                     current_app.config["PUBLIC_BASE_URL"]))


@bp.get("/sales/<int:event_id>/certificate")
@access("producer")
def sale_certificate(event_id: int):
    """承诺达标合格证 of a sale to an unregistered buyer (a distribution record): A6 print view."""
    cert = certificate.for_sale(get_session(), actor(), event_id, current_app.config["PUBLIC_BASE_URL"])
    return _certificate_page(cert, url_for("chain.sale_certificate_pdf", event_id=event_id))


@bp.get("/sales/<int:event_id>/certificate.pdf")
@access("producer")
def sale_certificate_pdf(event_id: int):
    """承诺达标合格证 of a sale to an unregistered buyer: A6 PDF."""
    return _certificate_pdf(certificate.for_sale(get_session(), actor(), event_id,
                                                 current_app.config["PUBLIC_BASE_URL"]))

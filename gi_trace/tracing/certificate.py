"""承诺达标合格证 (MARA's certificate for edible agricultural products) per shipment, purchase or sale.

A sale to a buyer who is not on the register is recorded as a ``distribution`` event of the seller's batch
(free-text recipient and kilograms); its certificate is printed from that event.

The seller issues it with the goods: product, quantity, producer/seller name and contact, origin, date of
issue, the commitment (不使用禁用农药兽药、停用兽药和非法添加物，常规农药兽药残留不超标), its basis (委托检测 when a
laboratory test passed, 自我承诺达标 otherwise), a signature line and a QR to the trace page. An A6 print view
and an A6 PDF (a 300 dpi page image, like the label sheets). Refused for a batch that is withdrawn or whose
latest test failed.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace import formatting
from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, NotFound, Refused
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.tracing import codes, lineage, qr
from gi_trace.tracing.labels import CJK_FONT_DIRS, MM, _find_face
from gi_trace.tracing.models import Batch, Event, Purchase, Shipment
from gi_trace.tracing.rules import local_time
from gi_trace.tracing.services.gates import require_not_recalled
from gi_trace.tracing.services.visibility import _get

COMMITMENT = "我承诺对生产销售的食用农产品：不使用禁用农药兽药、停用兽药和非法添加物，常规农药兽药残留不超标，对承诺的真实性负责。"
BASES = ("委托检测", "自我检测", "内部质量控制", "自我承诺达标")
A6_PX = (round(105 * MM), round(148 * MM))


@dataclass
class Certificate:
    """What a 合格证 prints."""

    product: str
    quantity_kg: float
    seller: str
    contact: str
    origin: str
    issued_on: str  # local date
    basis: str
    batch_code: str
    trace_url: str
    buyer: str = ""

    @property
    def display_code(self) -> str:
        return codes.display(self.batch_code)


def _origin(session: Session, batch: Batch) -> str:
    """The towns the goods were harvested in (or declared from), by name."""
    found = lineage.trace(session, batch, "backward")
    towns = set(found.towns())
    declared = [n for n in found.nodes.values() if n.kind == "purchased"]
    if batch.kind in ("harvest", "purchased") and batch.origin_town_code:
        towns.add(batch.origin_town_code)
    towns |= {n.origin_town_code for n in declared if n.origin_town_code}
    names = {r.code: r.name_zh for r in session.exec(select(Region).where(Region.code.in_(towns))).all()} \
        if towns else {}
    return "、".join(names.get(t, t) for t in sorted(towns)) or "—"


def _basis(session: Session, batch: Batch) -> str:
    if batch.test_state == "passed":
        tested = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "testing")
                              .order_by(Event.seq.desc())).first()
        return BASES[0] if tested is not None and (tested.data or {}).get("lab") else BASES[3]
    return BASES[3]


def _check(session: Session, batch: Batch) -> None:
    if batch.is_withdrawn:
        raise Refused(_("Batch %(code)s has been withdrawn: no certificate can be issued for it.", code=batch.code),
                      code="withdrawn")
    require_not_recalled(session, batch)
    if batch.test_state == "failed":
        raise Refused(_("The latest test of batch %(code)s failed: no certificate can be issued for it.",
                        code=batch.code), code="test_failed")


def _build(session: Session, batch: Batch, quantity_kg: float, seller: Producer, when, offset: int,
           base_url: str, buyer: str = "") -> Certificate:
    _check(session, batch)
    product = session.get(Product, batch.product_id)
    return Certificate(product=product.name_zh, quantity_kg=quantity_kg, seller=seller.name,
                       contact=seller.contact_phone or seller.contact_name or "", origin=_origin(session, batch),
                       issued_on=local_time(when, offset).date().isoformat(), basis=_basis(session, batch),
                       batch_code=batch.code, trace_url=qr.trace_url(base_url, batch.code), buyer=buyer)


def for_shipment(session: Session, user: User, shipment_id: int, base_url: str) -> Certificate:
    """The sender's certificate for a shipment (the sender or the receiver may print it)."""
    shipment = _get(session, Shipment, shipment_id)
    if shipment is None or user is None or user.producer_id not in (shipment.from_party_id, shipment.to_party_id):
        raise NotFound(_("No such shipment."), field="shipment")
    batch = session.get(Batch, shipment.batch_id)
    sender = session.get(Producer, shipment.from_party_id)
    receiver = session.get(Producer, shipment.to_party_id)
    return _build(session, batch, shipment.quantity_kg, sender, shipment.shipped_at, shipment.utc_offset_min,
                  base_url, buyer=receiver.name)


def for_purchase(session: Session, user: User, purchase_id: int, base_url: str) -> Certificate:
    """The certificate of a purchase, for the buyer's intake record (进货查验): the goods' batch and seller."""
    record = _get(session, Purchase, purchase_id)
    if record is None or user is None or user.producer_id != record.buyer_id:
        raise NotFound(_("No such purchase."), field="purchase")
    batch = session.get(Batch, record.batch_id)
    buyer = session.get(Producer, record.buyer_id)
    if record.seller_id is not None:
        seller = session.get(Producer, record.seller_id)
    else:  # an unregistered farmer: the name the buyer recorded, its declared town
        seller = Producer(name=record.seller_name, kind="household", county_code="", town_code=record.town_code or "")
    return _build(session, batch, record.quantity_kg, seller, record.purchased_at, record.utc_offset_min, base_url,
                  buyer=buyer.name)


def for_sale(session: Session, user: User, event_id: int, base_url: str) -> Certificate:
    """The seller's certificate for a sale to an unregistered buyer (a distribution record of its own batch)."""
    event = _get(session, Event, event_id)
    batch = session.get(Batch, event.batch_id) if event is not None else None
    if (batch is None or event.stage != "distribution" or user is None or user.role != "producer"
            or user.producer_id != batch.producer_id):
        raise NotFound(_("No such sale."), field="sale")
    correction = session.exec(select(Event.id).where(Event.corrects_event_id == event.id)).first()
    if correction is not None:  # the record that stands is the correction: its certificate, not this one's
        raise Conflict(_("This sale was corrected later: print the certificate of the correction."), field="sale")
    data = event.data or {}
    quantity = data.get("kg") if data.get("kg") is not None else event.quantity_kg
    seller = session.get(Producer, batch.producer_id)
    return _build(session, batch, float(quantity or 0.0), seller, event.occurred_at, event.utc_offset_min, base_url,
                  buyer=str(data.get("recipient") or ""))


def recent_purchases(session: Session, user: User, limit: int = 30) -> list[Purchase]:
    return list(session.exec(select(Purchase).where(Purchase.buyer_id == user.producer_id)
                             .order_by(Purchase.purchased_at.desc(), Purchase.id.desc()).limit(limit)).all())


def _font(size_pt: float, bold: bool = False):
    name = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
    return _find_face(name, "Noto Sans CJK SC", round(size_pt / 72 * qr.LABEL_DPI))


def pdf(cert: Certificate) -> bytes:
    """The certificate as an A6 PDF page (300 dpi image) with its QR code."""
    from PIL import Image, ImageDraw

    title, body, small = _font(14, bold=True), _font(8.5), _font(7)
    if title is None or body is None or small is None:
        raise NotFound(_("PDF certificates need a Chinese font on the server (fonts-noto-cjk); use the print view. "
                         "Fonts are looked for in %(dirs)s.", dirs=", ".join(CJK_FONT_DIRS)))
    page = Image.new("1", A6_PX, 1)
    draw = ImageDraw.Draw(page)
    margin = round(7 * MM)
    width = A6_PX[0] - 2 * margin
    y = margin
    draw.text((A6_PX[0] // 2, y), "承诺达标合格证", font=title, fill=0, anchor="mt")
    y += round(title.size * 1.6)
    rows = [("产品名称", cert.product), ("数量（重量）", f"{cert.quantity_kg:g} 公斤"), ("生产者/销售者", cert.seller),
            ("联系方式", cert.contact or "—"), ("产地", cert.origin), ("开具日期", formatting.day(cert.issued_on, "zh")),
            ("收货方", cert.buyer or "—"), ("追溯码", cert.display_code)]
    for label, value in rows:
        text = f"{label}：{value}"
        for line in _wrap(draw, text, body, width):
            draw.text((margin, y), line, font=body, fill=0)
            y += round(body.size * 1.35)
    y += round(1.5 * MM)
    for line in _wrap(draw, COMMITMENT, small, width):
        draw.text((margin, y), line, font=small, fill=0)
        y += round(small.size * 1.35)
    y += round(1 * MM)
    boxes = "  ".join(("■" if basis == cert.basis else "□") + basis for basis in BASES)
    for line in _wrap(draw, "承诺依据：" + boxes, small, width):
        draw.text((margin, y), line, font=small, fill=0)
        y += round(small.size * 1.35)
    code_image = qr.image(cert.trace_url, box_size=max(2, round(22 * MM / 33)))
    side = code_image.size[0]
    bottom = A6_PX[1] - margin - side
    page.paste(code_image, (A6_PX[0] - margin - side, bottom))
    draw.text((margin, bottom + side // 3), "签名：____________", font=body, fill=0)
    draw.text((margin, bottom + side // 3 + round(body.size * 1.6)), "扫码查看追溯信息", font=small, fill=0)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=qr.LABEL_DPI, title=f"承诺达标合格证 {cert.display_code}", producer="gi-trace")
    return out.getvalue()


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines

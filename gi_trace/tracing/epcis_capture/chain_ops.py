"""Captured events that move goods between batches: split, merge and processing (one TransformationEvent is one
lineage operation), hand-overs between parties (shipping, receiving, return; a buyer's shipping + receiving pair
at one time is a market purchase), and unit codes (commissioning the packages, packing them into their lot).

Each goes through the service the portal and the JSON API use (`tracing.services.split|merge|transform`,
`tracing.transfers.ship|receive|reject|purchase`, `tracing.units.issue_units`), with the trace codes, lots and
package codes the document names.
"""
from __future__ import annotations

from typing import Callable, Optional

from flask_babel import gettext as _
from sqlmodel import select

from gi_trace.errors import DomainError, Refused, ValidationError
from gi_trace.registry.models import Producer
from gi_trace.tracing import codes, rules, services, transfers, units
from gi_trace.tracing.epcis_capture.context import COMMON_FIELDS, Context, Outcome, one_class, quantity, renamed
from gi_trace.tracing.epcis_capture.identify import Ref, document_no, parties, read_ref, town_of
from gi_trace.tracing.epcis_capture.parse import Incoming, last_segment, listed, mapping, vocab
from gi_trace.tracing.models import Batch, Event, ProductLine, Shipment, UnitCode

LINEAGE_FIELDS = {**COMMON_FIELDS, "inputs": "inputQuantityList", "inputs.quantity_kg": "inputQuantityList",
                  "quantity_kg": "inputQuantityList[0].quantity", "parts": "outputQuantityList",
                  "data.outputs": "outputQuantityList", "producer_lot": "gt:outputs", "code": "outputQuantityList",
                  "data.product_form": "gt:outputs"}


# --- split, merge, processing --------------------------------------------------------------------------

def _inputs(ctx: Context, inc: Incoming) -> list[tuple[Batch, float]]:
    found = []
    for k, entry in enumerate(listed(inc.raw.get("inputQuantityList"))):
        field = f"inputQuantityList[{k}]"
        ref = read_ref(entry.get("epcClass") if isinstance(entry, dict) else None)
        found.append((ctx.batches.get(ref, field + ".epcClass"), quantity(entry, field)))
    if not found:
        raise ValidationError(_("Name the batches the operation takes from (inputQuantityList)."),
                              field="inputQuantityList")
    return found


def _outputs(ctx: Context, inc: Incoming, line_id: Optional[int], processing: bool) -> list[dict]:
    """Each output's kilograms, trace code, lot and (processing) form, from its class, gt:outputs and the ILMD."""
    details = {o.get("gt:epcClass"): o for o in listed(inc.ext("outputs")) if isinstance(o, dict)}
    entries = listed(inc.raw.get("outputQuantityList"))
    ilmd = inc.raw.get("ilmd") if isinstance(inc.raw.get("ilmd"), dict) else {}
    shared_lot = ilmd.get("cbvmda:lotNumber") if isinstance(ilmd.get("cbvmda:lotNumber"), str) else None
    outputs = []
    for k, entry in enumerate(entries):
        field = f"outputQuantityList[{k}].epcClass"
        entry = mapping(entry)
        ref = read_ref(entry.get("epcClass"))
        if ctx.batches.find(ref, field) is not None:
            raise Refused(_("%(uri)s names a batch that already exists: an operation makes new batches.",
                            uri=ref.uri[:120]), field=field, code="output_exists")
        code, line, lot = ctx.batches.new_identity(ref, field)
        if line is not None and (processing or line.id != line_id):
            raise Refused(_("A processed batch, or a part of a batch of another product line, is not a lot of GTIN "
                            "%(gtin)s: name it …/t/<trace code>.", gtin=line.gtin14), field=field,
                          code="output_line")
        detail = details.get(entry.get("epcClass"), {})
        lot = lot or detail.get("gt:lot") or (shared_lot if len(entries) == 1 and shared_lot != code else None)
        out = {"quantity_kg": quantity(entry, f"outputQuantityList[{k}]"), "code": code}
        if lot:
            out["producer_lot"] = lot
        form = detail.get("gt:productForm") or inc.ext("product_form")
        if processing and form:
            out["product_form"] = form
        outputs.append(out)
    if not outputs:
        raise ValidationError(_("Name the batches the operation makes (outputQuantityList)."),
                              field="outputQuantityList")
    return outputs


def _lineage_outcome(result: services.LineageResult, batches: dict[int, Batch]) -> Outcome:
    out = Outcome(names=[f"op:{result.input_events[0].op_id}"])
    for child in result.children:
        out.batch(child)
    for event in result.input_events + result.output_events:
        out.event(batches.get(event.batch_id) or next(c for c in result.children if c.id == event.batch_id), event)
    return out


def _lineage(ctx: Context, inc: Incoming, kind: str) -> Outcome:
    taken = _inputs(ctx, inc)
    first = taken[0][0]
    ctx.check_mark(inc, first.producer_id, first.product_id)
    outputs = _outputs(ctx, inc, first.product_line_id, kind == "processing")
    new_codes = [o.pop("code") for o in outputs]
    total_in, total_out = rules.kg(sum(kg for _b, kg in taken)), rules.kg(sum(o["quantity_kg"] for o in outputs))
    where = {"occurred_at": inc.at, "location": town_of(inc.raw)}
    try:
        if kind == "split":
            if len(taken) != 1:
                raise ValidationError(_("A split takes from one batch."), field="inputQuantityList")
            if abs(total_in - total_out) > rules.EPSILON_KG:
                raise Refused(_("Mass balance: the parts (%(out)s kg) must add up to what the split takes (%(in)s kg).",
                                out=total_out, **{"in": total_in}), field="outputQuantityList",
                              code="quantity_from_nothing")
            result = services.split(ctx.session, ctx.user, first, outputs, new_codes=new_codes, **where)
        elif kind == "merge":
            if len(outputs) != 1:
                raise ValidationError(_("A merge makes one batch."), field="outputQuantityList")
            if abs(total_in - total_out) > rules.EPSILON_KG:
                raise Refused(_("Mass balance: a merge makes what it takes (%(in)s kg), not %(out)s kg.",
                                out=total_out, **{"in": total_in}), field="outputQuantityList[0].quantity",
                              code="quantity_from_nothing")
            result = services.merge(ctx.session, ctx.user, taken, producer_lot=outputs[0].get("producer_lot"),
                                    new_codes=new_codes, **where)
        else:
            extra = {k: v for k, v in {"process": inc.ext("process"), "product_form": inc.ext("product_form")}.items()
                     if v}
            result = services.transform(ctx.session, ctx.user, taken, outputs, extra=extra, new_codes=new_codes,
                                        **where)
    except DomainError as exc:
        raise renamed(exc, LINEAGE_FIELDS, "inputQuantityList") from None
    return _lineage_outcome(result, {b.id: b for b, _kg in taken})


def split(ctx: Context, inc: Incoming) -> Outcome:
    return _lineage(ctx, inc, "split")


def merge(ctx: Context, inc: Incoming) -> Outcome:
    return _lineage(ctx, inc, "merge")


def processing(ctx: Context, inc: Incoming) -> Outcome:
    return _lineage(ctx, inc, "processing")


# --- hand-overs ------------------------------------------------------------------------------------

HANDOVER_FIELDS = {**COMMON_FIELDS, "to": "destinationList", "batch": "quantityList[0].epcClass",
                   "quantity_kg": "quantityList[0].quantity", "document_no": "bizTransactionList",
                   "reason": "gt:reason", "seller": "sourceList", "source_batch": "quantityList[0].epcClass",
                   "shipment": "sourceList", "code": "quantityList[0].epcClass", "producer_lot": "gt:lot"}


def _ends(ctx: Context, inc: Incoming) -> tuple[Producer, Producer]:
    source, destination = parties(inc.raw, ctx.party_id, ctx.session)
    if source is None or destination is None:
        raise ValidationError(_("A hand-over names its sender and receiver: sourceList and destinationList with type "
                                "owning_party."), field="sourceList" if source is None else "destinationList")
    if source.id == destination.id:
        raise ValidationError(_("The sender and the receiver are the same party."), field="destinationList")
    return source, destination


def shipping(ctx: Context, inc: Incoming) -> Outcome:
    source, destination = _ends(ctx, inc)
    ref, kg, field = one_class(inc)
    if source.id == ctx.party_id:
        batch = ctx.batches.get(ref, field)
        ctx.check_mark(inc, batch.producer_id, batch.product_id)
        try:
            shipment = transfers.ship(ctx.session, ctx.user, batch, to=destination.code, quantity_kg=kg,
                                      shipped_at=inc.at, document_no=document_no(inc.raw, "desadv"))
        except DomainError as exc:
            raise renamed(exc, HANDOVER_FIELDS, field) from None
        return Outcome(names=[f"shipment:{shipment.op_id}:shipping"],
                       records=[{"kind": "shipment", "id": shipment.id}]).event(batch, _ship_event(ctx, shipment))
    if destination.id != ctx.party_id:
        raise Refused(_("Your business is neither the sender nor the receiver of this hand-over."),
                      field="sourceList", code="not_yours")
    return _purchase(ctx, inc, source, ref, kg, field)


def _ship_event(ctx: Context, shipment: Shipment) -> Event:
    return ctx.session.get(Event, shipment.ship_event_id)


def _purchase(ctx: Context, inc: Incoming, seller: Producer, ref: Optional[Ref], kg: float, field: str) -> Outcome:
    """The buyer's record of a market purchase: the seller's shipping and the buyer's receiving at one time."""
    receipt = next((e for e in ctx.events.values() if e.index not in ctx.handled and e.at == inc.at
                    and _is_receipt(e, inc)), None)
    if receipt is None:
        raise Refused(_("A shipment is recorded by its sender. As its receiver, capture the receiving event; a market "
                        "purchase is the shipping and the receiving event together, at the same time."),
                      field="sourceList", code="not_yours")
    source = _seller_batch(ctx, ref, seller, field)
    ctx.check_mark(inc, seller.id, source.product_id)
    new_ref, got_kg, new_field = one_class(receipt)
    ctx.check_mark(receipt, ctx.party_id, source.product_id)
    if abs(got_kg - kg) > rules.EPSILON_KG:
        raise Refused(_("A purchase receives what was bought: %(got)s kg received, %(kg)s kg shipped.", got=got_kg,
                        kg=kg), field="quantityList[0].quantity", code="quantity_from_nothing")
    _new_batch_ref(ctx, new_ref, new_field)
    try:
        done = transfers.purchase(ctx.session, ctx.user, transfers.PurchaseInput(
            quantity_kg=kg, seller=seller.code, source_batch=source.code, purchased_at=inc.at,
            producer_lot=receipt.ext("lot")), code=new_ref.code if new_ref else None)
    except DomainError as exc:
        raise renamed(exc, HANDOVER_FIELDS, field) from None
    shipment = done.shipment
    ctx.handled[receipt.index] = Outcome(names=[f"shipment:{shipment.op_id}:receiving"],
                                         records=[{"kind": "shipment", "id": shipment.id}]).batch(done.batch)
    return Outcome(names=[f"shipment:{shipment.op_id}:shipping"], records=[
        {"kind": "shipment", "id": shipment.id}, {"kind": "purchase", "id": done.purchase.id}])


def market_purchase(ctx: Context, inc: Incoming) -> Outcome:
    """A purchase from a farmer not registered here (the export's `_market_purchase`): the buyer's new batch, its
    origin declared (the town in `ilmd.gt:declaredTown`), not verified. The seller's name is personal information
    the export never carries; a buyer's system may send it as `gt:sellerName`, else the purchase says it was not
    named in the captured document."""
    ref, kg, field = one_class(inc)
    _new_batch_ref(ctx, ref, field)
    source, destination = parties(inc.raw, ctx.party_id, ctx.session)
    if source is not None:
        raise ValidationError(_("A purchase from a farmer not registered here names no sourceList; a registered "
                                "seller's sale is its shipping and your receiving event."), field="sourceList")
    if destination is not None and destination.id != ctx.party_id:
        raise Refused(_("Your business is not the buyer of this purchase."), field="destinationList",
                      code="not_yours")
    ilmd = mapping(inc.raw.get("ilmd"))
    town = last_segment(ilmd.get("gt:declaredTown"), "town")
    if not town:
        raise ValidationError(_("Give the town the seller says the goji grew in (ilmd gt:declaredTown, …/id/town/"
                                "<code>)."), field="ilmd.gt:declaredTown")
    product = ctx.batches.product(None, inc.ext("product"), field)
    ctx.check_mark(inc, ctx.party_id, product.id)
    name = inc.ext("sellerName")
    try:
        done = transfers.purchase(ctx.session, ctx.user, transfers.PurchaseInput(
            quantity_kg=kg, seller_name=name if isinstance(name, str) and name.strip() else
            _("Not named in the captured EPCIS document"), town_code=town, purchased_at=inc.at,
            grade=inc.ext("grade") or "", product=product.slug, producer_lot=inc.ext("lot")),
            code=ref.code if ref else None)
    except DomainError as exc:
        raise renamed(exc, {**HANDOVER_FIELDS, "town_code": "ilmd.gt:declaredTown", "seller_name": "gt:sellerName",
                            "grade": "gt:grade"}, field) from None
    first = ctx.session.exec(select(Event).where(Event.batch_id == done.batch.id).order_by(Event.seq)).first()
    out = Outcome().batch(done.batch).event(done.batch, first)
    out.records.append({"kind": "purchase", "id": done.purchase.id})
    return out


def _is_receipt(candidate: Incoming, shipped: Incoming) -> bool:
    raw = candidate.raw
    return (candidate.kind == "ObjectEvent" and vocab(raw.get("bizStep")) == "receiving"
            and vocab(raw.get("disposition")) != "returned"
            and raw.get("sourceList") == shipped.raw.get("sourceList")
            and raw.get("destinationList") == shipped.raw.get("destinationList"))


def _seller_batch(ctx: Context, ref: Optional[Ref], seller: Producer, field: str) -> Batch:
    batch = None
    if ref is not None and ref.code:
        batch = ctx.session.exec(select(Batch).where(Batch.code == ref.code)).first()
    elif ref is not None and ref.dl:
        line = ctx.session.exec(select(ProductLine).where(ProductLine.gtin14 == ref.gtin)).first()
        batch = ctx.session.exec(select(Batch).where(Batch.producer_id == seller.id, Batch.producer_lot == ref.lot,
                                                     Batch.product_line_id == line.id)).first() if line else None
    if batch is None or batch.producer_id != seller.id:
        raise Refused(_("%(uri)s is not a batch of the seller %(party)s.", uri=(ref.uri if ref else "")[:120],
                        party=seller.name), field=field, code="unknown_batch")
    return batch


def _new_batch_ref(ctx: Context, ref: Optional[Ref], field: str) -> None:
    """The receiver's new batch: named by a trace code not in use (or nothing), never by a product line's lot."""
    if ref is not None and ref.dl:
        raise Refused(_("A received batch is not a lot of a product line: name it …/t/<trace code>."), field=field,
                      code="output_line")
    if ref is not None and ctx.batches.find(ref, field) is not None:
        raise Refused(_("%(uri)s names a batch that already exists: receiving makes a new batch.", uri=ref.uri[:120]),
                      field=field, code="output_exists")


def _in_transit(ctx: Context, inc: Incoming, sender: Producer) -> Shipment:
    """The shipment from the sender to the party that the event receives or returns (by waybill when several)."""
    query = select(Shipment).where(Shipment.from_party_id == sender.id, Shipment.to_party_id == ctx.party_id,
                                   Shipment.status == "in_transit", Shipment.shipped_at <= inc.at)
    number = document_no(inc.raw, "desadv")
    if number:
        query = query.where(Shipment.document_no == number)
    found = list(ctx.session.exec(query.order_by(Shipment.id)).all())
    if not found:
        raise Refused(_("No shipment from %(party)s to your business is in transit%(doc)s.", party=sender.name,
                        doc=(" (" + number + ")") if number else ""), field="sourceList", code="no_shipment")
    if len(found) > 1:
        raise Refused(_("%(n)s shipments from %(party)s to your business are in transit: name the waybill or invoice "
                        "(bizTransactionList, type desadv).", n=len(found), party=sender.name),
                      field="bizTransactionList", code="ambiguous_shipment")
    return found[0]


def _receiver(ctx: Context, inc: Incoming) -> Producer:
    source, destination = _ends(ctx, inc)
    if destination.id != ctx.party_id:
        raise Refused(_("Goods are received (or refused) by their receiver: your business is not the receiver."),
                      field="destinationList", code="not_yours")
    return source


def receiving(ctx: Context, inc: Incoming) -> Outcome:
    sender = _receiver(ctx, inc)
    ref, kg, field = one_class(inc)
    _new_batch_ref(ctx, ref, field)
    shipment = _in_transit(ctx, inc, sender)
    source = ctx.session.get(Batch, shipment.batch_id)
    ctx.check_mark(inc, ctx.party_id, source.product_id)
    try:
        batch = transfers.receive(ctx.session, ctx.user, shipment, received_at=inc.at, quantity_kg=kg,
                                  producer_lot=inc.ext("lot"), code=ref.code if ref else None)
    except DomainError as exc:
        raise renamed(exc, HANDOVER_FIELDS, field) from None
    return Outcome(names=[f"shipment:{shipment.op_id}:receiving"],
                   records=[{"kind": "shipment", "id": shipment.id}]).batch(batch)


def return_(ctx: Context, inc: Incoming) -> Outcome:
    sender = _receiver(ctx, inc)
    ref, _kg, field = one_class(inc, weighed=False)
    shipment = _in_transit(ctx, inc, sender)
    source = ctx.session.get(Batch, shipment.batch_id)
    if ref is None or ref.code not in (None, source.code) or (ref.dl and ref.lot != source.producer_lot):
        raise Refused(_("A return names the goods as shipped: batch %(code)s.", code=codes.display(source.code)),
                      field=field, code="unknown_batch")
    try:
        transfers.reject(ctx.session, ctx.user, shipment, reason=inc.ext("reason"), rejected_at=inc.at)
    except DomainError as exc:
        raise renamed(exc, HANDOVER_FIELDS, field) from None
    return Outcome(names=[f"shipment:{shipment.op_id}:return"], records=[{"kind": "shipment", "id": shipment.id}])


# --- unit codes ----------------------------------------------------------------------------------------

UNIT_FIELDS = {**COMMON_FIELDS, "count": "epcList", "codes": "epcList", "package_kg": "gt:packageKg"}


def _unit_codes(values, key: str) -> list[tuple[str, Optional[Ref]]]:
    found = []
    for k, value in enumerate(listed(values)):
        ref = read_ref(value)
        code = ref.serial if ref and ref.serial else (ref.code if ref and ref.code and not ref.fresh else None)
        if code is None:
            raise ValidationError(_("Name each package as …/01/<GTIN>/10/<lot>/21/<unit code> or …/t/<unit code>."),
                                  field=f"{key}[{k}]")
        found.append((code, ref))
    if not found:
        raise ValidationError(_("Name the packages."), field=key)
    return found


def units_(ctx: Context, inc: Incoming) -> Outcome:
    """Commissioning packages: unit codes issued under their lot (named by its Digital Link, by the packing event's
    parent in this document, or by the ILMD lot number)."""
    named = _unit_codes(inc.raw.get("epcList"), "epcList")
    lots = {ref.dl for _c, ref in named if ref.dl}
    parents = {ctx.batches.hints.parent_of_unit.get(code) for code, _r in named} - {None}
    ilmd = inc.raw.get("ilmd") if isinstance(inc.raw.get("ilmd"), dict) else {}
    if len(lots) == 1:
        batch = ctx.batches.get(Ref("", gtin=next(iter(lots))[0], lot=next(iter(lots))[1]), "epcList[0]")
    elif len(parents) == 1:
        batch = ctx.batches.get(Ref("", code=parents.pop()), "epcList[0]")
    elif isinstance(ilmd.get("cbvmda:lotNumber"), str) and not lots and not parents:
        lot = ilmd["cbvmda:lotNumber"]  # the export writes the batch's code where it has no lot number
        batch = ctx.session.exec(select(Batch).where(Batch.producer_id == ctx.party_id,
                                                     Batch.producer_lot == lot)).first()
        if batch is None and codes.parse(lot):
            batch = ctx.batches.find(Ref("", code=codes.parse(lot)), "ilmd.cbvmda:lotNumber")
        if batch is None:
            raise Refused(_("Lot %(lot)s is not one of your batches.", lot=lot[:40]), field="ilmd.cbvmda:lotNumber",
                          code="unknown_batch")
    else:
        raise ValidationError(_("The packages of one commissioning belong to one lot: name it (…/01/<GTIN>/10/<lot>/21/…, "
                                "a packing event with its parentID, or ilmd cbvmda:lotNumber)."), field="epcList")
    ctx.check_mark(inc, batch.producer_id, batch.product_id)
    try:
        issued = units.issue_units(ctx.session, ctx.user, batch, len(named), inc.ext("packageKg"),
                                   named=[c for c, _r in named], issued_at=inc.at)
    except DomainError as exc:
        raise renamed(exc, UNIT_FIELDS, "epcList") from None
    first, last = issued[0].serial, issued[-1].serial
    return Outcome(names=[f"units:{batch.code}:{first}-{last}:commissioning"],
                   records=[{"kind": "units", "batch": batch.code, "first": first, "last": last}])


def packing(ctx: Context, inc: Incoming) -> Outcome:
    """Packing packages into their lot: the packages commissioned together under the parent batch (nothing new is
    made: the eventID is kept for the export)."""
    parent = ctx.batches.get(read_ref(inc.raw.get("parentID")), "parentID")
    named = _unit_codes(inc.raw.get("childEPCs"), "childEPCs")
    rows = {u.code: u for u in ctx.session.exec(select(UnitCode).where(
        UnitCode.code.in_([c for c, _r in named]))).all()}
    for k, (code, _ref) in enumerate(named):
        if code not in rows or rows[code].batch_id != parent.id:
            raise Refused(_("%(code)s is not a package of batch %(batch)s.", code=codes.display(code),
                            batch=codes.display(parent.code)), field=f"childEPCs[{k}]", code="unknown_unit")
    issued_at = rows[named[0][0]].issued_at
    group = ctx.session.exec(select(UnitCode).where(UnitCode.batch_id == parent.id, UnitCode.issued_at == issued_at)
                             .order_by(UnitCode.serial)).all()
    if {u.code for u in group} != set(rows):
        raise Refused(_("A packing event packs the packages commissioned together (one issue of unit codes, %(n)s "
                        "packages here).", n=len(group)), field="childEPCs", code="packing_group")
    ctx.check_mark(inc, parent.producer_id, parent.product_id)
    return Outcome(names=[f"units:{parent.code}:{group[0].serial}-{group[-1].serial}:packing"])


HANDLERS: dict[str, Callable[[Context, Incoming], Outcome]] = {
    "split": split, "merge": merge, "processing": processing, "shipping": shipping, "receiving": receiving,
    "return": return_, "units": units_, "packing": packing, "market_purchase": market_purchase,
}

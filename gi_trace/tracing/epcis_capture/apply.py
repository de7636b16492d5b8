"""Which domain operation a captured event is, and the stage events: planting, harvest, drying, testing,
storage and transport, distribution, withdrawal, and their corrections.

Every event goes through the same service the portal and the JSON API use (`tracing.services.record_event`,
`open_batch`, `withdraw`), so stage order, mass balance, authorisation, recall, limits and safety intervals are
checked exactly as there. The mapping is the export's (tracing.epcis) read backwards; an event of another kind
is refused with the reason, never dropped.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from flask_babel import gettext as _

from gi_trace.errors import DomainError, Refused, ValidationError
from gi_trace.registry.models import Product
from gi_trace.tracing import services, substances
from gi_trace.tracing.epcis_capture import chain_ops
from gi_trace.tracing.epcis_capture.context import COMMON_FIELDS, Context, Outcome, one_class, renamed
from gi_trace.tracing.epcis_capture.identify import document_no, plot_of, town_of
from gi_trace.tracing.epcis_capture.parse import Incoming, iso_time, listed, mapping, vocab
from gi_trace.tracing.epcis_ids import MG_PER_KG, PERCENT, SULFUR_DIOXIDE, WATER
from gi_trace.tracing.models import Batch
from gi_trace.tracing.rules import test_outcome
from gi_trace.tracing.services import BatchInput, EventInput

LINEAGE = ("split", "merge", "processing")


def kind_of(inc: Incoming) -> str:
    """The domain operation an event is; Refused naming what cannot be captured here."""
    raw = inc.raw
    step, action, disposition = vocab(raw.get("bizStep")), raw.get("action"), vocab(raw.get("disposition"))
    stage = inc.ext("stage")
    if inc.kind == "ObjectEvent" and action == "ADD" and step == "receiving" and stage == "purchase":
        return "market_purchase"
    if inc.kind == "ObjectEvent" and action == "ADD" and step == "commissioning":
        if raw.get("epcList"):
            return "units"
        if raw.get("quantityList"):
            return "harvest"
    if inc.kind == "ObjectEvent" and action == "OBSERVE":
        if stage == "planting":
            return "planting"
        if step == "inspecting":
            return "testing"
        if step in ("storing", "transporting"):
            return "storage"
        if step == "shipping":
            return "shipping" if raw.get("destinationList") else "distribution"
        if step == "receiving":
            return "return" if disposition == "returned" else "receiving"
        if step == "holding" and disposition == "recalled":
            if inc.ext("withdrawnBatch") is not None:
                raise Refused(_("This event is derived from the withdrawal of batch %(code)s, whose recall reaches every "
                                "batch made from it: capture that withdrawal; this event is then already recorded.",
                                code=str(inc.ext("withdrawnBatch"))[:20]), field="gt:withdrawnBatch",
                              code="derived_recall")
            return "withdrawal"
    if inc.kind == "TransformationEvent":
        if stage == "drying" or stage in LINEAGE:
            return stage
        if stage is None:
            inputs, outputs = listed(raw.get("inputQuantityList")), listed(raw.get("outputQuantityList"))
            if step == "repackaging" and len(inputs) == 1:
                return "split"
            if step == "commissioning" and len(inputs) > 1 and len(outputs) == 1 and not _processed(inc):
                return "merge"
            if step == "commissioning" and _processed(inc):
                return "processing"
    if inc.kind == "ObjectEvent" and inc.ext("liftOf") is not None:
        raise Refused(_("Only a regulator lifts a recall from a batch; a party's system cannot send it."),
                      field="gt:liftOf", code="not_capturable")
    if inc.kind == "AggregationEvent" and action == "ADD" and step == "packing":
        return "packing"
    what = " ".join(str(v) for v in (inc.kind, action, step, disposition, stage) if v)
    raise Refused(_("This kind of event cannot be captured here (%(what)s). Captured are: planting, harvest, drying, "
                    "testing, storage and transport, distribution, withdrawal, split, merge, processing, unit codes "
                    "and their packing, shipping, receiving and returns, purchases from farmers not registered here, "
                    "and corrections of stage events.",
                    what=what[:120]), field="bizStep" if inc.kind != "TransformationEvent" else "gt:stage",
                  code="not_capturable")


def _processed(inc: Incoming) -> bool:
    outputs = inc.ext("outputs")
    return bool(inc.ext("product_form") or inc.ext("process") or (isinstance(outputs, list) and any(
        isinstance(o, dict) and o.get("gt:productForm") for o in outputs)))


def handle(ctx: Context, inc: Incoming) -> Outcome:
    """Record one event through the domain services; DomainError (its field named as the event names it)."""
    kind = kind_of(inc)
    handler: Callable[[Context, Incoming], Outcome] = HANDLERS.get(kind) or chain_ops.HANDLERS[kind]
    return handler(ctx, inc)


# --- stage events ----------------------------------------------------------------------------------------

def _gt(inc: Incoming, names: tuple[str, ...]) -> dict:
    """Stage data from the event's gt: extension properties (the export's `_ext`)."""
    return {name: inc.ext(name) for name in names if inc.ext(name) not in (None, "", [])}


def _record(ctx: Context, inc: Incoming, batch: Batch, stage: str, data: dict, kg: Optional[float], fields: dict,
            default: str, *, location: Any = None) -> Outcome:
    """record_event with the event's time, place and correction; refusals renamed to the event's fields. The
    recorded event is the outcome's `made`."""
    corrects = inc.ext("corrects")
    outcome = Outcome()
    try:
        target = ctx.target_event(batch, corrects) if corrects is not None else None
        event = services.record_event(ctx.session, ctx.user, batch, EventInput(
            stage=stage, occurred_at=inc.at, quantity_kg=kg, location=location if location is not None else
            town_of(inc.raw), data=data, corrects_event_id=target.id if target else None,
            correction_reason=inc.ext("correctionReason") or ""))
    except DomainError as exc:
        raise renamed(exc, {**COMMON_FIELDS, **fields}, default) from None
    if target is not None:
        outcome.declared_at = _declared(ctx, corrects, inc.event_id)
    outcome.made = event
    return outcome.event(batch, event)


def _declared(ctx: Context, corrected_id: str, own_id: str):
    """When the sender declared the corrected event erroneous: its errorDeclaration in this document."""
    corrected = ctx.by_event_id(corrected_id)
    declaration = corrected.raw.get("errorDeclaration") if corrected is not None else None
    if isinstance(declaration, dict) and own_id in listed(declaration.get("correctiveEventIDs")):
        return iso_time(declaration.get("declarationTime"), "errorDeclaration.declarationTime")
    return None


def _harvest_batch(ctx: Context, inc: Incoming, cultivar: Any) -> tuple[Batch, Outcome]:
    """The harvest batch a planting or harvest names; opened (with the code, lot and line it names) when new."""
    ref, _kg, field = one_class(inc, weighed=False)
    batch = ctx.batches.find(ref, field)
    if batch is not None:
        return batch, Outcome()
    code, line, lot = ctx.batches.new_identity(ref, field)
    product = ctx.batches.product(line, inc.ext("product"), field)
    ctx.check_mark(inc, ctx.party_id, product.id)
    try:
        batch = services.open_batch(ctx.session, ctx.user, product, BatchInput(
            cultivar=cultivar if isinstance(cultivar, str) else "", producer_lot=lot,
            product_line_id=line.id if line else None), code=code)
    except DomainError as exc:
        raise renamed(exc, {"cultivar": "ilmd.gt:cultivar"}, field) from None
    return batch, Outcome().batch(batch)


def planting(ctx: Context, inc: Incoming) -> Outcome:
    batch, made = _harvest_batch(ctx, inc, inc.ext("cultivar"))
    data = {"plot_id": plot_of(ctx.session, inc.raw, ctx.party_id), **_gt(inc, ("cultivar", "planted_on", "inputs"))}
    done = _record(ctx, inc, batch, "planting", data, None, {"data.plot_id": "readPoint.id"}, "quantityList[0]")
    return _merge(made, done)


def harvest(ctx: Context, inc: Incoming) -> Outcome:
    ilmd = inc.raw.get("ilmd") if isinstance(inc.raw.get("ilmd"), dict) else {}
    batch, made = _harvest_batch(ctx, inc, ilmd.get("gt:cultivar"))
    ctx.check_mark(inc, batch.producer_id, batch.product_id)
    _ref, kg, _field = one_class(inc)
    data = {"plot_id": plot_of(ctx.session, inc.raw, ctx.party_id), "fresh_kg": kg}
    if ilmd.get("gt:pickingRound") is not None:
        data["picking_round"] = ilmd["gt:pickingRound"]
    done = _record(ctx, inc, batch, "harvest", data, kg, {"data.plot_id": "readPoint.id", "quantity_kg":
                   "quantityList[0].quantity", "data.fresh_kg": "quantityList[0].quantity",
                   "data.picking_round": "ilmd.gt:pickingRound"}, "quantityList[0]")
    return _merge(made, done)


def _merge(first: Outcome, second: Outcome) -> Outcome:
    first.records += second.records
    first.names += second.names
    first.declared_at = second.declared_at
    return first


def drying(ctx: Context, inc: Incoming) -> Outcome:
    fresh, fresh_kg, fresh_field = one_class(inc, "inputQuantityList")
    dried, dried_kg, dried_field = one_class(inc, "outputQuantityList")
    batch = ctx.batches.get(fresh, fresh_field)
    if ctx.batches.find(dried, dried_field) is not batch:
        raise ValidationError(_("Drying turns a batch's fresh goji into its dried goji: the output must name the same "
                                "batch as the input."), field=dried_field)
    ctx.check_mark(inc, batch.producer_id, batch.product_id)
    data = {**_gt(inc, ("method", "temperature_c", "moisture_pct", "started_at", "ended_at")),
            "fresh_kg_in": fresh_kg, "dried_kg_out": dried_kg}
    return _record(ctx, inc, batch, "drying", data, dried_kg, {
        "quantity_kg": "outputQuantityList[0].quantity", "data.dried_kg_out": "outputQuantityList[0].quantity",
        "data.fresh_kg_in": "inputQuantityList[0].quantity"}, fresh_field)


def _own_batch(ctx: Context, inc: Incoming, weighed: bool = False) -> tuple[Batch, Any, str]:
    ref, kg, field = one_class(inc, weighed=weighed)
    batch = ctx.batches.get(ref, field)
    ctx.check_mark(inc, batch.producer_id, batch.product_id)
    return batch, kg, field


def testing(ctx: Context, inc: Incoming) -> Outcome:
    batch, _kg, field = _own_batch(ctx, inc)
    data = _test_data(inc)
    fields = {"data.moisture_pct": "sensorElementList[0].sensorReport", "data.so2_mg_per_kg":
              "sensorElementList[0].sensorReport", "data.grains_per_50g": "sensorElementList[0].sensorReport",
              "data.residues": "sensorElementList[0].sensorReport", "data.sampled_at":
              "sensorElementList[0].sensorMetadata.gt:sampledOn", "data.lab": "sensorElementList[0].sensorMetadata.gt:lab",
              "data.method": "sensorElementList[0].sensorMetadata.gt:method", "data.report_no": "bizTransactionList"}
    done = _record(ctx, inc, batch, "testing", data, None, fields, field)
    product = ctx.session.get(Product, batch.product_id)
    passed = test_outcome(product.max_moisture_pct, done.made.data or {}).passed  # with its limits snapshot
    claimed = vocab(inc.raw.get("disposition"))
    if claimed in ("conformant", "non_conformant") and claimed != ("conformant" if passed else "non_conformant"):
        raise Refused(_("The disposition says %(claimed)s, but the measured values against the product's limits in "
                        "force give %(computed)s: the verdict is computed from the values, never taken from a "
                        "document.", claimed=claimed, computed="conformant" if passed else "non_conformant"),
                      field="disposition", code="verdict_mismatch")
    return done


def _test_data(inc: Incoming) -> dict:
    """A test's values from its sensor reports (the export's `_test_report`) and its report number."""
    data: dict = {"residues": []}
    for i, element in enumerate(listed(inc.raw.get("sensorElementList"))):
        element = mapping(element)
        meta = mapping(element.get("sensorMetadata"))
        for key, name in (("gt:sampledOn", "sampled_at"), ("gt:lab", "lab"), ("gt:method", "method")):
            if meta.get(key) is not None:
                data[name] = meta[key]
        for k, report in enumerate(listed(element.get("sensorReport"))):
            report = mapping(report)
            where = f"sensorElementList[{i}].sensorReport[{k}]"
            value, uom = report.get("value"), report.get("uom")
            if report.get("chemicalSubstance") == WATER and uom in (None, PERCENT):
                data["moisture_pct"] = value
            elif report.get("chemicalSubstance") == SULFUR_DIOXIDE and uom in (None, MG_PER_KG):
                data["so2_mg_per_kg"] = value
            elif (isinstance(report.get("gt:substance"), str) or substances.is_pesticide_uri(
                    report.get("chemicalSubstance"))) and uom in (None, MG_PER_KG):
                data["residues"].append({"substance": _residue_name(report, where), "mg_per_kg": value})
            elif report.get("type") == "Count" and report.get("gt:sampleMassG") == 50:
                data["grains_per_50g"] = value
            else:
                raise ValidationError(_("A sensor report of a test is moisture (water, P1), SO₂ (mg/kg, NA), a residue "
                                        "(gt:substance or the InChIKey of chemicalSubstance, mg/kg) or "
                                        "grains per 50 g (Count, gt:sampleMassG 50)."),
                                      field=where)
    data.update({k: v for k, v in {"report_no": document_no(inc.raw, "testres")}.items() if v})
    data.update(_gt(inc, ("lab_cma_no", "sampled_by", "lab_verdict", "so2_pass", "pesticide_pass")))
    return data


def _residue_name(report: dict, where: str) -> str:
    """A residue's substance as recorded: the name it was sent under (`gt:substance`), else the Chinese name
    of the InChIKey its `chemicalSubstance` names (tracing.substances). An InChIKey this system does not know,
    without a name, is refused; so is a name the table knows under another InChIKey than the one beside it."""
    name, uri = report.get("gt:substance"), report.get("chemicalSubstance")
    field = f"{where}.chemicalSubstance"
    if isinstance(name, str):
        named = substances.by_name(name)
        if uri is not None and named is not None and named.uri != uri:
            raise ValidationError(_("The residue is named %(name)s, but its chemicalSubstance names another "
                                    "substance (%(uri)s).", name=name, uri=uri), field=field)
        return name
    sent = substances.by_uri(uri)
    if sent is None:
        raise ValidationError(_("The residue's chemicalSubstance %(uri)s is an InChIKey this system does not "
                                "know: name the substance in gt:substance.", uri=uri), field=field)
    return sent.name_zh


def storage(ctx: Context, inc: Incoming) -> Outcome:
    batch, _kg, field = _own_batch(ctx, inc)
    data = _gt(inc, ("place", "in_date", "out_date", "conditions", "carrier"))
    moving = vocab(inc.raw.get("bizStep")) == "transporting"
    if moving != bool(data.get("carrier")):
        raise ValidationError(_("Transport names its carrier (gt:carrier); storage names none."), field="gt:carrier")
    return _record(ctx, inc, batch, "storage", data, None, {}, field)


def distribution(ctx: Context, inc: Incoming) -> Outcome:
    batch, kg, field = _own_batch(ctx, inc, weighed=True)
    data = {**_gt(inc, ("recipient", "document_no", "destination")), "kg": kg}
    return _record(ctx, inc, batch, "distribution", data, kg, {"quantity_kg": "quantityList[0].quantity",
                                                                  "data.kg": "quantityList[0].quantity"}, field)


def withdrawal(ctx: Context, inc: Incoming) -> Outcome:
    ref, _kg, field = one_class(inc, weighed=False)
    batch = ctx.batches.get(ref, field)
    try:
        event = services.withdraw(ctx.session, ctx.user, batch, inc.ext("reason"), occurred_at=inc.at)
    except DomainError as exc:
        raise renamed(exc, {**COMMON_FIELDS, "reason": "gt:reason"}, field) from None
    return Outcome().event(batch, event)


HANDLERS: dict[str, Callable[[Context, Incoming], Outcome]] = {
    "planting": planting, "harvest": harvest, "drying": drying, "testing": testing, "storage": storage,
    "distribution": distribution, "withdrawal": withdrawal,
}


def first_class(inc: Incoming) -> Optional[str]:
    """The identifier of the goods an event is mainly about (for answers naming the batch)."""
    for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
        entries = listed(inc.raw.get(key))
        if entries and isinstance(entries[0], dict):
            return entries[0].get("epcClass")
    return inc.raw.get("parentID")


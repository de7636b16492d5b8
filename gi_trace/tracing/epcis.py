"""A batch's events as a GS1 EPCIS 2.0 JSON-LD document (CBV 2.0 business steps and dispositions).

Identifiers are HTTP URIs under PUBLIC_BASE_URL: a batch's class is its GS1 Digital Link
(`/01/<gtin14>/10/<lot>`) when it belongs to a product line with a lot number, else its trace URL
(`/t/<code>`); towns and plots are `/id/town/<code>` and `/id/plot/<id>`. Quantities are in kilograms
(UN/CEFACT `KGM`).

EventIDs are `urn:uuid:` name-based (v5) UUIDs of identifiers stored with the events — a stage event's
batch code and sequence number, a lineage operation's or shipment's random `op_id` — so they do not change
with PUBLIC_BASE_URL and a repository sees one id per event. One lineage operation (recorded in every batch
it touches) is one EPCIS event with all its inputs and outputs, built from the operation's stored events
alone, so every export that contains it carries the same content.

Mapping (CBV 2.0 business steps only; the stage is `gt:stage` where the CBV has none): harvest → ObjectEvent
ADD, commissioning the fresh class (ILMD); drying → TransformationEvent, commissioning, from the batch's fresh
class (`/id/batch/<code>/fresh`, used by its events before drying) to its own class; processing, split and
merge → one TransformationEvent each (commissioning / repackaging) with ILMD on the outputs (lot, harvest
dates, origin towns), `gt:stage` (split, merge, processing) and `gt:outputs` (each output's lot and processed form); testing → ObjectEvent, inspecting, conformant / non_conformant, the measurements as a
sensorElementList and the report as a `testres` bizTransaction; storage → storing (or transporting with a
carrier); distribution → shipping, in_transit; withdrawal → holding, recalled (and every other batch the recall
reached → holding, recalled from its stored member row: see tracing.epcis_recall); planting and other stages →
bizStep other. Each issue of unit codes → ObjectEvent ADD commissioning the packages and AggregationEvent ADD
packing them into their lot. Events of an owner authorised for the product that day carry certificationInfo
(its entry on the public register). Plots with coordinates are `geo:` readPoints. A corrected event carries
an errorDeclaration naming its correction. Every http URI into this system answers (tracing.views_ids).

A hand-over between parties (`Shipment`) is two ObjectEvents with the same eventIDs in the sender's and
the receiver's export: `shipping` (shipping, in_transit) and `receiving`
(receiving, in_progress), with `sourceList`/`destinationList` naming the owning and possessing parties
(`/417/<GLN>` for a party with a GLN, else `/id/party/<USCC or registry number>`) and `bizTransactionList`
the waybill or invoice; a refused shipment adds `return` (the goods back with the sender, disposition
returned, `gt:reason`); a receiving event names the receiver's own lot (`gt:lot`).

Events captured from a party's own system (tracing.epcis_capture) keep the eventIDs it sent (and the time it
declared an event erroneous): the export swaps them in for the name-based ids (`Ids.named`).

The plots behind the batch (those its harvest ancestors were picked from, deduplicated) are master data in
`epcisHeader.epcisMasterData` (vocabulary type ReadPoint, ids `/id/plot/<id>`), each with its town, the
seasons concerned and, as `<base>/voc/input` attributes, the season's input applications (kind, product,
registration no., active ingredient, dose, date, safety interval, earliest harvest): never who applied them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Optional

from sqlmodel import Session, select

from urllib.parse import quote

from gi_trace.authorisation import rules as auth_rules
from gi_trace.authorisation.services import status as authorisation_status
from gi_trace.tracing import epcis_ids, lineage, substances
from gi_trace.tracing.epcis_handovers import Handovers
from gi_trace.tracing.epcis_ids import (CONTEXT_URL, MG_PER_KG, PERCENT, REGISTER_PATH, SULFUR_DIOXIDE, WATER, Ids,
                                        iso, offset, qty)
from gi_trace.tracing.epcis_recall import recall_events
from gi_trace.tracing.gs1 import LabelIdentity, is_valid_lot
from gi_trace.tracing.models import Batch, BatchLink, Event, ProductLine, UnitCode
from gi_trace.tracing.services import inputs as plot_inputs
from gi_trace.tracing.rules import local_time, test_outcome
from gi_trace.registry.models import Plot, Product
from gi_trace.types import utcnow

def _where(ids: Ids, event: Event, plot_id=None) -> dict:
    out = {}
    if plot_id is not None:
        out["readPoint"] = {"id": ids.place(plot_id)}
    if event.location_town_code:
        out["bizLocation"] = {"id": ids.town(event.location_town_code)}
        out.setdefault("readPoint", {"id": ids.town(event.location_town_code)})
    return out


def _ext(data: dict, keys: Iterable[str]) -> dict:
    """Selected data fields as gi-trace extension properties ("gt:field")."""
    return {f"gt:{k}": data[k] for k in keys if data.get(k) not in (None, "", [])}


def _common(ids: Ids, batch: Batch, event: Event, event_id: str) -> dict:
    return {
        "eventID": event_id,
        "eventTime": iso(local_time(event.occurred_at, event.utc_offset_min)),
        "eventTimeZoneOffset": offset(event.utc_offset_min),
        "recordTime": iso(event.recorded_at.astimezone(timezone.utc)),
    }


def build_document(session: Session, batches: list[Batch], base_url: str, root: Optional[Batch] = None) -> dict:
    """The EPCIS document of the given batches' events (one event per lineage operation), with the season's
    inputs of the plots behind `root` (default: the first batch) as master data of those plots."""
    ids_by_batch = {b.id: b for b in batches}
    line_ids = {b.product_line_id for b in batches if b.product_line_id}
    lines = {pl.id: pl for pl in session.exec(select(ProductLine).where(ProductLine.id.in_(line_ids))).all()} \
        if line_ids else {}
    ids = Ids(base_url, lines)
    events = list(session.exec(select(Event).where(Event.batch_id.in_(list(ids_by_batch)))
                               .order_by(Event.occurred_at, Event.batch_id, Event.seq)).all()) if batches else []
    # A lineage operation is built from all its stored events (every input and output batch), whichever
    # batch the export started from, so each export that contains it says the same.
    op_ids = {e.op_id for e in events if e.op_id}
    op_events: dict[str, list[Event]] = {}
    links: dict[str, list[BatchLink]] = {}
    if op_ids:
        for oe in session.exec(select(Event).where(Event.op_id.in_(op_ids)).order_by(Event.id)).all():
            op_events.setdefault(oe.op_id, []).append(oe)
        by_event = {oe.id: op for op, found in op_events.items() for oe in found}
        for link in session.exec(select(BatchLink).where(BatchLink.event_id.in_(list(by_event)))).all():
            links.setdefault(by_event[link.event_id], []).append(link)
        missing = {oe.batch_id for found in op_events.values() for oe in found} - set(ids_by_batch)
        if missing:
            for b in session.exec(select(Batch).where(Batch.id.in_(missing))).all():
                ids_by_batch.setdefault(b.id, b)
            more = {b.product_line_id for b in ids_by_batch.values() if b.product_line_id} - set(lines)
            if more:
                lines.update({pl.id: pl for pl in session.exec(select(ProductLine).where(ProductLine.id.in_(more)))})
    products = {p.id: p for p in session.exec(select(Product).where(
        Product.id.in_({b.product_id for b in ids_by_batch.values()}))).all()} if batches else {}
    if ids_by_batch:
        _load_drying(session, ids, ids_by_batch)
        plot_ids = {(e.data or {}).get("plot_id") for e in events if e.stage in ("harvest", "planting")} - {None}
        if plot_ids:
            ids.coordinates = {p.id: (p.latitude, p.longitude) for p in session.exec(select(Plot).where(
                Plot.id.in_(plot_ids))) if p.latitude is not None and p.longitude is not None}
    corrections: dict[int, Event] = {}
    for e in events:
        if e.corrects_event_id is not None:
            corrections[e.corrects_event_id] = e
    by_id = {e.id: e for e in events}
    handovers = Handovers(session, events, ids_by_batch)
    buyers = [(e.data or {}).get("to") for e in events]  # a purchase names its buyer by code
    ids.load_glns(session, [*handovers.parties.values(), *(c for c in buyers if isinstance(c, str))])
    _load_drying(session, ids, [b for b in handovers.batches if b not in ids_by_batch])
    missing_products = {b.product_id for b in handovers.batches.values()} - set(products)
    if missing_products:
        products.update({p.id: p for p in session.exec(select(Product).where(Product.id.in_(missing_products)))})
    certs = handovers.certs = _Certificates(session, ids, products)
    origins = _Origins(session, ids)
    out = []
    seen_ops: set[str] = set()
    for e in events:
        batch = ids_by_batch[e.batch_id]
        if handovers.covers(e):
            out.extend(handovers.events(ids, e))
            continue
        if e.op_id:
            if e.op_id in seen_ops:
                continue
            seen_ops.add(e.op_id)
            item = _lineage_event(ids, op_events[e.op_id], links.get(e.op_id, []), ids_by_batch)
            outputs = [ids_by_batch[oe.batch_id] for oe in op_events[e.op_id] if (oe.data or {}).get("role") == "output"]
            if outputs:
                item["ilmd"] = origins.ilmd(outputs)
            certs.add(item, batch, e)
            out.append(item)
            continue
        product = products.get(batch.product_id)
        item = _stage_event(ids, batch, e, product)
        certs.add(item, batch, e)
        fix = corrections.get(e.id)
        if fix is not None:
            fixed_batch = ids_by_batch[fix.batch_id]
            item["errorDeclaration"] = {
                "declarationTime": iso(fix.recorded_at.astimezone(timezone.utc)),
                "reason": "incorrect_data",
                "correctiveEventIDs": [ids.event(fixed_batch, fix)],
            }
        if e.corrects_event_id is not None and e.corrects_event_id in by_id:
            item["gt:corrects"] = ids.event(batch, by_id[e.corrects_event_id])
            item["gt:correctionReason"] = e.correction_reason
        out.append(item)
    out.extend(_unit_events(session, ids, batches, certs))
    out.extend(recall_events(session, ids, batches))
    _captured_event_ids(session, ids, out)
    document = {
        "@context": [CONTEXT_URL, {"gt": ids.vocab()}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(utcnow()),
        "epcisBody": {"eventList": out},
    }
    root = root if root is not None else (batches[0] if batches else None)
    plots = _plot_master_data(session, ids, root) if root is not None else []
    if plots:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": [
            {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": plots}]}}
    return document


def _captured_event_ids(session: Session, ids: Ids, events: list[dict]) -> None:
    """Events captured from a party's own system (tracing.epcis_capture) carry the eventIDs it sent, and the time
    it declared an event erroneous; this system's own events keep their name-based ids."""
    stored = ids.named and epcis_ids.captured_ids(session, ids.named.values())
    if not stored:
        return
    swap = {own: stored[name] for own, name in ids.named.items() if name in stored}
    for item in events:
        for key in ("eventID", "transformationID", "gt:corrects", "gt:recallEventID"):
            if item.get(key) in swap:
                item[key] = swap[item[key]].event_id
        fix = item.get("errorDeclaration")
        if fix is not None:
            correction = swap.get(fix["correctiveEventIDs"][0])  # the declaration came with the correction
            if correction is not None and correction.declared_at is not None:
                fix["declarationTime"] = iso(correction.declared_at.astimezone(timezone.utc))
            fix["correctiveEventIDs"] = [swap[e].event_id if e in swap else e for e in fix["correctiveEventIDs"]]


def _load_drying(session: Session, ids: Ids, batch_ids) -> None:
    """Remember when each of the batches was dried (its first drying event that no correction replaced)."""
    wanted = [b for b in batch_ids if b not in ids.dried_at]
    if not wanted:
        return
    drying = list(session.exec(select(Event).where(Event.batch_id.in_(wanted), Event.stage == "drying")
                               .order_by(Event.seq)).all())
    corrected = {e.corrects_event_id for e in drying if e.corrects_event_id}
    for dried in drying:
        if dried.id not in corrected:
            ids.dried_at.setdefault(dried.batch_id, dried.seq)


def _plot_master_data(session: Session, ids: Ids, root: Batch) -> list[dict]:
    """The plots behind a batch (those its harvest ancestors were picked from) as ReadPoint master data, each
    with the season's input applications (deduplicated; corrected records left out; no applicant's name)."""
    harvests = [n.id for n in lineage.trace(session, root, "backward").harvest_batches()]
    behind = plot_inputs.plots_behind(session, harvests)
    pairs = sorted({pair for found in behind.values() for pair in found})
    if not pairs:
        return []
    records = plot_inputs.effective_inputs(session, pairs)
    plots = {p.id: p for p in session.exec(select(Plot).where(Plot.id.in_({p for p, _s in pairs}))).all()}
    elements: dict[int, dict] = {}
    for plot_id, season in pairs:
        element = elements.get(plot_id)
        if element is None:
            plot = plots.get(plot_id)
            element = elements[plot_id] = {"id": ids.plot(plot_id), "attributes": [
                {"id": ids.vocab() + "town", "attribute": ids.town(plot.town_code)}] if plot and plot.town_code else []}
            if plot is not None and plot.latitude is not None and plot.longitude is not None:
                # The plot's readPoint in the events (geo: URI, RFC 5870).
                element["attributes"].append({"id": ids.vocab() + "location",
                                              "attribute": f"geo:{plot.latitude:.6f},{plot.longitude:.6f}"})
        element["attributes"].append({"id": ids.vocab() + "season", "attribute": season})
        for record in records.get((plot_id, season), []):
            allowed = plot_inputs.earliest_harvest(record)
            element["attributes"].append({"id": ids.vocab() + "input", "attribute": {k: v for k, v in {
                "season": record.season, "kind": record.kind, "productName": record.product_name,
                "registrationNo": record.registration_no or None,
                "activeIngredient": record.active_ingredient or None, "dose": record.dose or None,
                "appliedOn": record.applied_on.isoformat(), "safetyIntervalDays": record.safety_interval_days,
                "earliestHarvest": allowed.isoformat() if allowed else None,
                "recordTime": iso(record.recorded_at.astimezone(timezone.utc)),
            }.items() if v is not None}})
    return list(elements.values())


def _stage_event(ids: Ids, batch: Batch, e: Event, product: Optional[Product]) -> dict:
    data = e.data or {}
    cls = ids.class_at(batch, e.seq)
    item = {"type": "ObjectEvent", **_common(ids, batch, e, ids.event(batch, e))}
    if e.stage == "harvest":
        item.update(action="ADD", bizStep="commissioning", disposition="active",
                    quantityList=[qty(cls, e.quantity_kg)], **_where(ids, e, data.get("plot_id")))
        item["ilmd"] = {k: v for k, v in {"gt:cultivar": batch.cultivar or None,
                                          "gt:pickingRound": data.get("picking_round"),
                                          "gt:productForm": "fresh"}.items() if v is not None}
        return item
    if e.stage == "drying":
        item = {"type": "TransformationEvent", **_common(ids, batch, e, ids.event(batch, e)),
                "inputQuantityList": [qty(ids.fresh_class(batch), data.get("fresh_kg_in") or None)],
                "outputQuantityList": [qty(ids.batch_class(batch), data.get("dried_kg_out"))],
                "bizStep": "commissioning", "disposition": "active", "gt:stage": "drying", **_where(ids, e)}
        item.update(_ext(data, ("method", "temperature_c", "moisture_pct", "started_at", "ended_at")))
        return item
    if e.stage == "purchase":
        return _market_purchase(ids, batch, e, item)
    item.update(action="OBSERVE", quantityList=[qty(cls, e.quantity_kg)], **_where(ids, e))
    if e.stage == "planting":
        item.update(bizStep="other", **{"gt:stage": "planting"}, **_where(ids, e, data.get("plot_id")))
        item.update(_ext(data, ("cultivar", "planted_on", "inputs")))
    elif e.stage == "testing":
        passed = test_outcome(product.max_moisture_pct if product else None, data).passed
        item.update(bizStep="inspecting", disposition="conformant" if passed else "non_conformant")
        item.update(_test_report(ids, data))
        item.update(_ext(data, ("lab", "lab_cma_no", "sampled_by", "method", "lab_verdict", "so2_pass",
                                "pesticide_pass")))
    elif e.stage == "storage":
        moving = bool(data.get("carrier"))
        item.update(bizStep="transporting" if moving else "storing",
                    disposition="in_transit" if moving else "sellable_not_accessible")
        item.update(_ext(data, ("place", "in_date", "out_date", "conditions", "carrier")))
    elif e.stage == "distribution":
        item.update(bizStep="shipping", disposition="in_transit")
        item.update(_ext(data, ("recipient", "document_no", "destination")))
    elif e.stage == "withdrawal":
        item.update(bizStep="holding", disposition="recalled")
        item.update(_ext(data, ("reason",)))
    else:  # a stage the CBV has no business step for
        item.update(bizStep="other", **{"gt:stage": e.stage})
    return item


def _market_purchase(ids: Ids, batch: Batch, e: Event, item: dict) -> dict:
    """A purchase from a farmer not registered here: the buyer's batch enters the record (ADD, receiving) with its
    origin declared, not verified — the town the seller named, as lot master data. The seller is no party here
    and the name the buyer typed is personal information: no sourceList, no name."""
    data = e.data or {}
    buyer = ids.party(data["to"]) if data.get("to") else None
    item.update(action="ADD", bizStep="receiving", disposition="in_progress",
                quantityList=[qty(ids.batch_class(batch), e.quantity_kg)], **{"gt:stage": "purchase"})
    if buyer:
        item["destinationList"] = [{"type": "owning_party", "destination": buyer},
                                   {"type": "possessing_party", "destination": buyer}]
    item["ilmd"] = {"gt:origin": data.get("origin") or "declared", **(
        {"gt:declaredTown": ids.town(data["declared_town_code"])} if data.get("declared_town_code") else {})}
    item.update(_ext(data, ("grade",)))
    if batch.producer_lot:
        item["gt:lot"] = batch.producer_lot
    return item


def _test_report(ids: Ids, data: dict) -> dict:
    """A test's measurements as one sensor element (mass fractions with UN/CEFACT units, substances by
    InChIKey where known; a residue also by the name it was recorded under, `gt:substance`) and its report
    as a `testres` business transaction."""
    reports = []
    if data.get("moisture_pct") is not None:
        reports.append({"type": "Dimensionless", "chemicalSubstance": WATER, "value": data["moisture_pct"],
                        "uom": PERCENT})
    if data.get("so2_mg_per_kg") is not None:
        reports.append({"type": "Dimensionless", "chemicalSubstance": SULFUR_DIOXIDE, "value": data["so2_mg_per_kg"],
                        "uom": MG_PER_KG})
    for residue in data.get("residues") or []:
        if residue.get("mg_per_kg") is not None and residue.get("substance"):
            known = substances.by_name(residue["substance"])
            reports.append({"type": "Dimensionless", **({"chemicalSubstance": known.uri} if known else {}),
                            "gt:substance": residue["substance"], "value": residue["mg_per_kg"],
                            "uom": MG_PER_KG})
    if data.get("grains_per_50g") is not None:
        reports.append({"type": "Count", "value": data["grains_per_50g"], "gt:sampleMassG": 50})
    out: dict = {}
    if reports:
        element: dict = {"sensorReport": reports}
        metadata = {k: v for k, v in {"gt:sampledOn": data.get("sampled_at"), "gt:lab": data.get("lab"),
                                      "gt:method": data.get("method")}.items() if v}
        if metadata:
            element["sensorMetadata"] = metadata
        out["sensorElementList"] = [element]
    if data.get("report_no"):
        out["bizTransactionList"] = [{"type": "testres", "bizTransaction": ids.document(data["report_no"])}]
    return out


class _Certificates:
    """The owner's GI authorisation (its entry on the public register) on the events of its batches,
    when the owner was authorised for the product on the event's day."""

    def __init__(self, session: Session, ids: Ids, products: dict[int, Product]):
        self.session, self.ids, self.products = session, ids, products
        self.known: dict[tuple, bool] = {}

    def add(self, item: dict, batch: Batch, e: Event) -> None:
        self.add_on(item, batch, local_time(e.occurred_at, e.utc_offset_min).date())

    def add_on(self, item: dict, batch: Batch, day) -> None:
        product = self.products.get(batch.product_id)
        if product is None:
            return
        key = (batch.producer_id, product.id, day)
        if key not in self.known:
            state = authorisation_status(self.session, batch.producer_id, product.id, day).state
            self.known[key] = state == auth_rules.AUTHORISED
        if self.known[key]:
            item["certificationInfo"] = (f"{self.ids.base}{REGISTER_PATH}?product={quote(product.slug, safe='')}"
                                         f"&producer={batch.producer_id}")


def _unit_events(session: Session, ids: Ids, batches: list[Batch], certs: "_Certificates") -> list[dict]:
    """Each issue of unit codes (一物一码) under a batch: an ObjectEvent ADD commissioning the packages (their QR
    URIs: Digital Link with (21) on a GTIN line, else `/t/<unit code>`) and an AggregationEvent ADD packing
    them into their lot (parentID: the batch's trace URI)."""
    wanted = [b for b in batches if b.units_issued]
    if not wanted:
        return []
    issues: dict[tuple[int, datetime], list[UnitCode]] = {}
    for unit in session.exec(select(UnitCode).where(UnitCode.batch_id.in_([b.id for b in wanted]))
                             .order_by(UnitCode.batch_id, UnitCode.serial)).all():
        issues.setdefault((unit.batch_id, unit.issued_at), []).append(unit)
    by_id = {b.id: b for b in wanted}
    out = []
    for (batch_id, issued_at), units in issues.items():
        batch = by_id[batch_id]
        line = ids.lines.get(batch.product_line_id) if batch.product_line_id else None
        identity = LabelIdentity(line.gtin14, batch.producer_lot if is_valid_lot(batch.producer_lot) else None) \
            if line is not None else LabelIdentity()
        epcs = [identity.url(ids.base, u.code, unit=True) for u in units]
        name = f"units:{batch.code}:{units[0].serial}-{units[-1].serial}"
        when = {"eventTime": iso(local_time(issued_at, 480)), "eventTimeZoneOffset": offset(480),
                "recordTime": iso(issued_at.astimezone(timezone.utc))}
        commissioning = {"type": "ObjectEvent", "eventID": ids.named_id(name + ":commissioning"), **when,
                         "epcList": epcs, "action": "ADD", "bizStep": "commissioning", "disposition": "active",
                         "ilmd": {"cbvmda:lotNumber": batch.producer_lot or batch.code}}
        if units[0].package_kg:
            commissioning["gt:packageKg"] = units[0].package_kg
        packing = {"type": "AggregationEvent", "eventID": ids.named_id(name + ":packing"), **when,
                   "parentID": f"{ids.base}/t/{batch.code}", "childEPCs": epcs, "action": "ADD",
                   "bizStep": "packing", "disposition": "active"}
        for item in (commissioning, packing):
            certs.add_on(item, batch, local_time(issued_at, 480).date())
            out.append(item)
    return out


class _Origins:
    """ILMD of a transformation's outputs: lot, harvest dates and origin towns of the goji they hold."""

    def __init__(self, session: Session, ids: Ids):
        self.session, self.ids = session, ids

    def ilmd(self, outputs: list[Batch]) -> dict:
        harvests: set[int] = set()
        for child in outputs:
            harvests.update(n.id for n in lineage.trace(self.session, child, "backward").harvest_batches())
        picked = self.session.exec(select(Event).where(Event.batch_id.in_(harvests), Event.stage == "harvest")).all() \
            if harvests else []
        corrected = {e.corrects_event_id for e in picked if e.corrects_event_id}
        days = sorted(local_time(e.occurred_at, e.utc_offset_min).date() for e in picked if e.id not in corrected)
        towns = sorted({b.origin_town_code for b in self.session.exec(select(Batch).where(Batch.id.in_(harvests)))
                        if b.origin_town_code}) if harvests else []
        lots = sorted({b.producer_lot or b.code for b in outputs})
        out = {"cbvmda:lotNumber": lots[0] if len(lots) == 1 else lots}
        if days:
            out["cbvmda:harvestStartDate"] = days[0].isoformat()
            out["cbvmda:harvestEndDate"] = days[-1].isoformat()
        if towns:
            out["cbvmda:countryOfOrigin"] = "CN"
            out["gt:originTowns"] = towns  # GB/T 2260 township codes
        return out


def _lineage_event(ids: Ids, events: list[Event], links: list[BatchLink], batches: dict[int, Batch]) -> dict:
    """One split, merge or processing operation as a TransformationEvent: inputs are what each input batch's
    event took, outputs what each output batch's event declared (processing may lose weight)."""
    inputs = [e for e in events if (e.data or {}).get("role") == "input"]
    outputs = [e for e in events if (e.data or {}).get("role") == "output"]
    if not inputs and links:  # older records: the inputs are the linked parents
        taken: dict[int, float] = {}
        for link in links:
            taken[link.parent_id] = round(taken.get(link.parent_id, 0.0) + link.quantity_kg, 3)
        input_list = [qty(ids.batch_class(batches[b]), q) for b, q in sorted(taken.items())]
    else:
        input_list = [qty(ids.class_at(batches[e.batch_id], e.seq), e.quantity_kg) for e in inputs]
    output_list = [qty(ids.class_at(batches[e.batch_id], e.seq), e.quantity_kg) for e in outputs]
    first = (inputs or events)[0]  # the operation's time, place and data were given once for all its events
    data = first.data or {}
    step = {"split": "repackaging", "merge": "commissioning", "processing": "commissioning"}.get(first.stage, "other")
    op = ids.op(first.op_id)
    item = {
        "type": "TransformationEvent",
        "eventID": op,
        "eventTime": iso(local_time(first.occurred_at, first.utc_offset_min)),
        "eventTimeZoneOffset": offset(first.utc_offset_min),
        "recordTime": iso(max(e.recorded_at for e in events).astimezone(timezone.utc)),
        "inputQuantityList": input_list or output_list,
        "outputQuantityList": output_list or input_list,
        "transformationID": op,
        "bizStep": step,
        "disposition": "active",
        **_where(ids, first),
    }
    item.update(_ext(data, ("product_form", "process")))
    item["gt:stage"] = first.stage  # split, merge or processing: what the operation did with the goods
    # Each output's own lot and (processing) form: ILMD holds what all outputs share.
    item["gt:outputs"] = [{k: v for k, v in {
        "gt:epcClass": out["epcClass"], "gt:lot": batches[e.batch_id].producer_lot,
        "gt:productForm": (e.data or {}).get("product_form") if first.stage == "processing" else None,
    }.items() if v} for e, out in zip(outputs, output_list)]
    return item

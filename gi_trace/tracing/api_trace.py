"""Trace API under /api/v1: backward/forward traces, hash-chain verification, EPCIS, and the public view."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import select

from gi_trace.access import ANY_USER, PUBLIC, access, actor
from gi_trace.api import api_bp, operation
from gi_trace.authorisation.services import status as authorisation_status
from gi_trace.db import get_session
from gi_trace.errors import NotFound
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.registry.services import public_name
from gi_trace.tracing import chain, codes, epcis, lineage, quality, recall, rules, services
from gi_trace.tracing.api import CODE, NOT_YOURS, base_url
from gi_trace.tracing.models import Batch, Event, UnitCode
from gi_trace.tracing.schemas import (AuthorisationState, EPCISDocument, EpcisQuery, LabelPermissionPublic,
                                      ProducerRef, ProductRef, PublicTrace, PublicVerdict, SourceBatch, TimelineStep,
                                      Trace, TraceHarvest, TraceLink, TraceNode, TraceOwner, TraceQuery, UnitRef,
                                      Verify)
from gi_trace.tracing.schemas_recall import RecallState


def _towns(session) -> dict[str, Region]:
    return {r.code: r for r in session.exec(select(Region).where(Region.level == "town")).all()}


def trace_of(session, batch: Batch, result: lineage.Trace) -> Trace:
    """A trace as the API returns it: batches, links, and (backward) the harvests with plots and towns."""
    towns = _towns(session)
    code_of = {n.id: n.code for n in result.nodes.values()}
    code_of[batch.id] = batch.code
    harvests = []
    if result.direction == "backward":
        for n in result.harvest_batches():
            town = towns.get(n.origin_town_code)
            harvests.append(TraceHarvest(code=n.code, town_code=n.origin_town_code,
                                         town=town.name_zh if town else None, plots=result.plots.get(n.id, [])))
    ids = {n.producer_id for n in result.nodes.values()}
    owners = {p.id: TraceOwner(name=public_name(p, towns.get(p.town_code)), kind=p.kind)
              for p in session.exec(select(Producer).where(Producer.id.in_(ids))).all()} if ids else {}
    # Every recall member shows recalled (not only the withdrawn batch): the member rows, in a few statements.
    recalls = recall.recall_states(session, [batch.id, *result.nodes])

    def recall_of(batch_id: int) -> dict:
        info = recalls.get(batch_id)
        return {"recalled": info is not None and not info.lifted, "recall": RecallState.of(info)}

    return Trace(
        root=batch.code, direction=result.direction, **recall_of(batch.id),
        batches=[TraceNode(**{k: v for k, v in n._asdict().items() if k != "id"}, owner=owners.get(n.producer_id),
                           **recall_of(n.id))
                 for n in sorted(result.nodes.values(), key=lambda n: n.id)],
        links=[TraceLink(parent=code_of[e.parent_id], child=code_of[e.child_id], quantity_kg=e.quantity_kg,
                         kind=e.kind) for e in result.edges],
        harvests=harvests,
        towns=result.towns() if result.direction == "backward" else [])


@api_bp.get("/batches/<code>/trace")
@access(*ANY_USER)
@operation(query=TraceQuery, responses={200: Trace}, errors={404: NOT_YOURS}, path=CODE)
def batch_trace(code: str, query: TraceQuery):
    """Backward (every source, down to harvests, plots and towns) or forward (everything made from it)."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    result = lineage.trace(session, batch, query.direction, with_plots=query.direction == "backward")
    return trace_of(session, batch, result)


@api_bp.get("/batches/<code>/verify")
@access(*ANY_USER)
@operation(responses={200: Verify}, errors={404: NOT_YOURS}, path=CODE)
def batch_verify(code: str):
    """Recompute the batch's hash chain."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    result = chain.verify_batch(session, batch)
    return Verify(code=batch.code, verifies=result.ok, events=result.events, broken_seq=result.broken_seq,
                  reason=result.reason or None)


@api_bp.get("/batches/<code>/epcis")
@access(*ANY_USER)
@operation(query=EpcisQuery, responses={200: (EPCISDocument, "EPCIS document", "application/ld+json")},
           errors={404: NOT_YOURS}, path=CODE)
def batch_epcis(code: str, query: EpcisQuery):
    """The batch's events as an EPCIS 2.0 JSON-LD document (scope=batch, or backward: every source's too)."""
    session = get_session()
    batch = services.visible_batch(session, actor(), code)
    batches = [batch]
    if query.scope == "backward":
        found = lineage.trace(session, batch, "backward")
        if found.nodes:
            batches += list(session.exec(select(Batch).where(Batch.id.in_(list(found.nodes)))).all())
    response = current_app.json.response(epcis.build_document(session, batches, base_url().rstrip("/"), root=batch))
    response.mimetype = "application/ld+json"
    return response


# --- the public view ----------------------------------------------------------------------

def _facts(product: Product, event: Event) -> dict[str, Any]:
    """What the public timeline says about a step besides its time and place."""
    data = event.data or {}
    if event.stage == "testing":
        outcome = quality.evaluate(data, fallback={"moisture_max_pct": product.max_moisture_pct,
                                                   "grade_scale": product.grade_scale or []})
        grade = outcome.grade
        return {"passed": outcome.state == quality.PASSED, "grade": grade["grade"] if grade else None,
                "grains_per_50g": data.get("grains_per_50g"), "moisture_pct": data.get("moisture_pct"),
                "lab": data.get("lab"), "report_no": data.get("report_no")}
    if event.stage == "drying":
        return {"method": data.get("method")}
    if event.stage == "processing" or data.get("role"):
        return {"product_form": data.get("product_form")}
    return {}


def public_view(session, batch: Batch) -> PublicTrace:
    """What anyone may read about a code: product, producer, origin, tests, timeline, sources, integrity."""
    product = session.get(Product, batch.product_id)
    producer = session.get(Producer, batch.producer_id)
    template = services.template_of(product)
    towns = _towns(session)
    permission = services.label_allowed(session, batch)
    status = authorisation_status(session, batch.producer_id, product.id)
    events = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all()
    timeline = []
    for e in rules.effective_events(list(events)):
        town = towns.get(e.location_town_code)
        timeline.append(TimelineStep(
            seq=e.seq, stage=e.stage, stage_name=rules.stage_label(template, e.stage),
            occurred_at=rules.local_time(e.occurred_at, e.utc_offset_min).isoformat(),
            place=(town.name_zh if town else None) or e.location_name or None, quantity_kg=e.quantity_kg,
            corrected=e.corrects_event_id is not None, facts=_facts(product, e)))
    found = lineage.trace(session, batch, "backward")
    origin = towns.get(batch.origin_town_code)
    info = recall.recall_for(session, batch)
    in_force = info if info is not None and not info.lifted else None
    return PublicTrace(
        code=batch.code, display_code=codes.display(batch.code),
        product=ProductRef(slug=product.slug, name_zh=product.name_zh, name_en=product.name_en),
        producer=ProducerRef(name=public_name(producer, towns.get(producer.town_code)), code=producer.code),
        trademark=batch.trademark_name or None, origin_town=origin.name_zh if origin else None, kind=batch.kind,
        product_form=batch.product_form, grade=batch.grade, test_state=batch.test_state,
        gi_label=LabelPermissionPublic(allowed=permission.allowed, code=permission.code,
                                       reason=permission.reason or None),
        gi_mark=permission.allowed, gi_mark_reason=permission.reason or None,
        authorisation=AuthorisationState(state=status.state, since=status.since.isoformat() if status.since else None),
        withdrawn=batch.is_withdrawn or in_force is not None,
        withdrawn_reason=(in_force.reason if in_force is not None else batch.withdrawn_reason) or None,
        verifies=chain.verify_batch(session, batch).ok, timeline=timeline,
        sources=[SourceBatch(code=n.code, town=towns[n.origin_town_code].name_zh if n.origin_town_code in towns
                             else None, harvest_year=n.harvest_year)
                 for n in found.harvest_batches() if n.id != batch.id],
        source_towns=[towns[t].name_zh for t in found.towns() if t in towns],
        **({"recall": RecallState.of(info)} if info is not None else {}))


@api_bp.get("/trace/<code>")
@access(PUBLIC)
@operation(responses={200: (PublicTrace, "The public view"),
                      410: (PublicTrace, "The batch has been withdrawn or recalled (the view says why)")},
           errors={404: "Not a registered trace code"},
           path={"code": "A batch's or a package's trace code (with or without hyphens)"})
def public_trace(code: str):
    """The public view of a batch or unit code (no token)."""
    session = get_session()
    parsed = codes.parse(code)
    if parsed is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=code[:40]), field="code")
    batch = session.exec(select(Batch).where(Batch.code == parsed)).first()
    unit = None
    if batch is None:
        unit = session.exec(select(UnitCode).where(UnitCode.code == parsed)).first()
        batch = session.get(Batch, unit.batch_id) if unit else None
    if batch is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=parsed), field="code")
    view = public_view(session, batch)
    if unit is not None:
        view.unit = UnitRef(code=unit.code, serial=unit.serial)
    headline = current_app.extensions.get("tracing_public_verdict")  # scan.verdict, connected by the app
    if headline is not None:
        view.verdict = PublicVerdict(**headline(session, batch, unit.code if unit is not None else batch.code))
    return view, 410 if view.withdrawn else 200

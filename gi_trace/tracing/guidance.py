"""What the producer portal suggests from the record: the stages a batch may record now and its next
step (from the product's stage template), and a stage form's defaults (the plot's town and cultivar,
the harvest's fresh weight at drying, the last event's date when records are filled in afterwards).

Read-only services: they take the session first and never write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlmodel import Session, select

from gi_trace.errors import DomainError
from gi_trace.registry.models import Plot, Producer
from gi_trace.registry.services import plots_of, trademarks_of
from gi_trace.timeutil import LOCAL_TZ, local_today
from gi_trace.tracing import recall as recalls
from gi_trace.tracing import rules
from gi_trace.tracing.models import Batch, Event


@dataclass
class Steps:
    """The stages the batch may record now (template order) and the one to suggest first."""

    allowed: list[str] = field(default_factory=list)
    next_stage: Optional[str] = None


def _events(session: Session, batch: Batch) -> list[Event]:
    return list(session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all())


def _recorded(events: list[Event]) -> set[str]:
    corrected = {e.corrects_event_id for e in events if e.corrects_event_id}
    return {e.stage for e in events if e.id not in corrected}


def steps(session: Session, batch: Batch, template: list) -> Steps:
    """Stages `rules.check_stage` would accept now; the next step is the first fixed (not free) one."""
    if batch.is_withdrawn or recalls.active_recall(session, batch) is not None:
        return Steps()
    recorded = _recorded(_events(session, batch))
    allowed = []
    for spec in template:
        try:
            rules.check_stage(template, batch.kind, batch.stage or "", recorded, spec["stage"])
        except DomainError:
            continue
        allowed.append(spec["stage"])
    fixed = [s for s in allowed if not rules.stage_map(template)[s].get("free")]
    # A stage already reached and repeatable (a second harvest round) is offered, but the suggestion
    # is the next stage along the chain when there is one.
    onward = [s for s in fixed if s != batch.stage] or fixed
    return Steps(allowed=allowed, next_stage=onward[0] if onward else None)


def _batch_plot(session: Session, batch: Batch, events: list[Event]) -> Optional[Plot]:
    for event in reversed(events):
        plot_id = (event.data or {}).get("plot_id") if isinstance(event.data, dict) else None
        if isinstance(plot_id, int):
            plot = session.get(Plot, plot_id)
            if plot is not None and plot.producer_id == batch.producer_id:
                return plot
    plots = plots_of(session, batch.producer_id)
    return plots[0] if len(plots) == 1 else None


def stage_defaults(session: Session, batch: Batch, spec: dict) -> dict[str, Any]:
    """Suggested values of a stage form, from what the record already says.

    {"occurred_at": naive local datetime or None (now), "location_town": town code or "",
     "fields": {field name: value}}.
    """
    events = _events(session, batch)
    plot = _batch_plot(session, batch, events)
    last = events[-1] if events else None
    town = (plot.town_code if plot else "") or (last.location_town_code if last else "") or ""
    if not town:
        producer = session.get(Producer, batch.producer_id)
        town = (producer.town_code if producer else "") or ""
    occurred_at = None
    if last is not None:
        last_local = last.occurred_at.astimezone(LOCAL_TZ)
        if last_local.date() < local_today():  # filling in records afterwards: start from the last one's date
            occurred_at = last_local.replace(tzinfo=None, second=0, microsecond=0)
    stage = spec.get("stage")
    fresh_in = sum(e.quantity_kg or 0 for e in events if e.stage == "harvest" and e.quantity_kg)
    harvests = sum(1 for e in events if e.stage == "harvest")
    values: dict[str, Any] = {}
    for f in spec.get("fields", []):
        name, kind = f["name"], f["type"]
        if kind == "plot" and plot is not None:
            values[name] = str(plot.id)
        elif name == "cultivar":
            cultivar = batch.cultivar or (plot.cultivar if plot else "")
            if cultivar:
                values[name] = cultivar
        elif name == "fresh_kg_in" and fresh_in:
            values[name] = rules.kg(fresh_in)
        elif name == "picking_round" and stage == "harvest":
            values[name] = harvests + 1
        elif name in ("input_kg",) or (name == spec.get("quantity_field") and stage == "distribution"):
            if batch.available_kg:
                values[name] = rules.kg(batch.available_kg)
    return {"occurred_at": occurred_at, "location_town": town, "fields": values}


def open_defaults(session: Session, producer_id: int) -> dict[str, str]:
    """A new batch's cultivar (when all the producer's plots grow one) and trademark (when it has one)."""
    out: dict[str, str] = {}
    cultivars = {p.cultivar for p in plots_of(session, producer_id) if p.cultivar}
    if len(cultivars) == 1:
        out["cultivar"] = cultivars.pop()
    marks = trademarks_of(session, producer_id)
    if len(marks) == 1:
        out["trademark_id"] = str(marks[0].id)
    return out

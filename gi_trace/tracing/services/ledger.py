"""A batch's ledger: lock it, fold its events into its projection, chain and store one more event."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from gi_trace.errors import Conflict, ValidationError
from gi_trace.registry.models import Product, Region
from gi_trace.registry.reference import GENERIC_STAGES
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing import chain, rules
from gi_trace.tracing.models import Batch, BatchLink, Event
from gi_trace.types import utcnow


def _flush(session: Session) -> None:
    try:
        session.flush()
    except (IntegrityError, OperationalError):
        # A lost race: another writer took the next sequence number (UNIQUE(batch_id, seq)), or SQLite's
        # snapshot went stale. The caller's transaction is spoilt; the request (or CLI scope) rolls it back.
        raise Conflict(_("The batch was changed by someone else at the same time; please try again.")) from None


def lock_batch(session: Session, batch: Batch) -> Batch:
    """Re-read the batch holding its row lock (PostgreSQL), so its chain grows one event at a time."""
    session.flush()
    session.refresh(batch, with_for_update=True)
    return batch


def parse_location(session: Session, location: Any) -> tuple[Optional[str], str]:
    """A location given as a town code, a named place, or {"town_code", "name"}."""
    if location is None or location == "":
        return None, ""
    town, name = None, ""
    if isinstance(location, str):
        text = location.strip()
        if text.isdigit():
            town = text
        else:
            name = text
    elif isinstance(location, dict):
        town = location.get("town_code") or None
        name = location.get("name") or ""
        if (town is not None and not isinstance(town, str)) or not isinstance(name, str):
            raise ValidationError(_("location must be a town code, a place name or {town_code, name}."),
                                  field="location")
    else:
        raise ValidationError(_("location must be a town code, a place name or {town_code, name}."), field="location")
    rules.no_nul(name, "location")
    if town is not None:
        rules.no_nul(town, "location")
    if len(name) > 200:
        raise ValidationError(_("The place name is longer than 200 characters."), field="location")
    if town is not None:
        region = session.get(Region, town)
        if region is None or region.level != "town":
            raise ValidationError(_("Unknown town code %(code)s.", code=town), field="location")
    return town, name.strip()


def _project(session: Session, batch: Batch, events: list) -> rules.Projection:
    product = session.get(Product, batch.product_id)
    return rules.project(events, template=template_of(product), grade_scale=product.grade_scale,
                         max_moisture_pct=product.max_moisture_pct, initial_form=rules.FRESH,
                         batch_code=batch.code, inputs=lambda: _inputs(session, batch))


def _inputs(session: Session, batch: Batch) -> list[tuple[str, Optional[dict]]]:
    """(code, quality) of the batches this one was made from, as they stand now (for quality.Ledger.flow_down)."""
    if batch.id is None:
        return []
    session.flush()
    query = (select(Batch.code, Batch.quality).join(BatchLink, BatchLink.parent_id == Batch.id)
             .where(BatchLink.child_id == batch.id).order_by(Batch.id))
    return [(code, quality) for code, quality in session.exec(query).all()]


def reproject(session: Session, batch: Batch) -> None:
    """Fold the batch's events again into its state (no event written): what an input's clearance changes."""
    lock_batch(session, batch)
    _apply(batch, _project(session, batch, _events(session, batch)))
    session.add(batch)
    _flush(session)


def _events(session: Session, batch: Batch) -> list[Event]:
    return list(session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)).all())


def _apply(batch: Batch, p: rules.Projection) -> None:
    batch.quantity_kg = p.quantity_kg
    batch.out_kg = p.out_kg
    batch.stage = p.stage
    batch.product_form = p.product_form
    batch.test_state = p.test_state
    batch.quality = p.quality
    batch.tested_at = p.tested_at
    batch.grains_per_50g = p.grains_per_50g
    batch.grade = p.grade
    batch.origin_town_code = p.origin_town_code
    batch.harvest_year = p.harvest_year
    batch.withdrawn_at = p.withdrawn_at
    batch.withdrawn_reason = p.withdrawn_reason
    if p.last_occurred_at is not None:
        batch.last_event_at = p.last_occurred_at


def _append(session: Session, batch: Batch, event: Event, events: Optional[list] = None) -> Event:
    """Check the batch's projection with the new event, then chain and store it."""
    existing = events if events is not None else _events(session, batch)
    event.seq = batch.event_count + 1  # provisional, for the projection's ordering
    projection = _project(session, batch, existing + [event])
    chain.append(session, batch, event)
    if batch.first_event_at is None or event.occurred_at < batch.first_event_at:
        batch.first_event_at = event.occurred_at
    _apply(batch, projection)
    session.add(batch)
    _flush(session)
    return event


def template_of(product: Product) -> list:
    """The product's stage template (a generic chain of custody when a product has none yet)."""
    return product.stage_template or GENERIC_STAGES


def _op_time(occurred_at: Any) -> tuple[datetime, int]:
    if occurred_at is None or occurred_at == "":
        now = utcnow()
        return now, int(now.astimezone(LOCAL_TZ).utcoffset() / timedelta(minutes=1))
    return rules.parse_time(occurred_at)

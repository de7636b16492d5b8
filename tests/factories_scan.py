"""Traced batches for the scan page's tests, written row by row like the tracing services would."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional

from gi_trace.tracing import codes
from gi_trace.tracing.models import Batch, BatchLink, Event, UnitCode
from tests import factories
from tests.factories import DecisionFactory, ProducerFactory, goji

CST = timezone(timedelta(hours=8))


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=CST).astimezone(timezone.utc)


def event_hash(batch_id: int, seq: int, stage: str, occurred_at: datetime, data: dict, prev_hash: str) -> str:
    """Stand-in canonical hash (the chain check on the page compares links)."""
    body = json.dumps({"b": batch_id, "s": seq, "st": stage, "at": occurred_at.isoformat(), "d": data},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256((body + prev_hash).encode()).hexdigest()


def add_events(batch: Batch, steps: list[tuple], town_code: str = "640521100") -> list[Event]:
    """Append events (stage, date, quantity_kg, data[, location_name]) with a hash chain; update the projection."""
    session = factories._session
    prev = batch.head_hash
    seq = batch.event_count
    out = []
    for step in steps:
        stage, day, kg, data = step[:4]
        location_name = step[4] if len(step) > 4 else ""
        seq += 1
        at = _at(day)
        h = event_hash(batch.id, seq, stage, at, data, prev)
        ev = Event(batch_id=batch.id, seq=seq, stage=stage, occurred_at=at, location_town_code=town_code,
                   location_name=location_name, quantity_kg=kg, data=data, prev_hash=prev, hash=h)
        session.add(ev)
        out.append(ev)
        prev = h
        if batch.first_event_at is None:
            batch.first_event_at = at
        batch.last_event_at = at
        batch.stage = stage
    batch.event_count = seq
    batch.head_hash = prev
    session.flush()
    return out


GOJI_STEPS = [
    ("harvest", date(2025, 7, 10), 1000.0, {"picking_round": 3}),
    ("drying", date(2025, 7, 18), 240.0, {"method": "hot_air"}),
    ("testing", date(2025, 7, 25), None, {"passed": True, "grade": "特级", "grains_per_50g": 350,
                                          "moisture_pct": 11.5, "lab": "宁夏枸杞检测中心"}),
    ("storage", date(2025, 8, 1), 240.0, {"conditions": "阴凉干燥"}, "中宁县枸杞交易市场冷库"),
]


def make_batch(producer=None, *, kind: str = "lot", steps: Optional[list] = None, test_state: str = "passed",
               grade: Optional[str] = "特级", trademark_name: str = "红宝", town_code: str = "640521100",
               code: Optional[str] = None, **fields) -> Batch:
    """A batch with its events (default: harvest → drying → testing → storage in 2025)."""
    session = factories._session
    producer = producer or ProducerFactory()
    batch = Batch(code=code or codes.new_code(), producer_id=producer.id, product_id=goji().id, kind=kind,
                  quantity_kg=240.0, cultivar="宁杞7号", product_form="dried", trademark_name=trademark_name,
                  test_state=test_state, grade=grade, grains_per_50g=350 if grade else None,
                  origin_town_code=town_code, harvest_year=2025, **fields)
    session.add(batch)
    session.flush()
    add_events(batch, GOJI_STEPS if steps is None else steps, town_code=town_code)
    return batch


def link(parent: Batch, child: Batch, kg: float, kind: str = "split") -> BatchLink:
    session = factories._session
    row = BatchLink(parent_id=parent.id, child_id=child.id, quantity_kg=kg, kind=kind)
    session.add(row)
    session.flush()
    return row


def unit_code(batch: Batch, serial: int = 1, package_kg: float = 0.5) -> UnitCode:
    session = factories._session
    row = UnitCode(code=codes.new_code(), batch_id=batch.id, serial=serial, package_kg=package_kg)
    session.add(row)
    batch.units_issued += 1
    session.flush()
    return row


def producer_with_history(*decisions: tuple) -> object:
    """A producer with decisions [(action, date)], e.g. (("approve", date(2023,1,1)), ("revoke", ...))."""
    producer = ProducerFactory()
    for action, day in decisions:
        DecisionFactory(producer_id=producer.id, action=action, effective_date=day)
    return producer

"""Scan-page fixtures: real batches made through the tracing services (their chains verify)."""
from __future__ import annotations

from datetime import date

from gi_trace.tracing import codes
from gi_trace.tracing import services as tracing
from gi_trace.tracing.models import Batch, UnitCode
from tests.factories import DecisionFactory
from tests.factories_tracing import SHIPPED, STORED, Grower


def lot_from_tested_harvest(session, grower: Grower | None = None, *, test: dict | None = None,
                            trademark_name: str | None = None) -> tuple[Grower, Batch, Batch]:
    """A harvest batch (planting → harvest → drying → testing) split into a packed lot that was stored."""
    grower = grower or Grower.make(session)
    harvest = grower.tested(session, test=test)
    lot = tracing.split(session, grower.user, harvest, [{"quantity_kg": 100.0, "producer_lot": "L-1"}],
                        occurred_at=STORED).children[0]
    grower.event(session, lot, "storage", SHIPPED, {"place": "中宁县枸杞交易市场冷库", "conditions": "阴凉干燥"})
    if trademark_name is not None:
        lot.trademark_name = trademark_name
        session.add(lot)
        session.flush()
    return grower, harvest, lot


def unit_code(session, batch: Batch, serial: int = 1, package_kg: float = 0.5) -> UnitCode:
    """One package's code under a batch (written directly: issuing is the labels area's service)."""
    row = UnitCode(code=codes.new_code(), batch_id=batch.id, serial=serial, package_kg=package_kg)
    session.add(row)
    batch.units_issued += 1
    session.add(batch)
    session.flush()
    return row


def decide(producer_id: int, action: str, on: date) -> None:
    """A later decision written straight into the history (the rules were checked when it was made)."""
    DecisionFactory(producer_id=producer_id, action=action, effective_date=on)


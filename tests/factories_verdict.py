"""Scan-page verdict scenarios (issue 12), made through the tracing services: one per headline state."""
from __future__ import annotations

from gi_trace.tracing import services as tracing
from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.factories_tracing import PASSING_TEST, SHIPPED, STORED, Grower

# 14.6 % moisture against the product's 13 % maximum: the test fails on a measured value.
FAILING_TEST = {**PASSING_TEST, "report_no": "NX-2025-0716", "moisture_pct": 14.6}


def sellable(session, **kwargs):
    """(harvest, lot, unit): a tested, authorised, verified-origin lot and one package of it."""
    _grower, harvest, lot = lot_from_tested_harvest(session, trademark_name="红宝牌", **kwargs)
    return harvest, lot, unit_code(session, lot, serial=3)


def failed(session):
    """(harvest, lot, unit): a harvest whose test failed, a lot split from it and one package."""
    _grower, harvest, lot = lot_from_tested_harvest(session, test=FAILING_TEST, trademark_name="红宝牌")
    return harvest, lot, unit_code(session, lot, serial=1)


def recalled(session):
    """(harvest, lot, unit): the harvest withdrawn by its owner after a lot was split from it and a package
    coded: the recall reaches the lot and its package (tracing.recall)."""
    grower, harvest, lot = lot_from_tested_harvest(session, trademark_name="红宝牌")
    unit = unit_code(session, lot, serial=2)
    tracing.withdraw(session, grower.user, harvest, "霉变")
    return harvest, lot, unit


RETESTED = "2025-07-20T10:00:00+08:00"
RETEST = {**PASSING_TEST, "report_no": "NX-2025-0720", "sampled_at": "2025-07-19"}


def cleared(session):
    """(harvest, lot, unit): a harvest whose first test failed on moisture (14.6 % > 13 %), re-dried and re-tested
    with a pass (tracing.quality: a moisture failure is cleared by a later passing test), then split into a lot."""
    grower = Grower.make(session)
    harvest = grower.tested(session, test=FAILING_TEST)
    grower.event(session, harvest, "testing", RETESTED, RETEST)
    lot = tracing.split(session, grower.user, harvest, [{"quantity_kg": 100.0, "producer_lot": "L-1"}],
                        occurred_at=STORED).children[0]
    grower.event(session, lot, "storage", SHIPPED, {"place": "中宁县枸杞交易市场冷库", "conditions": "阴凉干燥"})
    return harvest, lot, unit_code(session, lot, serial=4)

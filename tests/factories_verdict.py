"""Scan-page verdict scenarios (issue 12), made through the tracing services: one per headline state."""
from __future__ import annotations

from gi_trace.tracing import services as tracing
from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.factories_tracing import PASSING_TEST

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
    """(harvest, lot, unit): the lot withdrawn by its owner (the harvest behind it is not)."""
    grower, harvest, lot = lot_from_tested_harvest(session, trademark_name="红宝牌")
    unit = unit_code(session, lot, serial=2)
    tracing.withdraw(session, grower.user, lot, "霉变")
    return harvest, lot, unit

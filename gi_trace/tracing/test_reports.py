"""The latest passing test report of a producer's product, from its batches' recorded tests.

An authorisation's evidence includes "the latest passing test report" (issue 15): the regulator's
decision form offers it from the record instead of asking for it to be typed. "Passing" is the computed
verdict of the test's measured values against the limits kept in its event (`tracing.quality.evaluate`),
never the lab's tick; an ungraded or older test without measured values does not count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from gi_trace.tracing import quality
from gi_trace.tracing.models import Batch, Event
from gi_trace.tracing.rules import local_time

LOOK_BACK = 200  # the most recent test events read; a producer's latest passing one is among them


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest class

    report_no: str
    lab: str
    sampled_on: date
    batch_code: str


def latest_passing(session: Session, producer_id: int, product_id: int) -> Optional[TestReport]:
    """The most recent test of this producer's batches of this product whose computed verdict is a pass
    (a corrected test counts as its correction says), or None."""
    later = aliased(Event)
    corrected = select(later.id).where(later.corrects_event_id == Event.id).exists()
    rows = session.execute(
        select(Event.data, Event.occurred_at, Event.utc_offset_min, Batch.code)
        .join(Batch, Batch.id == Event.batch_id)
        .where(Batch.producer_id == producer_id, Batch.product_id == product_id, Event.stage == "testing",
               ~corrected)
        .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(LOOK_BACK)).all()
    for data, occurred_at, offset, code in rows:
        if quality.evaluate(data or {}).state == quality.PASSED and (data or {}).get("report_no"):
            return TestReport(str(data["report_no"]), str(data.get("lab") or ""),
                              local_time(occurred_at, offset).date(), code)
    return None

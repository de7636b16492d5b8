"""Tracing factories and helpers: batches through the real services, so their chains verify."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import factory

from gi_trace.accounts.models import User
from gi_trace.registry.models import Plot, Producer
from gi_trace.tracing import codes, services
from gi_trace.tracing.models import Batch, ProductLine
from tests.factories import BaseFactory, PlotFactory, TrademarkFactory, authorised_producer, goji, producer_user


class BatchFactory(BaseFactory):
    """A bare batch row (no events): for lookups and access tests; use `Grower` for real histories."""

    class Meta:
        model = Batch

    code = factory.LazyFunction(codes.new_code)
    producer_id = factory.LazyFunction(lambda: authorised_producer().id)
    product_id = factory.LazyFunction(lambda: goji().id)
    kind = "harvest"


class ProductLineFactory(BaseFactory):
    class Meta:
        model = ProductLine

    product_id = factory.LazyFunction(lambda: goji().id)
    gtin14 = "06901234567892"
    name = "中宁枸杞 250 g"


# Times inside the 2025 season, in China Standard Time.
PLANTED = "2025-04-10T09:00:00+08:00"
PICKED = "2025-07-01T08:00:00+08:00"
PICKED_2 = "2025-07-08T08:00:00+08:00"
DRIED = "2025-07-12T18:00:00+08:00"
TESTED = "2025-07-15T10:00:00+08:00"
PROCESSED = "2025-08-01T10:00:00+08:00"
STORED = "2025-08-05T10:00:00+08:00"
SHIPPED = "2025-08-10T10:00:00+08:00"
ARRIVED = "2025-08-11T09:00:00+08:00"

PASSING_TEST = {"lab": "宁夏农产品质量检测中心", "report_no": "NX-2025-0715", "sampled_at": "2025-07-14",
                "sampled_by": "王检", "method": "GB/T 18672-2014", "moisture_pct": 11.5, "grains_per_50g": 300,
                "so2_mg_per_kg": 8.0, "residues": [], "lab_verdict": "pass"}


@dataclass
class Grower:
    """An authorised 中宁枸杞 producer with an account, a trademark and a 20-亩 plot in 宁安镇."""

    producer: Producer
    user: User
    plot: Plot
    trademark_id: int

    @classmethod
    def make(cls, session, area_mu: float = 20.0, town_code: str = "640521100", **producer_kwargs) -> "Grower":
        producer = authorised_producer(**producer_kwargs)
        user = producer_user(producer)
        plot = PlotFactory(producer_id=producer.id, area_mu=area_mu, town_code=town_code)
        trademark = TrademarkFactory(producer_id=producer.id)
        return cls(producer, user, plot, trademark.id)

    def open(self, session, **kwargs) -> Batch:
        data = services.BatchInput(cultivar="宁杞7号", trademark_id=self.trademark_id, **kwargs)
        return services.open_batch(session, self.user, goji(session), data)

    def event(self, session, batch: Batch, stage: str, occurred_at: str, data: Optional[dict] = None, **kwargs):
        return services.record_event(session, self.user, batch,
                                     services.EventInput(stage=stage, occurred_at=occurred_at, data=data, **kwargs))

    def harvested(self, session, fresh_kg: float = 1000.0, **kwargs) -> Batch:
        batch = self.open(session, **kwargs)
        self.event(session, batch, "planting", PLANTED, {"plot_id": self.plot.id, "cultivar": "宁杞7号"})
        self.event(session, batch, "harvest", PICKED, {"plot_id": self.plot.id, "picking_round": 3,
                                                       "fresh_kg": fresh_kg})
        return batch

    def dried(self, session, fresh_kg: float = 1000.0, dried_kg: float = 240.0, **kwargs) -> Batch:
        batch = self.harvested(session, fresh_kg, **kwargs)
        self.event(session, batch, "drying", DRIED, {"method": "hot_air", "temperature_c": 55,
                                                     "dried_kg_out": dried_kg, "moisture_pct": 11.0})
        return batch

    def tested(self, session, fresh_kg: float = 1000.0, dried_kg: float = 240.0, test: Optional[dict] = None,
               **kwargs) -> Batch:
        batch = self.dried(session, fresh_kg, dried_kg, **kwargs)
        self.event(session, batch, "testing", TESTED, test or PASSING_TEST)
        return batch


def dealer_with_account(**kwargs) -> tuple[Producer, User]:
    """An authorised trader (宁夏杞乡枸杞商行) and its account: the usual receiver of a hand-over."""
    party = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行", **kwargs)
    return party, producer_user(party)

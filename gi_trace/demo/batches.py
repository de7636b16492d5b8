"""Demo batches for `flask --app gi_trace demo-data`: a newcomer can scan a label at once.

Recorded through the real tracing services as the demo `producer` account, so every rule, flag and
hash chain applies exactly as for a real producer. The 2025 season: one batch from planting to
distribution with two packing lots and package codes (一物一码), and one batch whose test failed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.registry.models import Plot, Product, ProductTown, Trademark
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.tracing import services, units
from gi_trace.tracing.services import BatchInput, EventInput
from gi_trace.tracing.services import inputs as plot_inputs

LAB = "宁夏农产品质量检验检测中心"


@dataclass
class DemoBatches:
    """Codes worth opening at /t/<code>, with what each shows."""

    codes: list[tuple[str, str]] = field(default_factory=list)  # (what it shows, code)
    # What the plot's inputs forbid: a harvest from the plot before this date (safety interval) is refused.
    harvest_blocked_until: Optional[tuple[str, str]] = None  # (plot name, local date)



def demo_time(text: str) -> datetime:
    """A moment of the demo's story (ISO 8601 with its offset) in UTC, for records a service stamps itself
    unless told (unit codes are issued "now" by default: the demo's packages were issued in their season)."""
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def lab_test(report_no: str, sampled_at: str, **values) -> dict:
    """A demo lab report: who sampled when, the method, and the measured values (never typed pass ticks)."""
    return {"lab": LAB, "lab_cma_no": "CMA 200000000000", "report_no": report_no, "sampled_at": sampled_at,
            "sampled_by": "中宁县农产品质量安全检测站 抽样员", "method": "GB/T 18672-2014; GB 5009.34; GB 23200.8",
            **values}

# kind, product, 农药登记证号, active ingredient, dose, applied on, safety interval (days). The last spray, after
# the demo's harvests, keeps the plot closed to picking until 2025-09-10: a harvest recorded before is refused.
DEMO_INPUTS = [
    ("fertiliser", "腐熟羊粪", "", "", "2 t/亩", "2025-03-25", None),
    ("fertiliser", "枸杞专用复合肥（15-15-15）", "", "", "40 kg/亩", "2025-05-18", None),
    ("pesticide", "吡虫啉可湿性粉剂", "PD20080001", "吡虫啉", "1500倍液", "2025-06-10", 14),
    ("pesticide", "阿维菌素乳油", "PD20101234", "阿维菌素", "3000倍液", "2025-07-22", 7),
    ("pesticide", "啶虫脒可湿性粉剂", "PD20121234", "啶虫脒", "2000倍液", "2025-08-20", 21),
]


def load_demo_batches(session: Session, username: str = "producer") -> DemoBatches:
    """Record the demo season for `username`'s producer; nothing when it has no plot in the protected area."""
    result = DemoBatches()
    user = session.exec(select(User).where(User.username == username)).first()
    product = session.exec(select(Product).where(Product.slug == GOJI_SLUG)).first()
    if user is None or user.producer_id is None or product is None:
        return result
    towns = set(session.exec(select(ProductTown.town_code).where(ProductTown.product_id == product.id)).all())
    plot = next((p for p in session.exec(select(Plot).where(Plot.producer_id == user.producer_id)
                                         .order_by(Plot.area_mu.desc())).all() if p.town_code in towns), None)
    if plot is None:
        return result
    mark = session.exec(select(Trademark).where(Trademark.producer_id == user.producer_id)).first()
    # Plausible for the plot: about 250 kg dried per 亩 at 4.2 kg fresh per kg dried, capped for a demo.
    fresh = round(min(plot.area_mu * 250 * 4.2 * 0.5, 4000.0), 1)

    # The season's work on the plot (demo figures; registration numbers in the format of 农药登记证号).
    for kind, name, reg_no, active, dose, on, days in DEMO_INPUTS:
        last = plot_inputs.record_input(session, user, plot, plot_inputs.InputData(
            kind=kind, product_name=name, registration_no=reg_no, active_ingredient=active, dose=dose, applied_on=on,
            safety_interval_days=days, applied_by="园长"))
    result.harvest_blocked_until = (plot.name or str(plot.id), plot_inputs.earliest_harvest(last).isoformat())

    def record(batch, stage, at, data):
        services.record_event(session, user, batch, EventInput(stage=stage, occurred_at=at, data=data))

    def harvest_and_dry(lot: str, picked: str, dried_on: str, fresh_kg: float):
        batch = services.open_batch(session, user, product, BatchInput(
            cultivar=plot.cultivar or "宁杞7号", trademark_id=mark.id if mark else None, producer_lot=lot))
        record(batch, "planting", "2025-04-10T09:00:00+08:00", {"plot_id": plot.id, "cultivar": plot.cultivar or "宁杞7号"})
        record(batch, "harvest", picked, {"plot_id": plot.id, "picking_round": 3, "fresh_kg": fresh_kg})
        record(batch, "drying", dried_on, {"method": "hot_air", "temperature_c": 55,
                                           "dried_kg_out": round(fresh_kg / 4.2, 1), "moisture_pct": 11.2})
        return batch

    good = harvest_and_dry("ZN2025-07A", "2025-07-01T08:00:00+08:00", "2025-07-05T18:00:00+08:00", fresh)
    record(good, "testing", "2025-07-08T10:00:00+08:00", lab_test(
        "NX-2025-0708-17", "2025-07-06", moisture_pct=11.2, grains_per_50g=268, so2_mg_per_kg=6.0,
        residues=[{"substance": "吡虫啉", "mg_per_kg": 0.05}], lab_verdict="pass"))
    record(good, "storage", "2025-07-10T09:00:00+08:00", {"place": "中宁县枸杞交易市场冷库", "conditions": "0–4 °C, 干燥避光"})
    half = round(good.available_kg / 2, 1)
    lots = services.split(session, user, good, [{"quantity_kg": half, "producer_lot": "ZN2025-07A-1"},
                                                {"quantity_kg": half, "producer_lot": "ZN2025-07A-2"}],
                          occurred_at="2025-07-20T09:00:00+08:00").children
    record(lots[0], "distribution", "2025-08-02T10:00:00+08:00", {"recipient": "银川新华百货超市", "kg": round(half / 4, 1)})
    issued = units.issue_units(session, user, lots[1], 3, 0.25,
                               issued_at=demo_time("2025-07-21T09:00:00+08:00"))
    failed = harvest_and_dry("ZN2025-08B", "2025-08-12T08:00:00+08:00", "2025-08-16T18:00:00+08:00",
                             round(fresh / 2, 1))
    # Fails by its values: moisture 14.6% above the 13% limit (the lab's own conclusion is only recorded).
    record(failed, "testing", "2025-08-19T10:00:00+08:00", lab_test(
        "NX-2025-0819-03", "2025-08-18", moisture_pct=14.6, grains_per_50g=350, so2_mg_per_kg=9.0, residues=[],
        lab_verdict="fail"))
    # Too wet at first, re-dried and re-tested: the moisture failure is cleared by the passing re-test.
    redried = harvest_and_dry("ZN2025-08C", "2025-08-13T08:00:00+08:00", "2025-08-17T18:00:00+08:00",
                              round(fresh / 3, 1))
    record(redried, "testing", "2025-08-20T10:00:00+08:00", lab_test(
        "NX-2025-0820-05", "2025-08-19", moisture_pct=14.6, grains_per_50g=300, so2_mg_per_kg=7.0, residues=[]))
    record(redried, "testing", "2025-08-24T10:00:00+08:00", lab_test(
        "NX-2025-0824-02", "2025-08-23", moisture_pct=11.8, grains_per_50g=300, so2_mg_per_kg=7.0, residues=[],
        lab_verdict="pass"))
    result.codes = [("harvest batch, tested and split", good.code), ("packing lot, partly distributed", lots[0].code),
                    ("one package (一物一码)", issued[0].code), ("batch whose test failed", failed.code),
                    ("batch re-dried and re-tested (failure cleared)", redried.code)]
    return result

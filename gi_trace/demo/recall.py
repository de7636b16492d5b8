"""The demo recall for `flask --app gi_trace demo-data`: a sampling test finds SO₂ above the limit after the goods
have been sold on and packed, and the county regulator withdraws the batch.

A household of the demo chain picks and dries a late (September) batch and sells most of it to a dealer at the
market; the dealer has its purchase tested (it passes), splits a packing lot off it and issues package codes
(一物一码). Then the county's supervisory sampling of what the household kept finds SO₂ 180 mg/kg, above the
50 mg/kg limit (sulphur fumigation is banned), and 中宁县市场监督管理局 withdraws the household's batch: the recall
reaches the dealer's purchase batch, its packing lot and the packages, so their scan pages say 已召回.
Everything goes through the real services, as the rest of the demo does.
"""
from __future__ import annotations

from typing import Optional

from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.demo.batches import demo_time, lab_test
from gi_trace.registry.models import Plot, Product
from gi_trace.tracing import services, transfers, units
from gi_trace.tracing.models import Batch
from gi_trace.tracing.services import BatchInput, EventInput

SAMPLING_LAB = "宁夏回族自治区食品检测研究院"
REASON = "监督抽检二氧化硫 180 mg/kg，超过限量 50 mg/kg（疑似硫磺熏蒸），责令召回"


def record_recall(session: Session, product: Product, household_user: User, plot: Plot,
                  dealer_user: User) -> list[tuple[str, str]]:
    """Record the recall story; returns (what it shows, code) of the recalled package and the withdrawn batch."""
    regulator = _regulator(session)
    if regulator is None:
        return []

    def record(user: User, batch: Batch, stage: str, at: str, data: dict) -> None:
        services.record_event(session, user, batch, EventInput(stage=stage, occurred_at=at, data=data))

    cultivar = plot.cultivar or "宁杞7号"
    late = services.open_batch(session, household_user, product, BatchInput(cultivar=cultivar))
    record(household_user, late, "planting", "2025-04-10T09:00:00+08:00", {"plot_id": plot.id, "cultivar": cultivar})
    record(household_user, late, "harvest", "2025-09-01T07:30:00+08:00",
           {"plot_id": plot.id, "picking_round": 9, "fresh_kg": 210.0})
    record(household_user, late, "drying", "2025-09-06T18:00:00+08:00",
           {"method": "sun", "dried_kg_out": 50.0, "moisture_pct": 11.6})
    bought = transfers.purchase(session, dealer_user, transfers.PurchaseInput(
        quantity_kg=40.0, source_batch=late.code, purchased_at="2025-09-08T09:30:00+08:00", grade="特级",
        price_yuan_per_kg=66.0)).batch
    record(dealer_user, bought, "testing", "2025-09-10T10:00:00+08:00", lab_test(
        "NX-2025-0910-21", "2025-09-09", moisture_pct=11.3, grains_per_50g=340, so2_mg_per_kg=8.0, residues=[],
        lab_verdict="pass"))
    lot = services.split(session, dealer_user, bought, [{"quantity_kg": 10.0, "producer_lot": "QX-2025-09-R"}],
                         occurred_at="2025-09-11T09:00:00+08:00").children[0]
    packages = units.issue_units(session, dealer_user, lot, 4, 0.5,
                                 issued_at=demo_time("2025-09-11T14:00:00+08:00"))
    # The county's supervisory sampling of what the household kept: SO₂ far above the limit.
    sampling = lab_test("JC-2025-0915-08", "2025-09-12", moisture_pct=11.5, grains_per_50g=345,
                        so2_mg_per_kg=180.0, residues=[], lab_verdict="fail")
    record(household_user, late, "testing", "2025-09-15T10:00:00+08:00", {
        **sampling, "lab": SAMPLING_LAB, "sampled_by": "中宁县市场监督管理局 监督抽检"})
    services.withdraw(session, regulator, late, REASON, occurred_at="2025-09-16T09:00:00+08:00")
    return [("recalled package (一物一码): a sampling test found SO₂ 180 mg/kg in the household's batch it came from",
             packages[0].code),
            ("household batch withdrawn by the county regulator (SO₂ above the limit)", late.code)]


def _regulator(session: Session) -> Optional[User]:
    """中宁县's regulator of the demo (else the city's, else the administrator)."""
    for username in ("zhongning", "regulator", "admin"):
        user = session.exec(select(User).where(User.username == username)).first()
        if user is not None:
            return user
    return None

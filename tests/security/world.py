"""A small seeded world for the security tests: two producers, regulators of two counties, an admin.

Producer A (中宁县 640521) owns everything an attacker would want to reach: a tested harvest batch
split into a packed lot with events, unit codes, a product line, a plausibility flag, a complaint
with a photo. Producer B is another authorised producer of the same county. Regulators: one for
the whole city, one for 海原县 (640522), where none of the data lives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from gi_trace.accounts import services as accounts
from gi_trace.accounts.models import User
from gi_trace.oversight.models import AnnualReport, EnforcementCase
from gi_trace.jobs.models import Job
from gi_trace.scan.complaints import file_complaint
from gi_trace.tracing import services as tracing
from gi_trace.tracing import transfers
from gi_trace.tracing.models import Batch, PlausibilityFlag, ProductLine, UnitCode
from tests.factories import UserFactory, goji, gs1_prefix
from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.factories_tracing import SHIPPED, Grower

OTHER_COUNTY = "640522"  # 海原县

# A 1x1 PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@dataclass
class World:
    producer_a: Grower
    producer_b: Grower
    harvest: Batch
    lot: Batch
    unit: UnitCode
    line: ProductLine
    flag: PlausibilityFlag
    complaint_id: int
    b_batch: Batch = None
    shipment_id: int = 0  # in transit from producer B to producer A
    purchase_id: int = 0  # producer A's purchase from a farmer not on the register
    sale_event_id: int = 0  # producer A's sale of 1 kg (lot S-1) to a shop not on the register (distribution)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    job_id: int = 0  # a finished long job producer A asked for, with a result to download
    report_version_id: int = 0  # a draft annual report (city-wide)
    case_id: int = 0  # an enforcement case (city-wide)


def build(session) -> World:
    """Seed the world and commit it; tokens for every user are in `World.tokens`."""
    grower_a, harvest, lot = lot_from_tested_harvest(session)
    grower_b = Grower.make(session)
    b_batch = grower_b.harvested(session)
    unit = unit_code(session, lot)
    line = ProductLine(product_id=goji(session).id, producer_id=grower_a.producer.id, gtin14="06901234567892",
                       name="中宁枸杞 250 g", product_form="dried", package_kg=0.25)
    session.add(line)
    # GS1 company prefixes of producer A: its line's, and one it registers more GTINs under in the tests.
    for prefix in ("6901234", "4006381"):
        gs1_prefix(grower_a.producer, prefix)
    # A GLN for /417/<gln>: producer B's, as the matrix's regulators post empty forms to producer A's page, and
    # an empty GLN form clears A's.
    grower_b.producer.gln = "6901234000009"
    session.add(grower_b.producer)
    session.flush()
    flag = PlausibilityFlag(batch_id=harvest.id, producer_id=grower_a.producer.id, kind="yield",
                            message="test flag", params={})
    session.add(flag)
    session.flush()
    complaint = file_complaint(session, source="scan", category="counterfeit", text="标签看起来是假的",
                               code=lot.code, batch_id=lot.id, producer_id=grower_a.producer.id,
                               photo=PNG, photo_mime="image/png")
    shipment = transfers.ship(session, grower_b.user, b_batch, to=grower_a.producer.code, quantity_kg=1)
    purchase = transfers.purchase(session, grower_a.user, transfers.PurchaseInput(
        quantity_kg=5, seller_name="王五", town_code="640521104")).purchase
    # A lot of its own for the sale: a distribution moves a batch to the last stage, which the tours' lot must not be.
    sold = tracing.split(session, grower_a.user, harvest, [{"quantity_kg": 1.0, "producer_lot": "S-1"}],
                         occurred_at=SHIPPED).children[0]
    sale = grower_a.event(session, sold, "distribution", SHIPPED, {"recipient": "中宁县某某超市", "kg": 1})
    users = {
        "producer_a": grower_a.user,
        "producer_b": grower_b.user,
        "regulator_other": UserFactory(username="reg_haiyuan", role="regulator", county_code=OTHER_COUNTY),
        "regulator_city": UserFactory(username="reg_city", role="regulator"),
        "admin": UserFactory(username="admin1", role="admin"),
    }
    tokens = {name: accounts.create_token(session, user, "security tests")[1] for name, user in users.items()}
    job = Job(kind="security_tests", requested_by=grower_a.user.id, status="done", result=b"x", result_name="x.txt",
              result_mime="text/plain")
    session.add(job)
    session.flush()
    version = AnnualReport(product_id=goji(session).id, year=2025, county_code=None, authority="中卫市市场监督管理局")
    case = EnforcementCase(case_no="中市监处〔2025〕1号", party="某商行", county_code=None, finding="外地枸杞冒充",
                           opened_on=date(2025, 5, 1))
    session.add_all([version, case])
    session.flush()
    session.commit()
    return World(grower_a, grower_b, harvest, lot, unit, line, flag, complaint.id, b_batch, shipment_id=shipment.id,
                 purchase_id=purchase.id, sale_event_id=sale.id, users=users, tokens=tokens, job_id=job.id, report_version_id=version.id,
                 case_id=case.id)

"""The demo chain across owners for `flask --app gi_trace demo-data`: households → dealers → a processor.

About 30 authorised households in the protected towns pick and dry goji; two dealers (枸杞商行) buy their
dried fruit at the 中宁枸杞交易市场 (purchases of the households' batches: shipments received at once); one
dealer also buys from two unregistered farmers of 太阳梁乡, outside the protected towns, so one of its
blends cannot carry the GI mark. The dealers ship their blends to one processing enterprise, which packs
three products with unit codes (一物一码); a late batch of one household is recalled after the dealer packed
it (gi_trace.demo.recall). Everything goes through the real services, so every rule, mass
balance and hash chain applies; the same seed gives the same data.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Optional

from sqlalchemy import insert
from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from gi_trace.accounts.models import User
from gi_trace.accounts.services import create_user
from gi_trace.authorisation import rules as auth_rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import status as authorisation_status
from gi_trace.demo.batches import demo_time, lab_test
from gi_trace.demo.recall import record_recall
from gi_trace.registry.gln import check_digit
from gi_trace.registry.models import Plot, Producer, Product, ProductTown
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.registry.uscc import ALPHABET, check_character
from gi_trace.tracing import services, transfers, units
from gi_trace.tracing.services import BatchInput, EventInput
from gi_trace.tracing.services import inputs as plot_inputs
from gi_trace.types import utcnow

HOUSEHOLDS = 30
LAB = "宁夏农产品质量检验检测中心"
OUTSIDE_TOWN = "640521206"  # 太阳梁乡: in 中宁县 but not a protected town of 中宁枸杞
DEALERS = [("dealer", "宁夏杞乡枸杞商行", "640521100"), ("dealer2", "中宁县红宝枸杞商行", "640521101")]
PROCESSOR = ("processor", "宁夏中杞食品有限公司", "640521102")
# The enterprises' GLNs (fictional, under a GS1 China-style company prefix 6971234): the export names them by
# `/417/<gln>`; the households have none and stay `/id/party/<registry number>`.
GLN_BODIES = {"dealer": "697123400001", "dealer2": "697123400002", "processor": "697123400003"}


def demo_gln(username: str) -> str:
    body = GLN_BODIES[username]
    return body + str(check_digit(body))

# The processor's three products: (form, lot, kg per package, packages with unit codes).
PRODUCTS = [("dried", "ZQ-2025-GX250", 0.25, 4), ("powder", "ZQ-2025-FM100", 0.1, 3), ("juice", "ZQ-2025-YZ500", 0.5, 3)]


@dataclass
class DemoChain:
    """What a newcomer opens: codes and the trader's login."""

    codes: list[tuple[str, str]] = field(default_factory=list)  # (what it shows, code)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (username, note)


def _uscc(rnd: random.Random, type_code: str) -> str:
    body = type_code + "640521" + "".join(rnd.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


def _party(session: Session, rnd: random.Random, name: str, kind: str, town: str, phone: str,
           gln: str) -> Producer:
    party = Producer(uscc=_uscc(rnd, "92" if kind == "trader" else "91"), name=name, kind=kind,
                     county_code="640521", town_code=town, contact_phone=phone, gln=gln,
                     gln_recorded_at=utcnow())
    session.add(party)
    session.flush()
    return party


def _authorise(session: Session, party: Producer, product: Product, admin_id: Optional[int]) -> None:
    """Traders and processors need their own authorisation to put the GI mark on what they pack."""
    for action, day in (("apply", date(2024, 3, 1)), ("approve", date(2024, 4, 1))):
        session.add(AuthorisationDecision(producer_id=party.id, product_id=product.id, action=action,
                                          effective_date=day, reference_no=f"中宁地标许字〔2024〕{900 + party.id}号" if action == "approve" else "",
                                          reason="", decided_by=admin_id, source="web"))
    session.flush()


def load_demo_chain(session: Session, seed: int = 2025, password: str = "demo12345") -> DemoChain:
    """Record the 2025 chain; nothing when the register has no authorised households in the protected towns."""
    result = DemoChain()
    rnd = random.Random(seed * 7 + 11)
    product = session.exec(select(Product).where(Product.slug == GOJI_SLUG)).first()
    if product is None:
        return result
    towns = set(session.exec(select(ProductTown.town_code).where(ProductTown.product_id == product.id)).all())
    admin = session.exec(select(User).where(User.username == "admin")).first()
    admin_id = admin.id if admin else None
    today = date(2025, 12, 31)
    households = []
    for household in session.exec(select(Producer).where(Producer.kind == "household").order_by(Producer.id)).all():
        plot = session.exec(select(Plot).where(Plot.producer_id == household.id).order_by(Plot.id)).first()
        if plot is None or plot.town_code not in towns:
            continue
        if not authorisation_status(session, household.id, product.id, today).state == auth_rules.AUTHORISED:
            continue
        households.append((household, plot))
        if len(households) == HOUSEHOLDS:
            break
    if len(households) < 4:
        return result

    # Households keep no login of their own here: records are made under an inactive account per household.
    unusable = generate_password_hash(rnd.random().hex())
    rows = [{"username": f"hh{h.id}", "password_hash": unusable, "role": "producer", "display_name": "",
             "producer_id": h.id, "is_active": False} for h, _plot in households]
    session.execute(insert(User), rows)
    users = {u.producer_id: u for u in session.exec(select(User).where(User.username.in_([r["username"]
                                                                                        for r in rows]))).all()}

    dealers = []
    for username, name, town in DEALERS:
        party = _party(session, rnd, name, "trader", town, f"0955-50{rnd.randint(10000, 99999)}",
                       demo_gln(username))
        _authorise(session, party, product, admin_id)
        dealers.append((party, create_user(session, username, password, "producer", display_name=name,
                                           producer_id=party.id)))
    processor = _party(session, rnd, PROCESSOR[1], "processor", PROCESSOR[2], "0955-5088888",
                       demo_gln(PROCESSOR[0]))
    _authorise(session, processor, product, admin_id)
    processor_user = create_user(session, PROCESSOR[0], password, "producer", display_name=PROCESSOR[1],
                                 producer_id=processor.id)
    result.accounts = [(DEALERS[0][0], f"trader {DEALERS[0][1]}"), (DEALERS[1][0], f"trader {DEALERS[1][1]}"),
                       (PROCESSOR[0], f"processor {PROCESSOR[1]}")]

    def record(user, batch, stage, at, data):
        services.record_event(session, user, batch, EventInput(stage=stage, occurred_at=at, data=data))

    # Households pick and dry (one batch each, July), and sell at the market in August.
    dried = []
    for i, (household, plot) in enumerate(households):
        user = users[household.id]
        batch = services.open_batch(session, user, product, BatchInput(cultivar=plot.cultivar or "宁杞7号"))
        day = 1 + i % 20
        record(user, batch, "planting", "2025-04-10T09:00:00+08:00",
               {"plot_id": plot.id, "cultivar": plot.cultivar or "宁杞7号"})
        if i < 3:  # a few households recorded their spring manure: the blend's page lists it once per record
            plot_inputs.record_input(session, user, plot, plot_inputs.InputData(
                kind="fertiliser", product_name="腐熟羊粪", dose="1.5 t/亩", applied_on=f"2025-04-{12 + i:02d}"))
        fresh = round(min(plot.area_mu, 6) * rnd.uniform(90, 140), 1)
        record(user, batch, "harvest", f"2025-07-{day:02d}T07:30:00+08:00",
               {"plot_id": plot.id, "picking_round": 4, "fresh_kg": fresh})
        record(user, batch, "drying", f"2025-07-{day + 5:02d}T18:00:00+08:00",
               {"method": "sun" if i % 3 else "hot_air", "dried_kg_out": round(fresh / rnd.uniform(3.9, 4.4), 1),
                "moisture_pct": 11.5})
        dried.append(batch)

    bought: dict[int, list] = {dealers[0][0].id: [], dealers[1][0].id: []}
    for i, batch in enumerate(dried):
        party, user = dealers[0] if i < len(dried) * 3 // 5 else dealers[1]
        kg = round(batch.available_kg * rnd.uniform(0.8, 1.0), 1)
        purchase = transfers.purchase(session, user, transfers.PurchaseInput(
            quantity_kg=kg, source_batch=batch.code, purchased_at=f"2025-08-{1 + i % 9:02d}T09:{10 + i:02d}:00+08:00",
            grade=rnd.choice(["特优", "特级", "甲级"]), price_yuan_per_kg=round(rnd.uniform(55, 80), 1)))
        bought[party.id].append(purchase.batch)
    # Dealer 2 also buys from two farmers of 太阳梁乡 who are not on the register.
    second_party, second_user = dealers[1]
    outside = [transfers.purchase(session, second_user, transfers.PurchaseInput(
        quantity_kg=qty, seller_name=name, town_code=OUTSIDE_TOWN, purchased_at=f"2025-08-10T10:{m:02d}:00+08:00",
        grade="甲级", price_yuan_per_kg=48.0)).batch for name, qty, m in (("马建军", 85.0, 5), ("丁小平", 60.0, 20))]

    # Each dealer blends what it bought; dealer 2's second blend takes the outside goji in.
    first_party, first_user = dealers[0]
    blend_a = services.merge(session, first_user, [(b, None) for b in bought[first_party.id]],
                             occurred_at="2025-08-12T15:00:00+08:00", producer_lot="QX-2025-08-A").children[0]
    own = bought[second_party.id]
    half = len(own) // 2
    blend_b = services.merge(session, second_user, [(b, None) for b in own[:half]],
                             occurred_at="2025-08-12T16:00:00+08:00", producer_lot="HB-2025-08-1").children[0]
    blend_c = services.merge(session, second_user, [(b, None) for b in own[half:] + outside],
                             occurred_at="2025-08-12T16:30:00+08:00", producer_lot="HB-2025-08-2").children[0]
    for blend, user in ((blend_a, first_user), (blend_b, second_user), (blend_c, second_user)):
        record(user, blend, "testing", "2025-08-13T10:00:00+08:00", lab_test(
            f"NX-2025-0813-{blend.id:03d}", "2025-08-12", moisture_pct=11.4, grains_per_50g=330, so2_mg_per_kg=5.0,
            residues=[], lab_verdict="pass"))

    # The dealers ship the two GI blends to the processor, which receives them (a little lost in transit).
    received = []
    for blend, user, day in ((blend_a, first_user, 15), (blend_b, second_user, 16)):
        kg = round(blend.available_kg * 0.9, 1)
        shipment = transfers.ship(session, user, blend, to=processor.code, quantity_kg=kg,
                                  shipped_at=f"2025-08-{day:02d}T08:00:00+08:00", document_no=f"YD2025{day:02d}{blend.id:04d}")
        received.append(transfers.receive(session, processor_user, shipment,
                                          received_at=f"2025-08-{day:02d}T16:00:00+08:00",
                                          quantity_kg=round(kg - 0.4, 1), producer_lot=f"RK-2025-08-{day}"))
    # The outside blend goes to the processor too, refused at intake (进货查验).
    refused = transfers.ship(session, second_user, blend_c, to=processor.code, quantity_kg=50.0,
                             shipped_at="2025-08-17T08:00:00+08:00", document_no="YD20250817")
    transfers.reject(session, processor_user, refused, reason="产地证明不全，含保护范围外原料", rejected_at=
                     "2025-08-17T15:00:00+08:00")

    # The processor packs three products from its intake, with unit codes.
    stock = services.merge(session, processor_user, [(b, None) for b in received],
                           occurred_at="2025-08-18T09:00:00+08:00", producer_lot="ZQ-2025-08-IN").children[0]
    share = round(stock.available_kg / 3 - 1, 1)
    made = services.transform(session, processor_user, [(stock, round(share * 3, 1))],
                              [{"quantity_kg": round(share * (0.98 if form == "dried" else 0.6), 1),
                                "product_form": form, "producer_lot": lot} for form, lot, _kg, _n in PRODUCTS],
                              occurred_at="2025-08-20T09:00:00+08:00", extra={"process": "分选、包装"}).children
    issued = []
    for child, (form, _lot, package_kg, count) in zip(made, PRODUCTS):
        record(processor_user, child, "testing", "2025-08-22T10:00:00+08:00", lab_test(
            f"NX-2025-0822-{child.id:03d}", "2025-08-21", moisture_pct=10.8, grains_per_50g=300, so2_mg_per_kg=4.0,
            residues=[{"substance": "啶虫脒", "mg_per_kg": 0.02}], lab_verdict="pass"))
        issued.append(units.issue_units(session, processor_user, child, count, package_kg,
                                         issued_at=demo_time("2025-08-23T09:00:00+08:00")))
    result.codes = [
        ("processor's package (一物一码): chain back to the households", issued[0][0].code),
        ("processor's powder lot", made[1].code),
        (f"{DEALERS[0][1]} blend (GI)", blend_a.code),
        (f"{DEALERS[1][1]} blend with goji from outside the protected towns (not GI)", blend_c.code),
    ]
    # A late batch of the last household, sold to dealer 1 and packed, then withdrawn after a sampling test.
    household, plot = households[-1]
    result.codes += record_recall(session, product, users[household.id], plot, first_user)
    return result

"""以地定产、以产核标 across owners: capacity, harvested, received and GI-marked kilograms per party and county,
and the plausibility flag raised when a party's GI-marked kilograms exceed its traced sources."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.errors import Refused
from gi_trace.tracing import capacity, transfers, units
from gi_trace.tracing import services as tracing
from gi_trace.tracing.models import Batch, PlausibilityFlag
from tests.factories import authorised_producer, goji, producer_user
from tests.factories_tracing import Grower

SHIP = "2025-08-10T10:00:00+08:00"
ARRIVE = "2025-08-11T09:00:00+08:00"


@pytest.fixture
def chain(session):
    """A grower (20 亩 in 宁安镇, 240 kg dried) ships 100 kg to a dealer in 沙坡头区, who also buys 50 kg from
    a farmer not on the register."""
    grower = Grower.make(session)
    harvest = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行", county_code="640502", town_code="640502100")
    dealer_user = producer_user(dealer)
    shipment = transfers.ship(session, grower.user, harvest, to=dealer.code, quantity_kg=100, shipped_at=SHIP)
    received = transfers.receive(session, dealer_user, shipment, received_at=ARRIVE, quantity_kg=100)
    transfers.purchase(session, dealer_user, transfers.PurchaseInput(quantity_kg=50, seller_name="王五",
                                                                     town_code="640521104", purchased_at=ARRIVE))
    return {"grower": grower, "harvest": harvest, "dealer": dealer, "dealer_user": dealer_user,
            "received": received}


def test_party_figures_follow_the_goods_across_owners(session, chain):
    product = goji(session)
    grower = capacity.party_balance(session, product, 2025, chain["grower"].producer.id)
    assert grower.capacity == 20 * 400 and grower.harvested == 240 and grower.received == 0
    dealer = capacity.party_balance(session, product, 2025, chain["dealer"].id)
    assert dealer.capacity == 0 and dealer.harvested == 0
    assert dealer.received == 150 and dealer.received_verified == 100 and dealer.supply == 100
    assert capacity.party_balance(session, product, 2024, chain["dealer"].id).received == 0  # another crop year
    units.issue_units(session, chain["dealer_user"], chain["received"], 40, 0.5)
    assert capacity.party_balance(session, product, 2025, chain["dealer"].id).marked == 20


def test_counties_sum_their_parties_and_show_the_gap(session, chain):
    product = goji(session)
    rows = {r.county_code: r for r in capacity.by_county(session, product, 2025, ["640502", "640521", "640522"])}
    assert rows["640521"].balance.capacity == 8000 and rows["640521"].balance.harvested == 240
    assert rows["640502"].balance.received == 150 and rows["640502"].balance.harvested == 0
    assert rows["640522"].balance.marked == 0 and rows["640522"].parties_over == 0
    total, parties = capacity.parties(session, product, 2025, "640502")
    assert total == 1 and parties[0].name == "宁夏杞乡枸杞商行" and not parties[0].open_flag


def test_marking_the_same_kilograms_twice_flags_the_party_when_units_are_issued(session, chain):
    """The dealer labels its 100 kg receipt in full, splits it and labels the lot again: 200 kg GI-marked from
    100 kg of traced supply. The flag is raised by the issue that crosses the line, once while open."""
    product = goji(session)
    received, dealer_user = chain["received"], chain["dealer_user"]
    units.issue_units(session, dealer_user, received, 200, 0.5)
    assert capacity.party_balance(session, product, 2025, chain["dealer"].id).excess == 0
    lot = tracing.split(session, dealer_user, received, [{"quantity_kg": 100.0}], occurred_at="2025-08-12T10:00:00+08:00"
                        ).children[0]
    units.issue_units(session, dealer_user, lot, 20, 0.5)
    flags = session.exec(select(PlausibilityFlag).where(PlausibilityFlag.kind == capacity.FLAG_KIND)).all()
    assert [(f.producer_id, f.batch_id) for f in flags] == [(chain["dealer"].id, lot.id)]
    assert flags[0].params == {"year": 2025, "marked": 110.0, "supply": 100.0, "harvested": 0.0, "received": 100.0}
    units.issue_units(session, dealer_user, lot, 20, 0.5)
    assert len(session.exec(select(PlausibilityFlag).where(PlausibilityFlag.kind == capacity.FLAG_KIND)).all()) == 1
    balance = capacity.party_balance(session, product, 2025, chain["dealer"].id)
    assert balance.marked == 120 and balance.excess == 20
    rows = {r.county_code: r for r in capacity.by_county(session, product, 2025, ["640502", "640521"])}
    assert rows["640502"].excess == 20 and rows["640502"].parties_over == 1 and rows["640521"].excess == 0
    _total, parties = capacity.parties(session, product, 2025, "640502")
    assert parties[0].open_flag and parties[0].balance.excess == 20


def test_goods_of_declared_origin_add_nothing_to_the_gi_marked_kilograms(session, chain):
    product = goji(session)
    bought = session.exec(select(Batch).where(Batch.kind == "purchased")).one()
    assert bought.origin_state == "declared"
    with pytest.raises(Refused):  # declared origin: no unit codes under the GI mark
        units.issue_units(session, chain["dealer_user"], bought, 20, 0.5)
    assert capacity.party_balance(session, product, 2025, chain["dealer"].id).marked == 0

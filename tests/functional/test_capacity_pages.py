"""The regulators' 以地定产、以产核标 page: per county capacity vs harvested vs received vs GI-marked kilograms,
the gap, and the drill-down to parties; county regulators see their own county only."""
from __future__ import annotations

from gi_trace.tracing import transfers, units
from gi_trace.tracing import services as tracing
from tests.conftest import login
from tests.factories import UserFactory, authorised_producer, producer_user
from tests.factories_tracing import Grower


def _world(session):
    grower = Grower.make(session)
    harvest = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行", county_code="640502", town_code="640502100")
    dealer_user = producer_user(dealer)
    shipment = transfers.ship(session, grower.user, harvest, to=dealer.code, quantity_kg=100,
                              shipped_at="2025-08-10T10:00:00+08:00")
    received = transfers.receive(session, dealer_user, shipment, received_at="2025-08-11T09:00:00+08:00")
    units.issue_units(session, dealer_user, received, 200, 0.5)
    lot = tracing.split(session, dealer_user, received, [{"quantity_kg": 100.0}],
                        occurred_at="2025-08-12T10:00:00+08:00").children[0]
    units.issue_units(session, dealer_user, lot, 60, 0.5)  # 130 kg GI-marked from 100 kg received
    UserFactory(username="reg_city_cap", role="regulator")
    UserFactory(username="reg_spt_cap", role="regulator", county_code="640502")
    session.commit()


def test_city_regulator_sees_every_county_and_the_gap(client, session):
    _world(session)
    login(client, "reg_city_cap")
    nav = client.get("/oversight/").get_data(as_text=True)
    assert "/oversight/capacity/" in nav
    page = client.get("/oversight/capacity/?product=zhongning-goji&year=2025")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for fact in ("中宁县", "沙坡头区", "海原县", "8,000 公斤", "240 公斤", "130 公斤", "30 公斤", "1 家"):
        assert fact in text, fact
    assert "/oversight/capacity/640502?" in text
    county = client.get("/oversight/capacity/640502?product=zhongning-goji&year=2025").get_data(as_text=True)
    for fact in ("宁夏杞乡枸杞商行", "经销商", "100 公斤", "130 公斤", "30 公斤", "待核查"):
        assert fact in county, fact


def test_county_regulator_sees_its_own_county_only(client, session):
    _world(session)
    login(client, "reg_spt_cap")
    text = client.get("/oversight/capacity/?year=2025").get_data(as_text=True)
    assert "沙坡头区" in text and "中宁县" not in text and "130 公斤" in text
    assert client.get("/oversight/capacity/640521?year=2025").status_code == 403
    assert client.get("/oversight/capacity/640502?year=2025").status_code == 200
    assert client.get("/oversight/capacity/?year=20x5").status_code == 422


def test_producers_cannot_open_the_page(client, session):
    grower = Grower.make(session)
    grower.user.username = "grower_cap"
    session.commit()
    login(client, "grower_cap")
    assert client.get("/oversight/capacity/").status_code == 403

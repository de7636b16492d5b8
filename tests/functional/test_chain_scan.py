"""The consumer's page across owners: the chain of custody back to the household's town, and the GI mark
only when every kilogram's origin is verified."""
from __future__ import annotations

import pytest

from tests.factories import authorised_producer, producer_user
from tests.factories_tracing import TESTED, Grower
from gi_trace.tracing import transfers

SHIP = "2025-08-10T10:00:00+08:00"
ARRIVE = "2025-08-11T09:00:00+08:00"
LATER = "2025-08-20T09:00:00+08:00"


def test_processor_page_shows_the_chain_back_to_the_household_town(client, session):
    grower = Grower.make(session, kind="household", name="张大山", town_code="640521104")  # the plot's town
    grower.producer.town_code = "640521104"  # the household lives in 恩和镇
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    dealer_user = producer_user(dealer)
    processor = authorised_producer(kind="processor", name="中宁杞韵食品有限公司", town_code="640521102")
    processor_user = producer_user(processor)
    first = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=100, shipped_at=SHIP)
    at_dealer = transfers.receive(session, dealer_user, first, received_at=ARRIVE)
    second = transfers.ship(session, dealer_user, at_dealer, to=processor.code, quantity_kg=90, shipped_at=LATER)
    at_processor = transfers.receive(session, processor_user, second, received_at=LATER)
    code = at_processor.code
    session.commit()

    page = client.get(f"/t/{code}").get_data(as_text=True)
    custody = page[page.index('class="custody"'):]
    custody = custody[:custody.index("</ol>")]
    household = custody.index("农户 · 恩和镇")
    assert household < custody.index("宁夏杞乡枸杞商行") < custody.index("中宁杞韵食品有限公司")
    assert "张大山" not in page  # a household's name is personal information
    assert "✔" in page and "不能使用地理标志专用标志" not in page
    public = client.get(f"/api/v1/trace/{code}").get_json()
    assert public["gi_mark"] is True and public["gi_mark_reason"] is None
    assert TESTED


def test_a_blend_with_declared_origin_cannot_carry_the_mark_and_the_page_says_why(client, session):
    grower = Grower.make(session)
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    dealer_user = producer_user(dealer)
    bought = transfers.purchase(session, dealer_user, transfers.PurchaseInput(
        quantity_kg=30, seller_name="王五", town_code="640521206", purchased_at=ARRIVE)).batch
    shipment = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=50, shipped_at=SHIP)
    received = transfers.receive(session, dealer_user, shipment, received_at=ARRIVE)
    from gi_trace.tracing import services
    blend = services.merge(session, dealer_user, [(received, None), (bought, None)], occurred_at=LATER).children[0]
    code, breaking = blend.code, bought.code
    session.commit()
    assert blend.origin_state == "declared" and blend.origin_break_code == breaking

    page = client.get(f"/t/{code}").get_data(as_text=True)
    assert "不能使用地理标志专用标志" in page and breaking in page.replace(" ", "")
    public = client.get(f"/api/v1/trace/{code}").get_json()
    assert public["gi_mark"] is False and breaking in public["gi_mark_reason"]


@pytest.mark.parametrize("lang, household", [("zh", "农户 · 恩和镇"), ("en", "Household · ")])
def test_a_households_own_batch_page_names_the_household_by_its_town(client, session, lang, household):
    # The producer card of a household's own batch names it by its town, never by the farmer's name
    # (one language per test: requests inside the test's app context keep the first request's language).
    grower = Grower.make(session, kind="household", name="李小梅", town_code="640521104")
    grower.producer.town_code = "640521104"
    batch = grower.tested(session)
    session.commit()
    page = client.get(f"/t/{batch.code}", query_string={"lang": lang}).get_data(as_text=True)
    assert household in page and "李小梅" not in page
    assert "李小梅" not in client.get(f"/api/v1/trace/{batch.code}").get_data(as_text=True)

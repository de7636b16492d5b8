"""Hand-over across owners through the services: ship → receive/reject, purchases, mass balance, origin."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.errors import Conflict, NotFound, Refused, ValidationError
from gi_trace.tracing import chain, lineage, services, transfers
from gi_trace.tracing.models import BatchLink, Event, Shipment
from tests.factories import ProducerFactory, authorised_producer, producer_user
from tests.factories_tracing import ARRIVED, PASSING_TEST, SHIPPED, TESTED


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en"}


def shipped(session, grower, dealer, kg=100.0, **kwargs):
    batch = grower.tested(session)
    shipment = transfers.ship(session, grower.user, batch, to=dealer[0].code, quantity_kg=kg, shipped_at=SHIPPED,
                              **kwargs)
    return batch, shipment


def test_shipping_takes_the_kilograms_out_at_once(session, grower, dealer):
    batch, shipment = shipped(session, grower, dealer, 100.0, document_no="WB-001")
    assert shipment.status == "in_transit" and shipment.quantity_kg == 100.0
    assert batch.available_kg == 140.0 and batch.out_kg == 100.0
    last = session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq.desc())).first()
    assert last.stage == "shipping" and last.data["to"] == dealer[0].code and last.data["document_no"] == "WB-001"
    assert chain.verify_batch(session, batch).ok


def test_receiving_makes_a_linked_batch_of_the_receiver_and_records_the_loss(session, grower, dealer):
    batch, shipment = shipped(session, grower, dealer, 100.0)
    received = transfers.receive(session, dealer[1], shipment, received_at=ARRIVED, quantity_kg=99.5,
                                 producer_lot="SH-1")
    assert received.producer_id == dealer[0].id and received.kind == "received"
    assert received.quantity_kg == 99.5 and received.producer_lot == "SH-1"
    assert received.test_state == "passed" and received.origin_town_code == batch.origin_town_code
    assert shipment.status == "received" and shipment.loss_kg == 0.5 and shipment.received_batch_id == received.id
    link = session.exec(select(BatchLink).where(BatchLink.child_id == received.id)).one()
    assert (link.parent_id, link.kind, link.quantity_kg) == (batch.id, "transfer", 99.5)
    # The sender's batch records the delivery; nothing comes back for the loss.
    assert batch.available_kg == 140.0
    stages = [e.stage for e in session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq))]
    assert stages[-2:] == ["shipping", "delivery"]
    assert chain.verify_batch(session, batch).ok and chain.verify_batch(session, received).ok
    # Traces cross owners both ways.
    assert batch.code in lineage.trace(session, received, "backward").codes
    assert received.code in lineage.trace(session, batch, "forward").codes


def test_rejecting_returns_the_kilograms_to_the_sender(session, grower, dealer):
    batch, shipment = shipped(session, grower, dealer, 100.0)
    transfers.reject(session, dealer[1], shipment, reason="含水量超标")
    assert shipment.status == "rejected" and batch.available_kg == 240.0
    assert chain.verify_batch(session, batch).ok
    with pytest.raises(Conflict):
        transfers.receive(session, dealer[1], shipment, received_at=ARRIVED)


def test_refusals_name_their_fields(session, grower, dealer):
    batch = grower.tested(session)
    cases = [
        (dict(to="NOBODY-123", quantity_kg=1), ValidationError, "to"),
        (dict(to=grower.producer.code, quantity_kg=1), ValidationError, "to"),
        (dict(to=dealer[0].code, quantity_kg=241), Refused, "quantity_kg"),
        (dict(to=dealer[0].code, quantity_kg=-1), ValidationError, "quantity_kg"),
        (dict(to=dealer[0].code, quantity_kg=1, shipped_at="yesterday"), ValidationError, "shipped_at"),
        (dict(to=dealer[0].code, quantity_kg=1, shipped_at="2099-01-01T00:00:00+08:00"), Refused, "shipped_at"),
    ]
    for kwargs, error, field in cases:
        with pytest.raises(error) as refused:
            transfers.ship(session, grower.user, batch, **kwargs)
        assert refused.value.field == field, kwargs
    assert batch.available_kg == 240.0
    # Someone else's batch is not found.
    with pytest.raises(NotFound):
        transfers.ship(session, dealer[1], batch, to=grower.producer.code, quantity_kg=1)


def test_receiving_refusals(session, grower, dealer):
    batch, shipment = shipped(session, grower, dealer, 100.0)
    other = authorised_producer(kind="processor")
    with pytest.raises(NotFound):
        transfers.incoming(session, producer_user(other), shipment.id)
    with pytest.raises(ValidationError) as more:
        transfers.receive(session, dealer[1], shipment, received_at=ARRIVED, quantity_kg=100.5)
    assert more.value.field == "quantity_kg"
    with pytest.raises(ValidationError) as early:
        transfers.receive(session, dealer[1], shipment, received_at="2025-08-09T09:00:00+08:00")
    assert early.value.field == "received_at"
    transfers.receive(session, dealer[1], shipment, received_at=ARRIVED)
    with pytest.raises(Conflict):
        transfers.reject(session, dealer[1], shipment, reason="late")


def test_withdrawn_or_failed_batches_cannot_be_shipped(session, grower, dealer):
    batch = grower.tested(session)
    services.withdraw(session, grower.user, batch, "召回")
    with pytest.raises(Refused) as withdrawn:
        transfers.ship(session, grower.user, batch, to=dealer[0].code, quantity_kg=1)
    assert withdrawn.value.code == "withdrawn"
    failed = grower.tested(session, test={**PASSING_TEST, "report_no": "F-1", "moisture_pct": 18.0,
                                          "lab_verdict": "fail"})
    with pytest.raises(Refused) as bad:
        transfers.ship(session, grower.user, failed, to=dealer[0].code, quantity_kg=1)
    assert bad.value.code == "test_failed"


def test_receiver_merges_what_it_received_with_its_own_batches(session, grower, dealer):
    _batch, first = shipped(session, grower, dealer, 50.0)
    _batch2, second = shipped(session, grower, dealer, 60.0)
    a = transfers.receive(session, dealer[1], first, received_at=ARRIVED)
    b = transfers.receive(session, dealer[1], second, received_at=ARRIVED)
    merged = services.merge(session, dealer[1], [(a, None), (b, None)], occurred_at="2025-08-12T09:00:00+08:00")
    blend = merged.children[0]
    assert blend.producer_id == dealer[0].id and blend.quantity_kg == 110.0
    assert len(lineage.trace(session, blend, "backward").harvest_batches()) == 2


def test_purchase_from_a_registered_sellers_batch_is_a_shipment_received_at_once(session, grower, dealer):
    batch = grower.tested(session)
    result = transfers.purchase(session, dealer[1], transfers.PurchaseInput(
        quantity_kg=30, source_batch=batch.code, purchased_at=ARRIVED, grade="特级", price_yuan_per_kg=60))
    assert result.shipment.status == "received" and result.batch.quantity_kg == 30
    assert batch.available_kg == 210.0
    assert result.purchase.seller_id == grower.producer.id and result.batch.origin_state == "verified"


def test_purchase_from_an_unregistered_farmer_is_declared_origin(session, dealer):
    result = transfers.purchase(session, dealer[1], transfers.PurchaseInput(
        quantity_kg=30, seller_name="王五", town_code="640521104", purchased_at=ARRIVED))
    batch = result.batch
    assert batch.kind == "purchased" and batch.quantity_kg == 30 and batch.origin_state == "declared"
    assert batch.origin_break_code == batch.code and batch.origin_town_code == "640521104"
    assert result.purchase.seller_name == "王五"
    with pytest.raises(ValidationError) as missing:
        transfers.purchase(session, dealer[1], transfers.PurchaseInput(quantity_kg=30, purchased_at=ARRIVED))
    assert missing.value.field == "seller_name"
    with pytest.raises(ValidationError) as town:
        transfers.purchase(session, dealer[1], transfers.PurchaseInput(quantity_kg=30, seller_name="王五",
                                                                      town_code="999", purchased_at=ARRIVED))
    assert town.value.field == "town_code"


def test_shipments_are_listed_per_direction_and_status(session, grower, dealer):
    _b, shipment = shipped(session, grower, dealer, 10.0)
    assert transfers.shipments_of(session, dealer[1], "in", "in_transit") == [shipment]
    assert transfers.shipments_of(session, grower.user, "out") == [shipment]
    assert transfers.shipments_of(session, grower.user, "in") == []
    with pytest.raises(ValidationError):
        transfers.shipments_of(session, grower.user, "sideways")
    assert session.exec(select(Shipment)).one().status == "in_transit"
    assert TESTED  # the grower's batch was tested before it was shipped


def test_a_party_not_authorised_cannot_receive_ship_or_buy(session, grower):
    """The one authorisation gate applies to hand-overs: they create batches and move goods."""
    unauthorised = ProducerFactory(kind="trader")
    user = producer_user(unauthorised)
    batch = grower.tested(session)
    shipment = transfers.ship(session, grower.user, batch, to=unauthorised.code, quantity_kg=10, shipped_at=SHIPPED)
    with pytest.raises(Refused) as refused:
        transfers.receive(session, user, shipment, received_at=ARRIVED)
    assert refused.value.code.startswith("authorisation_")
    with pytest.raises(Refused):
        transfers.purchase(session, user, transfers.PurchaseInput(quantity_kg=5, seller_name="王五",
                                                                  town_code="640521104", purchased_at=ARRIVED))
    assert shipment.status == "in_transit"

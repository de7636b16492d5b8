"""The chain API end to end: ship → receive/reject, purchases, refusals with their fields and codes."""
from __future__ import annotations

import pytest

from tests.factories import ProducerFactory, authorised_producer, producer_user  # noqa: F401
from tests.factories_tracing import Grower
from tests.functional.test_tracing_api import bearer, post

SHIP = "2025-08-10T10:00:00+08:00"
ARRIVE = "2025-08-11T09:00:00+08:00"


@pytest.fixture
def world(session):
    grower = Grower.make(session)
    grower.headers = bearer(session, grower.user)
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    dealer_user = producer_user(dealer)
    other = authorised_producer(kind="processor", name="中宁杞韵食品有限公司")
    other_user = producer_user(other)
    world = {"grower": grower, "batch": batch.code, "dealer": dealer, "dealer_h": bearer(session, dealer_user),
             "other": other, "other_h": bearer(session, other_user)}
    session.commit()
    return world


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]


def test_ship_then_receive(client, world):
    grower, dealer = world["grower"], world["dealer"]
    out = post(client, f"/api/v1/batches/{world['batch']}/ship", grower.headers,
               {"to": dealer.code, "quantity_kg": 120.5, "shipped_at": SHIP, "document_no": "WB-7"})
    shipment = out["shipment"]
    assert shipment["status"] == "in_transit" and shipment["from"] == grower.producer.code
    assert shipment["to"] == dealer.code and shipment["batch"] == world["batch"] and shipment["quantity_kg"] == 120.5
    assert out["batch"]["available_kg"] == 119.5

    inbox = client.get("/api/v1/shipments?direction=in&status=in_transit", headers=world["dealer_h"]).get_json()
    assert [s["id"] for s in inbox["shipments"]] == [shipment["id"]]
    # Addressed to someone else: 404, as an unknown one.
    assert error_of(client.post(f"/api/v1/shipments/{shipment['id']}/receive", headers=world["other_h"],
                                json={"received_at": ARRIVE}), 404)["code"] == "not_found"
    error = error_of(client.post(f"/api/v1/shipments/{shipment['id']}/receive", headers=world["dealer_h"],
                                 json={"received_at": ARRIVE, "quantity_kg": 121}), 422)
    assert error["field"] == "quantity_kg"
    error = error_of(client.post(f"/api/v1/shipments/{shipment['id']}/receive", headers=world["dealer_h"],
                                 json={"received_at": "2025-08-09T09:00:00+08:00"}), 422)
    assert error["field"] == "received_at"

    received = post(client, f"/api/v1/shipments/{shipment['id']}/receive", world["dealer_h"],
                    {"received_at": ARRIVE, "quantity_kg": 120.0, "producer_lot": "SH-0811"})
    assert received["batch"]["quantity_kg"] == 120.0 and received["batch"]["producer_lot"] == "SH-0811"
    assert received["shipment"]["loss_kg"] == 0.5 and received["shipment"]["status"] == "received"
    again = client.post(f"/api/v1/shipments/{shipment['id']}/reject", headers=world["dealer_h"],
                        json={"reason": "too late"})
    assert error_of(again, 409)["code"] == "already_received"
    assert again.get_json()["error"]["message"] in ("这笔发货已收货。", "This shipment has already been received.")

    trace = client.get(f"/api/v1/batches/{received['batch']['code']}/trace?direction=backward",
                       headers=world["dealer_h"]).get_json()
    assert world["batch"] in {b["code"] for b in trace["batches"]}
    assert {link["kind"] for link in trace["links"]} == {"transfer"}
    assert trace["towns"] == ["640521100"]


def test_reject_returns_the_kilograms(client, world):
    grower, dealer = world["grower"], world["dealer"]
    shipment = post(client, f"/api/v1/batches/{world['batch']}/ship", grower.headers,
                    {"to": dealer.code, "quantity_kg": 40})["shipment"]
    error = error_of(client.post(f"/api/v1/shipments/{shipment['id']}/reject", headers=world["dealer_h"],
                                 json={}), 422)
    assert error["field"] == "reason"
    rejected = client.post(f"/api/v1/shipments/{shipment['id']}/reject", headers=world["dealer_h"],
                           json={"reason": "霉变"})
    assert rejected.status_code == 200 and rejected.get_json()["shipment"]["status"] == "rejected"
    batch = client.get(f"/api/v1/batches/{world['batch']}", headers=grower.headers).get_json()
    assert batch["available_kg"] == 240.0


@pytest.mark.parametrize("body, status, field", [
    ({"to": "NO-SUCH-PARTY", "quantity_kg": 1}, 422, "to"),
    ({"quantity_kg": 1}, 422, "to"),
    ({"to": "self", "quantity_kg": 1}, 422, "to"),
    ({"to": "dealer", "quantity_kg": 1000}, 422, "quantity_kg"),
    ({"to": "dealer", "quantity_kg": "lots"}, 422, "quantity_kg"),
    ({"to": "dealer", "quantity_kg": 1, "shipped_at": "not a time"}, 422, "shipped_at"),
])
def test_ship_refusals_name_the_field(client, world, body, status, field):
    body = dict(body)
    if body.get("to") == "self":
        body["to"] = world["grower"].producer.code
    elif body.get("to") == "dealer":
        body["to"] = world["dealer"].code
    error = error_of(client.post(f"/api/v1/batches/{world['batch']}/ship", headers=world["grower"].headers,
                                 json=body), status)
    assert error["field"] == field


def test_another_partys_batch_cannot_be_shipped(client, world):
    response = client.post(f"/api/v1/batches/{world['batch']}/ship", headers=world["dealer_h"],
                           json={"to": world["other"].code, "quantity_kg": 1})
    assert error_of(response, 404)["code"] == "not_found"


def test_purchases_registered_and_unregistered(client, world):
    bought = post(client, "/api/v1/purchases", world["dealer_h"],
                  {"seller": world["grower"].producer.code, "source_batch": world["batch"], "quantity_kg": 30,
                   "purchased_at": ARRIVE, "grade": "特级"})
    assert bought["purchase"]["origin"] == "verified" and bought["shipment"]["status"] == "received"
    assert bought["batch"]["quantity_kg"] == 30
    farmer = post(client, "/api/v1/purchases", world["dealer_h"],
                  {"seller": None, "seller_name": "王五", "town_code": "640521206", "quantity_kg": 25,
                   "purchased_at": ARRIVE, "source_batch": None})
    assert farmer["purchase"]["origin"] == "declared" and farmer["batch"]["kind"] == "purchased"
    error = error_of(client.post("/api/v1/purchases", headers=world["dealer_h"],
                                 json={"seller_name": "王五", "town_code": "640521206", "quantity_kg": 0}), 422)
    assert error["field"] == "quantity_kg"
    error = error_of(client.post("/api/v1/purchases", headers=world["dealer_h"],
                                 json={"source_batch": "XXXX", "quantity_kg": 5}), 422)
    assert error["field"] == "source_batch"


def test_epcis_shipping_and_receiving_have_the_same_event_ids_in_both_exports(client, world):
    import json

    from jsonschema import Draft7Validator, FormatChecker

    from tests.functional.test_tracing_api import EPCIS_SCHEMA

    grower, dealer = world["grower"], world["dealer"]
    shipment = post(client, f"/api/v1/batches/{world['batch']}/ship", grower.headers,
                    {"to": dealer.code, "quantity_kg": 50, "shipped_at": SHIP, "document_no": "WB 9/1"})["shipment"]
    received = post(client, f"/api/v1/shipments/{shipment['id']}/receive", world["dealer_h"],
                    {"received_at": ARRIVE, "quantity_kg": 49.5})["batch"]["code"]
    sender = client.get(f"/api/v1/batches/{world['batch']}/epcis", headers=grower.headers).get_json()
    receiver = client.get(f"/api/v1/batches/{received}/epcis", headers=world["dealer_h"]).get_json()
    validator = Draft7Validator(json.loads(EPCIS_SCHEMA.read_text()), format_checker=FormatChecker())
    for document in (sender, receiver):
        assert not list(validator.iter_errors(document))

    def handover(document):
        return {e["eventID"]: e for e in document["epcisBody"]["eventList"] if "sourceList" in e}

    ours, theirs = handover(sender), handover(receiver)
    assert set(ours) == set(theirs) and len(ours) == 2
    steps = {e["bizStep"]: e for e in ours.values()}
    assert set(steps) == {"shipping", "receiving"}
    assert steps["shipping"]["sourceList"][0]["source"].endswith(f"/id/party/{grower.producer.code}")
    assert steps["receiving"]["destinationList"][0]["destination"].endswith(f"/id/party/{dealer.code}")
    assert steps["shipping"]["bizTransactionList"][0]["bizTransaction"].endswith("/id/document/WB%209%2F1")
    assert steps["receiving"]["quantityList"][0]["quantity"] == 49.5
    trace = client.get(f"/api/v1/batches/{received}/trace", headers=world["dealer_h"]).get_json()
    owners = {b["code"]: b["owner"] for b in trace["batches"]}
    assert owners[world["batch"]] == {"name": grower.producer.name, "kind": "cooperative"}

"""Every batch a recall reaches shows recalled beyond the gates: in the lineage trace API (with the recall's reason,
date and withdrawn batch) and in the EPCIS export (one holding/recalled ObjectEvent per stored member row, one
per lift), never as an event the system did not record."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker
from sqlmodel import select

from gi_trace.accounts.services import create_token
from gi_trace.tracing import epcis, lineage, services, transfers
from gi_trace.tracing.epcis_ids import event_uuid
from gi_trace.tracing.models_recall import Recall
from tests.factories import UserFactory, authorised_producer, producer_user
from tests.factories_tracing import Grower, dealer_with_account
from tests.integration.test_tracing_recall import family

SCHEMA = Path("/work/shared/standards/epcis/EPCIS-JSON-Schema.json")
BASE = "https://trace.example.cn"
REASON = "二氧化硫超标，主动召回"


@pytest.fixture
def world(session):
    grower = Grower.make(session)
    dealer = dealer_with_account()
    f = family(session, grower, dealer)  # a → a1, a2; a2 + b → m → powder p; a1 → the dealer's r
    services.withdraw(session, grower.user, f["a"], REASON, occurred_at="2025-09-01T10:00:00+08:00")
    return grower, dealer, f


def bearer(session, user) -> dict:
    _token, raw = create_token(session, user, "test")
    return {"Authorization": f"Bearer {raw}"}


def test_the_forward_trace_shows_every_member_recalled_with_reason_date_and_source(client, session, world):
    grower, _dealer, f = world
    headers = bearer(session, grower.user)
    session.commit()
    body = client.get(f"/api/v1/batches/{f['a'].code}/trace", query_string={"direction": "forward"},
                      headers=headers).get_json()
    assert body["recalled"] is True and body["recall"]["source"] is True
    nodes = {n["code"]: n for n in body["batches"]}
    assert set(nodes) == {f[k].code for k in ("a1", "a2", "m", "p", "r")}
    for code, node in nodes.items():
        assert node["recalled"] is True, code
        assert node["withdrawn"] is False  # withdrawn is the batch itself; recalled reaches what was made from it
        recall = node["recall"]
        assert (recall["reason"], recall["source_code"], recall["source"]) == (REASON, f["a"].code, False)
        assert recall["recalled_at"].startswith("2025-09-01T02:00:00")


def test_the_backward_trace_marks_only_the_members_and_a_lift_shows(client, session, world):
    grower, dealer, f = world
    regulator = UserFactory(username="city-reg", role="regulator", county_code=None)
    services.lift_recall(session, regulator, f["r"], "经核查，该批次货物不含召回批次原料")
    headers, dealer_headers = bearer(session, grower.user), bearer(session, dealer[1])
    session.commit()
    body = client.get(f"/api/v1/batches/{f['p'].code}/trace", headers=headers).get_json()
    assert body["recalled"] is True and body["recall"]["source_code"] == f["a"].code
    nodes = {n["code"]: n for n in body["batches"]}
    assert nodes[f["a"].code]["recalled"] and nodes[f["a"].code]["recall"]["source"] is True
    assert nodes[f["a"].code]["withdrawn"] is True
    assert nodes[f["m"].code]["recalled"] and nodes[f["a2"].code]["recalled"]
    assert nodes[f["b"].code]["recalled"] is False and nodes[f["b"].code]["recall"] is None
    lifted = client.get(f"/api/v1/batches/{f['r'].code}/trace", headers=dealer_headers).get_json()
    assert lifted["recalled"] is False and lifted["recall"]["lifted"] is True
    assert lifted["recall"]["lift_reason"] == "经核查，该批次货物不含召回批次原料"


def _events(document: dict) -> list[dict]:
    return document["epcisBody"]["eventList"]


def test_epcis_exports_a_member_event_from_each_stored_member_row_and_the_same_content_everywhere(session, world):
    grower, _dealer, f = world
    regulator = UserFactory(username="city-reg", role="regulator", county_code=None)
    services.lift_recall(session, regulator, f["r"], "不含召回批次原料")
    recall_row = session.exec(select(Recall)).one()
    validator = Draft7Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())
    seen: dict[str, dict] = {}
    documents = {}
    for key, batch in f.items():
        documents[(key, "batch")] = epcis.build_document(session, [batch], BASE, root=batch)
        found = lineage.trace(session, batch, "backward")
        sources = [services.batch_by_code(session, n.code) for n in found.nodes.values()]
        documents[(key, "backward")] = epcis.build_document(session, [batch, *sources], BASE, root=batch)
    for key, document in documents.items():
        assert list(validator.iter_errors(document)) == [], key
        for event in _events(document):
            assert seen.setdefault(event["eventID"], event) == event, key  # one eventID = one content
    recalled = [e for e in seen.values() if e.get("disposition") == "recalled"]
    # The withdrawn batch: its own withdrawal event (no member event); each other member: one event of its row.
    member_ids = {event_uuid(f"recall:{recall_row.source_code}:{f[k].code}") for k in ("a1", "a2", "m", "p", "r")}
    assert {e["eventID"] for e in recalled if "gt:withdrawnBatch" in e} == member_ids
    withdrawal = [e for e in recalled if "gt:withdrawnBatch" not in e]
    assert len(withdrawal) == 1 and withdrawal[0]["quantityList"][0]["epcClass"] == f"{BASE}/t/{f['a'].code}"
    for event in recalled:
        if event["eventID"] in member_ids:
            assert (event["bizStep"], event["persistentDisposition"]) == ("holding", {"set": ["recalled"]})
            assert event["gt:reason"] == REASON and event["gt:recallEventID"] == withdrawal[0]["eventID"]
            assert "quantity" not in event["quantityList"][0]  # the row records no kilograms
    # Each export names the members it contains and nothing of b, the unrelated input of the blend.
    assert [e["eventID"] for e in _events(documents[("m", "batch")]) if e.get("gt:withdrawnBatch")] == \
        [event_uuid(f"recall:{recall_row.source_code}:{f['m'].code}")]
    assert not [e for e in _events(documents[("b", "batch")]) if e.get("disposition") == "recalled"]
    assert not [e for e in _events(documents[("a", "batch")]) if e.get("gt:withdrawnBatch")]
    # The dealer's batch arrived after the split but before the recall: recalled at the recall's time.
    received = seen[event_uuid(f"recall:{recall_row.source_code}:{f['r'].code}")]
    assert received["eventTime"].startswith("2025-09-01T10:00:00") and received["eventTimeZoneOffset"] == "+08:00"
    # The lift is its own event, from its RecallLift row.
    lift = [e for e in _events(documents[("r", "batch")]) if e.get("persistentDisposition") == {"unset": ["recalled"]}]
    assert len(lift) == 1 and lift[0]["gt:reason"] == "不含召回批次原料" and lift[0]["bizStep"] == "inspecting"
    assert lift[0]["eventID"] == event_uuid(f"recall-lift:{recall_row.source_code}:{f['r'].code}")


def test_goods_arriving_after_the_recall_are_recalled_when_they_arrive(session):
    grower = Grower.make(session)
    party = authorised_producer(kind="trader", name="中宁县红宝枸杞商行")
    dealer_user = producer_user(party)
    batch = grower.tested(session)
    shipment = transfers.ship(session, grower.user, batch, to=party.code, quantity_kg=50,
                              shipped_at="2025-08-10T10:00:00+08:00")
    services.withdraw(session, grower.user, batch, REASON, occurred_at="2025-08-11T10:00:00+08:00")
    received = transfers.receive(session, dealer_user, shipment, received_at="2025-08-12T09:30:00+08:00")
    document = epcis.build_document(session, [received], BASE, root=received)
    recalled = [e for e in _events(document) if e.get("gt:withdrawnBatch") == batch.code]
    assert len(recalled) == 1 and recalled[0]["eventTime"].startswith("2025-08-12T09:30:00")

"""The generated OpenAPI document is valid, complete and true: every route and method is in it, every
documented success answer is met by a real response that validates against its schema, and request
models refuse bad input with the API's error shape, naming the field, in the user's language."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from flask_babel import refresh
from openapi_spec_validator import validate

from gi_trace.api.openapi import openapi_document
from gi_trace.api.operations import ApiBlueprint, Load, operation
from gi_trace.schemas import Body, Public
from tests.openapi_support import Checker
from tests.security import world as seed

_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def test_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error against the OpenAPI 3.1 schema


def test_every_api_route_and_method_is_documented_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    routes = {(_PARAM.sub(r"{\1}", rule.rule[len("/api/v1"):]), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    routes.discard(("/openapi.json", "get"))  # the document itself
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes and documented == routes
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert "429" in op["responses"] and (op["security"] == [] or "401" in op["responses"]), (method, path)


def test_every_documented_success_is_met_by_a_real_response_of_its_schema(app, session):
    world = seed.build(session)
    client = app.test_client()
    api = Checker(client, {"Authorization": f"Bearer {world.tokens['producer_a']}"})
    reg = {"Authorization": f"Bearer {world.tokens['regulator_city']}"}
    lot = world.lot.code

    api.call("get", "/me", "/me")
    fresh = api.call("post", "/batches", "/batches", {"cultivar": "宁杞7号", "producer_lot": "N-1"}).get_json()["code"]
    api.call("get", "/batches", "/batches?limit=5&offset=0")
    api.call("get", "/batches/{code}", f"/batches/{world.harvest.code}")
    parts = api.call("post", "/batches/{code}/split", f"/batches/{lot}/split",
                     {"parts": [{"quantity_kg": 20}, {"quantity_kg": 20, "producer_lot": "P-2"}],
                      "occurred_at": "2025-08-11T10:00:00+08:00", "location": "宁安镇"}).get_json()
    a, b = (c["code"] for c in parts["children"])
    merged = api.call("post", "/batches/merge", "/batches/merge",
                      {"inputs": [a, {"code": b, "quantity_kg": 10}], "occurred_at": "2025-08-12T10:00:00+08:00"}).get_json()["children"][0]["code"]
    api.call("post", "/batches/process", "/batches/process",
             {"inputs": [{"code": merged, "quantity_kg": 5}], "outputs": [{"quantity_kg": 4}],
              "product_form": "powder", "occurred_at": "2025-08-13T10:00:00+08:00"})
    api.call("post", "/batches/{code}/events", f"/batches/{merged}/events",
             {"stage": "processing", "occurred_at": "2025-08-14T10:00:00+08:00",
              "data": {"product_form": "juice", "outputs": [{"quantity_kg": 5}]}})
    for direction in ("backward", "forward"):
        api.call("get", "/batches/{code}/trace", f"/batches/{lot}/trace?direction={direction}")
    api.call("get", "/batches/{code}/verify", f"/batches/{lot}/verify")
    for scope in ("batch", "backward"):
        api.call("get", "/batches/{code}/epcis", f"/batches/{merged}/epcis?scope={scope}")
    api.call("post", "/batches/{code}/units", f"/batches/{lot}/units", {"count": 2, "package_kg": 0.25})
    api.call("get", "/batches/{code}/units", f"/batches/{lot}/units?start=1&limit=10")
    api.call("post", "/product-lines", "/product-lines", {"gtin": "4006381333931", "name": "礼盒 250 g",
                                                          "package_kg": 0.25, "product_form": "dried"})
    api.call("get", "/product-lines", "/product-lines")
    # The chain across owners: ship to producer B, who receives one shipment and refuses another; purchases.
    b = {"Authorization": f"Bearer {world.tokens['producer_b']}"}
    to_b = world.producer_b.producer.code
    sent = api.call("post", "/batches/{code}/ship", f"/batches/{lot}/ship",
                    {"to": to_b, "quantity_kg": 5, "shipped_at": "2025-08-15T10:00:00+08:00",
                     "document_no": "WB-1"}).get_json()["shipment"]
    again = api.call("post", "/batches/{code}/ship", f"/batches/{lot}/ship",
                     {"to": to_b, "quantity_kg": 1}).get_json()["shipment"]
    api.call("get", "/shipments", "/shipments?direction=in&status=in_transit", headers=b)
    api.call("post", "/shipments/{shipment_id}/receive", f"/shipments/{sent['id']}/receive",
             {"received_at": "2025-08-16T10:00:00+08:00", "quantity_kg": 4.5}, headers=b)
    api.call("post", "/shipments/{shipment_id}/reject", f"/shipments/{again['id']}/reject", {"reason": "破损"},
             headers=b)
    api.call("post", "/purchases", "/purchases", {"seller_name": "王五", "town_code": "640521104", "quantity_kg": 3,
                                                  "purchased_at": "2025-08-16T10:00:00+08:00"}, headers=b)
    api.call("post", "/purchases", "/purchases", {"seller": world.producer_a.producer.code, "source_batch": lot,
                                                  "quantity_kg": 2}, headers=b)
    sale = f"/sales/{world.sale_event_id}/certificate"
    api.call("get", "/sales/{event_id}/certificate", sale)
    api.call("get", "/sales/{event_id}/certificate.pdf", sale + ".pdf")
    api.call("get", "/trace/{code}", f"/trace/{lot}", headers={})
    api.call("get", "/trace/{code}", f"/trace/{world.unit.code}", headers={})  # a package's code: with its unit
    api.call("post", "/batches/{code}/withdraw", f"/batches/{fresh}/withdraw", {"reason": "录入错误"})
    api.call("get", "/trace/{code}", f"/trace/{fresh}", headers={})  # 410
    api.call("get", "/flags", "/flags?status=all", headers=reg)
    api.call("post", "/flags/{flag_id}/review", f"/flags/{world.flag.id}/review", {"outcome": "confirmed",
                                                                                   "note": "核实"}, headers=reg)
    api.call("get", "/compliance", "/compliance?product=zhongning-goji&year=2025", headers=reg)
    api.call("get", "/compliance/producers", "/compliance/producers?product=zhongning-goji&year=2025&limit=10",
             headers=reg)
    api.call("get", "/register/authorised-users", "/register/authorised-users?product=zhongning-goji&limit=5",
             headers={})
    api.call("get", "/register/check",
             f"/register/check?uscc={world.producer_a.producer.uscc}&product=zhongning-goji", headers={})
    # Measured tests: the product's limits (read, new version), a failing test, a regulator's clearance.
    api.call("get", "/products/{slug}/limits", "/products/zhongning-goji/limits?on=2025-08-01")
    api.call("post", "/products/{slug}/limits", "/products/zhongning-goji/limits",
             {"effective_from": "2030-01-01", "moisture_max_pct": 12.5, "so2_max_mg_per_kg": 50,
              "grade_scale": [{"grade": "特优", "max_grains_per_50g": 280}], "residue_limits": {"吡虫啉": 1.0},
              "default_residue_mg_per_kg": 0.01, "banned_substances": ["克百威"], "source": "GB/T 18672-2014"},
             headers=reg)
    now = datetime.now(timezone(timedelta(hours=8)))
    tested = api.call("post", "/batches/{code}/events", f"/batches/{world.harvest.code}/events",
                      {"stage": "testing", "occurred_at": now.isoformat(),
                       "data": {"lab": "宁夏农产品质量检测中心", "report_no": "API-1", "sampled_at": now.date().isoformat(),
                                "sampled_by": "王检", "method": "GB/T 18672-2014", "moisture_pct": 11.0,
                                "so2_mg_per_kg": 600, "grains_per_50g": 300, "residues": [],
                                "lab_verdict": "pass"}}).get_json()
    assert tested["test"]["state"] == "failed" and tested["test"]["lab_verdict_note"]
    api.call("post", "/batches/{code}/clearances", f"/batches/{world.harvest.code}/clearances",
             {"reason": "监督抽检复检合格", "report_no": "GOV-API-1"}, headers=reg)
    # Inputs per plot and season.
    plot = world.producer_a.plot.id
    api.call("get", "/plots", "/plots")
    api.call("post", "/plots/{plot_id}/inputs", f"/plots/{plot}/inputs",
             {"kind": "pesticide", "product_name": "吡虫啉可湿性粉剂", "registration_no": "PD20080001",
              "active_ingredient": "吡虫啉", "dose": "1500倍液", "applied_on": "2025-05-01",
              "safety_interval_days": 14})
    api.call("get", "/plots/{plot_id}/inputs", f"/plots/{plot}/inputs?season=2025")

    # A recall: how far it would reach, the withdrawal (with its reach), GET says why, a regulator lifts it
    # from a descendant.
    api.call("get", "/batches/{code}/recall-reach", f"/batches/{a}/recall-reach")
    recalled = api.call("post", "/batches/{code}/withdraw", f"/batches/{a}/withdraw", {"reason": "抽检不合格"}).get_json()
    assert recalled["recall"]["reach"]["batches"] >= 3
    assert client.get(f"/api/v1/batches/{merged}", headers=api.headers).get_json()["recall"]["recalled"] is True
    api.call("post", "/batches/{code}/recall/lift", f"/batches/{merged}/recall/lift", {"reason": "检测证明不含"},
             headers=reg)
    # EPCIS capture: producer A's lot's own export sent back changes nothing (200); a new storage event (201); an
    # event on the recalled batch is refused (422).
    own = client.get(f"/api/v1/batches/{lot}/epcis", headers=api.headers).get_json()
    echo = api.call("post", "/epcis/capture", "/epcis/capture", own).get_json()
    assert echo.get("already_captured"), echo
    stored = {"type": "ObjectEvent", "eventID": "urn:uuid:6f1d3c52-1a7e-4d1b-8f0e-2b9c4d5e6f70",
              "eventTime": datetime.now(timezone(timedelta(hours=8))).isoformat(), "eventTimeZoneOffset": "+08:00",
              "action": "OBSERVE",
              "bizStep": "storing", "quantityList": [{"epcClass": f"https://erp.example.com/t/{lot}"}],
              "gt:place": "冷库"}
    added = api.call("post", "/epcis/capture", "/epcis/capture", dict(own, epcisBody={"eventList": [stored]}))
    assert added.status_code == 201, added.get_json()
    stored = dict(stored, eventID="urn:uuid:6f1d3c52-1a7e-4d1b-8f0e-2b9c4d5e6f71",
                  quantityList=[{"epcClass": f"https://erp.example.com/t/{a}"}])
    api.call("post", "/epcis/capture", "/epcis/capture", dict(own, epcisBody={"eventList": [stored]}))

    documented = {(method, path, int(status)) for path, ops in api.document["paths"].items()
                  for method, op in ops.items() for status in op["responses"]
                  if int(status) < 300 or "content" in op["responses"][status]
                  and "Error" not in str(op["responses"][status]["content"])}
    assert documented - api.seen == set()
    unit = client.get(f"/api/v1/trace/{world.unit.code}").get_json()["unit"]
    assert unit == {"code": world.unit.code, "serial": world.unit.serial}
    assert "unit" not in client.get(f"/api/v1/trace/{lot}").get_json()  # optional parts stay out


def _error(response):
    assert response.status_code == 422 and response.is_json, (response.status_code, response.get_data(True)[:200])
    return response.get_json()["error"]


def test_bad_input_answers_422_naming_the_field_in_the_users_language(app, session):
    world = seed.build(session)
    client = app.test_client()
    a = {"Authorization": f"Bearer {world.tokens['producer_a']}"}
    reg = {"Authorization": f"Bearer {world.tokens['regulator_city']}"}

    error = _error(client.post("/api/v1/batches", json={"trademark_id": "7"}, headers=a))
    assert error == {"code": "invalid", "message": "trademark_id 必须是整数。", "field": "trademark_id"}
    refresh()  # the test's session keeps one app context for every request: forget its cached language
    error = _error(client.post("/api/v1/batches?lang=en", json={"trademark_id": True}, headers=a))
    assert error["message"] == "trademark_id must be a whole number." and error["field"] == "trademark_id"
    error = _error(client.post(f"/api/v1/batches/{world.lot.code}/split?lang=en",
                               json={"parts": [{"quantity_kg": 1}, {"quantity_kg": "2"}]}, headers=a))
    assert error["field"] == "parts[1].quantity_kg" and error["message"] == "parts[1].quantity_kg must be a number."
    error = _error(client.post(f"/api/v1/batches/{world.lot.code}/events?lang=en", json={"occurred_at": "x"},
                               headers=a))
    assert error == {"code": "invalid", "message": "stage is required.", "field": "stage"}
    assert _error(client.post("/api/v1/batches/merge", json={"inputs": []}, headers=a))["field"] == "inputs"
    assert _error(client.post("/api/v1/batches/merge", json={"inputs": [{"quantity_kg": 1}]},
                              headers=a))["field"] == "inputs[0].code"
    assert _error(client.post("/api/v1/batches", data="[]", content_type="application/json",
                              headers=a))["field"] == "body"
    error = _error(client.get("/api/v1/flags?status=maybe&lang=en", headers=reg))
    assert error["field"] == "status" and "open, cleared, confirmed, all" in error["message"]
    assert _error(client.get(f"/api/v1/batches/{world.lot.code}/units?limit=5001", headers=a))["field"] == "limit"
    assert _error(client.get("/api/v1/batches?limit=x", headers=a))["field"] == "limit"
    refresh()
    error = _error(client.post(f"/api/v1/batches/{world.lot.code}/units?lang=zh", json={"count": 1, "package_kg": 0},
                               headers=a))
    assert error["field"] == "package_kg" and error["message"] == "package_kg 必须大于 0。"
    # Another producer's batch is not found, whatever the body says.
    b = {"Authorization": f"Bearer {world.tokens['producer_b']}"}
    assert client.post(f"/api/v1/batches/{world.lot.code}/events", json={}, headers=b).status_code == 404


class Thing(Public):
    name: str


class Other(Public):
    size: int


class ThingCreate(Body):
    name: str


def _toy_app(view, **declared):
    blueprint = ApiBlueprint("toy", __name__, url_prefix="/toy")
    blueprint.add_url_rule("/things", view_func=operation(**declared)(view), methods=["POST"])
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.register_blueprint(blueprint)
    return app, blueprint


def test_a_view_answering_other_than_documented_is_a_bug_not_a_lie():
    def wrong(body: Load[ThingCreate]):
        body()
        return Other(size=1)

    app, _bp = _toy_app(wrong, body=ThingCreate, responses={201: Thing})
    with pytest.raises(TypeError, match="documented Thing"):
        app.test_client().post("/toy/things", json={"name": "x"})

    def unread(body: Load[ThingCreate]):
        return Thing(name="never validated")

    app, _bp = _toy_app(unread, body=ThingCreate, responses={201: Thing})
    with pytest.raises(TypeError, match="never read its body"):
        app.test_client().post("/toy/things", json={"name": 5})


def test_a_route_without_operation_cannot_hide_from_the_document():
    def good(body: Load[ThingCreate]):
        return Thing(name=body().name)

    app, blueprint = _toy_app(good, body=ThingCreate, responses={201: Thing})
    response = app.test_client().post("/toy/things", json={"name": "x"})
    assert response.status_code == 201 and response.get_json() == {"name": "x"}
    document = openapi_document(blueprint)
    assert document["paths"]["/things"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Thing"}
    bare = ApiBlueprint("bare", __name__, url_prefix="/bare")
    bare.add_url_rule("/things", view_func=lambda: "x", endpoint="things")
    with pytest.raises(TypeError, match="/things has no @operation"):
        openapi_document(bare)

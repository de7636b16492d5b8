"""The OpenAPI document stays true: every API route is described, and real responses of the tracing
operations (successes and errors) match the schema documented for their status code."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from gi_trace.accounts.services import create_token
from tests.factories import UserFactory
from tests.factories_tracing import DRIED, PASSING_TEST, PICKED, PROCESSED, SHIPPED, TESTED, Grower
from tests.openapi_support import Checker

_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def _template(rule: str) -> str:
    return _PARAM.sub(r"{\1}", rule[len("/api/v1"):])


def test_every_api_route_is_described_in_openapi(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = _template(rule.rule)
        if path == "/openapi.json":  # the document itself
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("responses"), f"{method} {path} documents no responses"


def test_tracing_responses_match_their_documented_schemas(client, session):
    grower = Grower.make(session)
    _token, raw = create_token(session, grower.user, "t")
    regulator = UserFactory(role="regulator")
    _rtoken, rraw = create_token(session, regulator, "r")
    session.commit()
    api = Checker(client, {"Authorization": f"Bearer {raw}"})
    reg = {"Authorization": f"Bearer {rraw}"}

    code = api.call("post", "/batches", "/batches", {"cultivar": "宁杞7号"}).get_json()["code"]
    ev = "/batches/{code}/events"
    api.call("post", ev, f"/batches/{code}/events", {"stage": "harvest", "occurred_at": PICKED,
                                                     "data": {"plot_id": grower.plot.id, "fresh_kg": 1000}})
    api.call("post", ev, f"/batches/{code}/events", {"stage": "drying", "occurred_at": DRIED,
                                                     "data": {"method": "sun", "dried_kg_out": 150}})  # flags
    api.call("post", ev, f"/batches/{code}/events", {"stage": "testing", "occurred_at": TESTED, "data": PASSING_TEST})
    api.call("post", ev, f"/batches/{code}/events", {"stage": "harvest", "occurred_at": PICKED}, )  # 422
    api.call("post", ev, f"/batches/{code}/events", {"stage": "storage"})  # 422
    parts = api.call("post", "/batches/{code}/split", f"/batches/{code}/split",
                     {"parts": [{"quantity_kg": 50}, {"quantity_kg": 50}]}).get_json()["children"]
    api.call("post", "/batches/{code}/split", f"/batches/{code}/split", {"parts": [{"quantity_kg": 9999}]})  # 422
    merged = api.call("post", "/batches/merge", "/batches/merge",
                      {"inputs": [{"code": parts[0]["code"]}, {"code": parts[1]["code"]}]}).get_json()
    m = merged["children"][0]["code"]
    api.call("post", "/batches/process", "/batches/process",
             {"inputs": [{"code": m, "quantity_kg": 40}], "outputs": [{"quantity_kg": 30}], "product_form": "powder"})
    api.call("post", ev, f"/batches/{m}/events",
             {"stage": "processing", "occurred_at": PROCESSED,
              "data": {"product_form": "juice", "outputs": [{"quantity_kg": 50}]}})
    api.call("post", ev, f"/batches/{m}/events", {"stage": "distribution", "occurred_at": SHIPPED,
                                                  "data": {"recipient": "x", "kg": 5}})
    api.call("post", "/batches", "/batches", {"producer_lot": "dup"})
    api.call("post", "/batches", "/batches", {"producer_lot": "dup"})  # 409
    api.call("post", "/batches", "/batches", None, headers={})  # 401
    api.call("post", "/batches", "/batches", {}, headers=reg)  # 403
    api.call("get", "/batches", "/batches")
    api.call("get", "/batches/{code}", f"/batches/{code}")
    api.call("get", "/batches/{code}", "/batches/ABCD-EFGH-JKMN-PQ")  # 404
    for direction in ("backward", "forward"):
        api.call("get", "/batches/{code}/trace", f"/batches/{m}/trace?direction={direction}")
    api.call("get", "/batches/{code}/trace", f"/batches/{m}/trace?direction=up")  # 422
    api.call("get", "/batches/{code}/verify", f"/batches/{code}/verify")
    api.call("get", "/batches/{code}/epcis", f"/batches/{code}/epcis")
    # EPCIS capture: the batch's own export sent back is already recorded (200); a new event is captured (201);
    # an event on a batch nobody made is refused (422, every refused event listed); regulators may not capture (403).
    own = client.get(f"/api/v1/batches/{m}/epcis", headers=api.headers).get_json()
    echo = api.call("post", "/epcis/capture", "/epcis/capture", own).get_json()
    assert echo.get("captured") == 0, echo
    stored = {"type": "ObjectEvent", "eventID": "urn:uuid:0b6a1f0e-5d0c-4c1e-9a59-3c1f2f7d8e01",
              "eventTime": datetime.now(timezone(timedelta(hours=8))).isoformat(),
              "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
              "bizStep": "storing", "quantityList": [{"epcClass": f"https://erp.example.com/t/{m}"}],
              "gt:place": "冷库"}
    capture = dict(own, epcisBody={"eventList": [stored]})
    added = api.call("post", "/epcis/capture", "/epcis/capture", capture).get_json()
    assert added.get("captured") == 1, added
    late = dict(stored, eventID="urn:uuid:0b6a1f0e-5d0c-4c1e-9a59-3c1f2f7d8e02",
                quantityList=[{"epcClass": "https://erp.example.com/t/ABCDEFGHJKMNPQ"}])
    refused = api.call("post", "/epcis/capture", "/epcis/capture", dict(own, epcisBody={"eventList": [late]}))
    assert refused.get_json()["error"]["refused"][0]["index"] == 0
    api.call("post", "/epcis/capture", "/epcis/capture", capture, headers=reg)  # 403
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/epcis/capture"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/ld+json", "application/json"}
    assert {"200", "201", "400", "413", "415", "422"} <= set(operation["responses"])

    api.call("get", "/trace/{code}", f"/trace/{m}", headers={})
    api.call("get", "/trace/{code}", "/trace/nope", headers={})  # 404
    api.call("post", "/batches/{code}/withdraw", f"/batches/{code}/withdraw", {"reason": ""})  # 422
    api.call("post", "/batches/{code}/withdraw", f"/batches/{code}/withdraw", {"reason": "召回"})
    api.call("post", "/batches/{code}/withdraw", f"/batches/{code}/withdraw", {"reason": "召回"})  # 409
    api.call("get", "/trace/{code}", f"/trace/{code}", headers={})  # 410

    flags = api.call("get", "/flags", "/flags", headers=reg).get_json()["flags"]
    assert [f["kind"] for f in flags] == ["drying_ratio"] and flags[0]["batch"] == code
    api.call("get", "/flags", "/flags")  # 403 for a producer
    api.call("get", "/flags", "/flags?status=maybe", headers=reg)  # 422
    api.call("post", "/flags/{flag_id}/review", f"/flags/{flags[0]['id']}/review", {"outcome": "cleared"},
             headers=reg)
    api.call("post", "/flags/{flag_id}/review", f"/flags/{flags[0]['id']}/review", {"outcome": "cleared"},
             headers=reg)  # 409
    api.call("post", "/flags/{flag_id}/review", "/flags/999/review", {"outcome": "cleared"}, headers=reg)  # 404
    assert api.call("get", "/batches/{code}", f"/batches/{code}").get_json()["under_review"] is False

    statuses = {s for _m, _t, s in api.seen}
    assert statuses >= {200, 201, 401, 403, 404, 409, 410, 422}

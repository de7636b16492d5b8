"""The tracing API end to end: 中宁枸杞 from planting to distribution, with a split, a merge and a
processing step; traces, EPCIS, the public view, the hash chain, and the access rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker
from sqlalchemy import text

from gi_trace.accounts.services import create_token
from tests.factories import DecisionFactory, UserFactory
from tests.factories_tracing import (
    DRIED,
    PASSING_TEST,
    PICKED,
    PLANTED,
    PROCESSED,
    SHIPPED,
    STORED,
    TESTED,
    Grower,
)

EPCIS_SCHEMA = Path("/work/shared/standards/epcis/EPCIS-JSON-Schema.json")


def bearer(session, user) -> dict:
    _token, raw = create_token(session, user, "test")
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def grower(session):
    g = Grower.make(session)
    g.headers = bearer(session, g.user)
    session.commit()
    return g


def post(client, url, headers, body, expected=201):
    response = client.post(url, headers=headers, json=body)
    assert response.status_code == expected, response.get_data(as_text=True)
    return response.get_json()


def event(client, grower, code, stage, occurred_at, data, expected=201, **extra):
    return post(client, f"/api/v1/batches/{code}/events", grower.headers,
                {"stage": stage, "occurred_at": occurred_at, "data": data, **extra}, expected)


def harvest_batch(client, grower, fresh_kg, dried_kg, lot):
    batch = post(client, "/api/v1/batches", grower.headers,
                 {"product": "zhongning-goji", "cultivar": "宁杞7号", "trademark_id": grower.trademark_id,
                  "producer_lot": lot})
    code = batch["code"]
    event(client, grower, code, "planting", PLANTED,
          {"plot_id": grower.plot.id, "cultivar": "宁杞7号"})
    event(client, grower, code, "harvest", PICKED, {"plot_id": grower.plot.id, "picking_round": 2,
                                                    "fresh_kg": fresh_kg})
    event(client, grower, code, "drying", DRIED, {"method": "hot_air", "temperature_c": 55, "dried_kg_out": dried_kg,
                                                  "moisture_pct": 11})
    result = event(client, grower, code, "testing", TESTED, PASSING_TEST)
    assert result["batch"]["grade"] == "特级" and result["batch"]["test_state"] == "passed"
    return code


def test_goji_walk_from_planting_to_distribution_with_split_merge_and_processing(client, session, grower):
    created = post(client, "/api/v1/batches", grower.headers, {"cultivar": "宁杞7号"})
    assert created["trace_url"] == f"https://trace.example.cn/t/{created['code']}"
    assert created["qr_png_url"].endswith(f"/t/{created['code']}/qr.png")
    assert created["qr_svg_url"].endswith(f"/t/{created['code']}/qr.svg")

    a = harvest_batch(client, grower, 1000, 240, "A-2025-01")
    b = harvest_batch(client, grower, 800, 200, "B-2025-01")

    split = post(client, f"/api/v1/batches/{a}/split", grower.headers,
                 {"parts": [{"quantity_kg": 100, "producer_lot": "A1"}, {"quantity_kg": 100, "producer_lot": "A2"}],
                  "occurred_at": "2025-07-16T09:00:00+08:00", "location": "640521100"})
    a1, a2 = (c["code"] for c in split["children"])
    assert [c["quantity_kg"] for c in split["children"]] == [100, 100]
    assert split["children"][0]["test_state"] == "passed"

    merged = post(client, "/api/v1/batches/merge", grower.headers,
                  {"inputs": [{"code": a2}, {"code": b}], "producer_lot": "M-1",
                   "occurred_at": "2025-07-18T09:00:00+08:00", "location": {"name": "中宁枸杞加工园区"}})
    m = merged["children"][0]["code"]
    assert merged["children"][0]["quantity_kg"] == 300

    processed = event(client, grower, m, "processing", PROCESSED,
                      {"product_form": "powder", "process": "低温粉碎",
                       "outputs": [{"quantity_kg": 250, "product_form": "powder", "producer_lot": "P-1"}]})
    p = processed["children"][0]["code"]
    assert processed["children"][0]["kind"] == "processed"
    assert processed["batch"]["available_kg"] == 0

    event(client, grower, p, "storage", STORED, {"place": "中宁冷库", "conditions": "阴凉干燥"})
    shipped = event(client, grower, p, "distribution", SHIPPED, {"recipient": "银川某超市", "kg": 200},
                    location={"town_code": "640521100", "name": "宁安镇物流站"})
    assert shipped["batch"]["available_kg"] == 50

    backward = client.get(f"/api/v1/batches/{p}/trace?direction=backward", headers=grower.headers).get_json()
    assert {n["code"] for n in backward["batches"]} == {m, a2, a, b}
    assert {h["code"] for h in backward["harvests"]} == {a, b}
    assert backward["towns"] == ["640521100"]
    assert all(h["plots"] == [{"plot_id": grower.plot.id, "town_code": "640521100"}] for h in backward["harvests"])

    forward = client.get(f"/api/v1/batches/{a}/trace?direction=forward", headers=grower.headers).get_json()
    assert {n["code"] for n in forward["batches"]} == {a1, a2, m, p}
    forward_b = client.get(f"/api/v1/batches/{b}/trace?direction=forward", headers=grower.headers).get_json()
    assert {n["code"] for n in forward_b["batches"]} == {m, p}
    assert {(link["parent"], link["child"], link["quantity_kg"]) for link in forward_b["links"]} == {
        (b, m, 200), (m, p, 300)}  # links carry the kg taken from the parent

    public = client.get(f"/api/v1/trace/{p}")
    assert public.status_code == 200
    view = public.get_json()
    assert view["verifies"] is True and view["gi_label"]["allowed"] is True
    assert view["source_towns"] == ["宁安镇"]
    assert {s["code"] for s in view["sources"]} == {a, b}
    assert [s["stage"] for s in view["timeline"]] == ["processing", "storage", "distribution"]
    assert "银川某超市" not in public.get_data(as_text=True)  # buyers are not public

    assert runner_verify(client.application) == (0, "OK")


def runner_verify(app):
    result = app.test_cli_runner().invoke(args=["verify"])
    return result.exit_code, result.output.strip().splitlines()[-1][:2]


def test_epcis_document_validates_against_the_schema(client, session, grower):
    a = harvest_batch(client, grower, 1000, 240, "E-1")
    b = harvest_batch(client, grower, 900, 220, "E-2")
    split = post(client, f"/api/v1/batches/{a}/split", grower.headers,
                 {"parts": [{"quantity_kg": 120}], "occurred_at": "2025-07-16T09:00:00+08:00"})
    part = split["children"][0]["code"]
    merged = post(client, "/api/v1/batches/merge", grower.headers,
                  {"inputs": [{"code": part}, {"code": b, "quantity_kg": 100}],
                   "occurred_at": "2025-07-17T09:00:00+08:00"})
    m = merged["children"][0]["code"]
    processed = event(client, grower, m, "processing", PROCESSED,
                      {"product_form": "juice", "outputs": [{"quantity_kg": 150}, {"quantity_kg": 50}]})
    out = processed["children"][0]["code"]
    event(client, grower, out, "distribution", SHIPPED, {"recipient": "银川", "kg": 10})
    schema = json.loads(EPCIS_SCHEMA.read_text())
    validator = Draft7Validator(schema, format_checker=FormatChecker())
    for code, scope in ((a, "batch"), (out, "backward"), (m, "batch")):
        response = client.get(f"/api/v1/batches/{code}/epcis?scope={scope}", headers=grower.headers)
        assert response.status_code == 200
        assert response.mimetype == "application/ld+json"
        document = response.get_json()
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]
        for item in document["epcisBody"]["eventList"]:  # the schema's "uri" format is not checked offline
            assert item["eventID"].startswith("urn:uuid:")  # independent of the host
            ids = [q["epcClass"] for key in ("quantityList", "inputQuantityList",
                                                                 "outputQuantityList") for q in item.get(key, [])]
            ids += [item[key]["id"] for key in ("readPoint", "bizLocation") if key in item]
            assert all(i.startswith("https://trace.example.cn/") for i in ids), ids
    document = client.get(f"/api/v1/batches/{out}/epcis?scope=backward", headers=grower.headers).get_json()
    events = document["epcisBody"]["eventList"]
    kinds = [(e["type"], e.get("bizStep")) for e in events]
    assert ("ObjectEvent", "commissioning") in kinds  # harvest
    drying = [e for e in events if e["type"] == "TransformationEvent" and e.get("gt:stage") == "drying"]
    assert len(drying) == 2
    assert drying[0]["inputQuantityList"][0]["uom"] == "KGM"
    processing = [e for e in events if e.get("transformationID") and e["bizStep"] == "commissioning"
                  and len(e["outputQuantityList"]) == 2]
    assert len(processing) == 1
    assert sorted(q["quantity"] for q in processing[0]["outputQuantityList"]) == [50, 150]
    assert ("ObjectEvent", "inspecting") in kinds


def test_correction_is_a_new_event_and_epcis_declares_the_error(client, session, grower):
    batch = post(client, "/api/v1/batches", grower.headers, {})
    code = batch["code"]
    first = event(client, grower, code, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 500})
    fixed = event(client, grower, code, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 450},
                  corrects_event_id=first["event"]["id"], correction_reason="称重时多记了一筐")
    assert fixed["batch"]["quantity_kg"] == 450
    assert fixed["event"]["seq"] == 2 and fixed["event"]["prev_hash"] == first["event"]["hash"]
    detail = client.get(f"/api/v1/batches/{code}", headers=grower.headers).get_json()
    assert [e["data"]["fresh_kg"] for e in detail["events"]] == [500, 450]  # the original is kept
    document = client.get(f"/api/v1/batches/{code}/epcis", headers=grower.headers).get_json()
    original = document["epcisBody"]["eventList"][0]
    assert original["errorDeclaration"]["reason"] == "incorrect_data"
    missing_reason = event(client, grower, code, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 1},
                           expected=422, corrects_event_id=first["event"]["id"])
    assert missing_reason["error"]["field"] == "correction_reason"


def test_tampering_with_a_stored_event_is_named_by_verify(client, session, grower, app):
    code = harvest_batch(client, grower, 1000, 240, "T-1")
    with app.app_context():
        from gi_trace.db import get_engine

        with get_engine(app).begin() as conn:
            conn.execute(text("UPDATE event SET quantity_kg = 2000 WHERE stage = 'harvest'"))
    result = app.test_cli_runner().invoke(args=["verify"])
    assert result.exit_code == 1
    assert f"BROKEN batch {code} at event 2" in result.output
    assert "changed after it was recorded" in result.output or "登记后被修改" in result.output
    one = app.test_cli_runner().invoke(args=["verify", "--batch", code])
    assert one.exit_code == 1 and f"BROKEN batch {code} at event 2" in one.output
    view = client.get(f"/api/v1/trace/{code}").get_json()
    assert view["verifies"] is False
    check = client.get(f"/api/v1/batches/{code}/verify", headers=grower.headers).get_json()
    assert check["verifies"] is False and check["broken_seq"] == 2


def test_deleting_the_last_event_is_detected(client, session, grower, app):
    code = harvest_batch(client, grower, 1000, 240, "T-2")
    from gi_trace.db import get_engine

    with get_engine(app).begin() as conn:
        conn.execute(text("DELETE FROM event WHERE stage = 'testing'"))
    result = app.test_cli_runner().invoke(args=["verify"])
    assert result.exit_code == 1 and f"BROKEN batch {code} at event 4" in result.output  # 4 events: the 4th is gone


def test_another_producers_batch_is_not_found(client, session, grower):
    code = harvest_batch(client, grower, 1000, 240, "X-1")
    other = Grower.make(session)
    headers = bearer(session, other.user)
    session.commit()
    for method, url, body in (("post", f"/api/v1/batches/{code}/events",
                               {"stage": "storage", "occurred_at": STORED, "data": {"place": "x"}}),
                              ("post", f"/api/v1/batches/{code}/split", {"parts": [{"quantity_kg": 1}]}),
                              ("post", "/api/v1/batches/merge", {"inputs": [{"code": code}, {"code": code}]}),
                              ("get", f"/api/v1/batches/{code}", None),
                              ("get", f"/api/v1/batches/{code}/trace", None),
                              ("get", f"/api/v1/batches/{code}/epcis", None)):
        response = getattr(client, method)(url, headers=headers, json=body)
        assert response.status_code == 404, (url, response.get_data(as_text=True))
        assert response.get_json()["error"]["code"] == "not_found"


def test_regulator_cannot_record_events_but_can_withdraw(client, session, grower):
    code = harvest_batch(client, grower, 1000, 240, "R-1")
    regulator = UserFactory(role="regulator", county_code="640521")
    headers = bearer(session, regulator)
    session.commit()
    refused = client.post(f"/api/v1/batches/{code}/events", headers=headers,
                          json={"stage": "storage", "occurred_at": STORED, "data": {"place": "x"}})
    assert refused.status_code == 403
    assert client.get(f"/api/v1/batches/{code}", headers=headers).status_code == 200
    withdrawn = post(client, f"/api/v1/batches/{code}/withdraw", headers, {"reason": "抽检发现外地果冒充"}, 200)
    assert withdrawn["batch"]["withdrawn"] is True and withdrawn["event"]["stage"] == "withdrawal"
    assert client.get(f"/api/v1/trace/{code}").status_code == 410
    again = event(client, grower, code, "storage", STORED, {"place": "x"}, expected=422)
    assert again["error"]["code"] == "withdrawn"


def test_no_token_is_401_and_bad_input_is_never_500(client, session, grower):
    assert client.post("/api/v1/batches", json={}).status_code == 401
    batch = post(client, "/api/v1/batches", grower.headers, {})
    code = batch["code"]
    bad_bodies = [
        None, [], {"stage": 3}, {"stage": "harvest"}, {"stage": "harvest", "occurred_at": "yesterday"},
        {"stage": "harvest", "occurred_at": "2025-07-01T08:00:00"},
        {"stage": "harvest", "occurred_at": PICKED, "data": "x"},
        {"stage": "harvest", "occurred_at": PICKED, "data": {"plot_id": "one", "fresh_kg": 1}},
        {"stage": "harvest", "occurred_at": PICKED, "data": {"plot_id": grower.plot.id, "fresh_kg": -1}},
        {"stage": "harvest", "occurred_at": PICKED, "data": {"plot_id": grower.plot.id, "fresh_kg": 1e400}},
        {"stage": "harvest", "occurred_at": PICKED, "data": {"plot_id": grower.plot.id, "fresh_kg": 1e308}},
        {"stage": "harvest", "occurred_at": PICKED, "data": {"plot_id": 99999, "fresh_kg": 10}},
        {"stage": "harvest", "occurred_at": PICKED, "data": {"plot_id": grower.plot.id, "fresh_kg": 10, "x": 1}},
        {"stage": "harvest", "occurred_at": PICKED, "location": 5, "data": {"plot_id": grower.plot.id,
                                                                            "fresh_kg": 10}},
        {"stage": "harvest", "occurred_at": PICKED, "location": "999999999",
         "data": {"plot_id": grower.plot.id, "fresh_kg": 10}},
        {"stage": "nonsense", "occurred_at": PICKED},
        {"stage": "split", "occurred_at": PICKED},
        {"stage": "harvest", "occurred_at": PICKED, "corrects_event_id": "x"},
        {"stage": "harvest", "occurred_at": PICKED, "corrects_event_id": 12345, "correction_reason": "r",
         "data": {"plot_id": grower.plot.id, "fresh_kg": 10}},
    ]
    for body in bad_bodies:
        response = client.post(f"/api/v1/batches/{code}/events", headers=grower.headers,
                               data=json.dumps(body), content_type="application/json")
        assert response.status_code in (400, 422), (body, response.status_code, response.get_data(as_text=True))
        assert set(response.get_json()["error"]) >= {"code", "message", "field"}
    for url, body in ((f"/api/v1/batches/{code}/split", {"parts": "x"}),
                      (f"/api/v1/batches/{code}/split", {"parts": [{"quantity_kg": "x"}]}),
                      (f"/api/v1/batches/{code}/split", {"parts": [{"quantity_kg": 1}], "occurred_at": 5}),
                      ("/api/v1/batches/merge", {"inputs": 5}),
                      ("/api/v1/batches/merge", {"inputs": [{"code": 5}]}),
                      ("/api/v1/batches/merge", {"inputs": [{"code": code}]}),
                      ("/api/v1/batches/process", {"inputs": [{"code": code}], "outputs": "x"}),
                      ("/api/v1/batches", {"product": 5}),
                      ("/api/v1/batches", {"product": "no-such"}),
                      ("/api/v1/batches", {"trademark_id": "x"}),
                      ("/api/v1/batches", {"cultivar": ["x"]}),
                      ("/api/v1/batches", {"cultivar": "宁杞\x007号"}),
                      ("/api/v1/batches", {"product": "zhongning\x00"}),
                      ("/api/v1/batches", {"producer_lot": "L\x00"}),
                      ("/api/v1/batches", {"trademark_id": 2**70}),
                      ("/api/v1/batches", {"product_line_id": 2**70}),
                      (f"/api/v1/batches/{code}/events", {"stage": "harvest", "occurred_at": PICKED,
                                                          "location": {"name": "\x00"},
                                                          "data": {"plot_id": grower.plot.id, "fresh_kg": 1}}),
                      (f"/api/v1/batches/{code}/events", {"stage": "planting", "occurred_at": PICKED,
                                                          "data": {"plot_id": grower.plot.id, "cultivar": "\x00"}}),
                      (f"/api/v1/batches/{code}/withdraw", {"reason": "召回\x00"})):
        response = client.post(url, headers=grower.headers, json=body)
        assert response.status_code in (400, 404, 422), (url, body, response.get_data(as_text=True))
    assert client.get(f"/api/v1/batches/{code}/trace?direction=sideways", headers=grower.headers).status_code == 422
    assert client.get("/api/v1/trace/not-a-code").status_code == 404
    regulator = UserFactory(role="regulator")
    _t, raw = create_token(session, regulator, "r")
    session.commit()
    huge = client.post(f"/api/v1/flags/{2**70}/review", headers={"Authorization": f"Bearer {raw}"},
                       json={"outcome": "cleared"})
    assert huge.status_code == 404
    assert client.get("/api/v1/batches?limit=x", headers=grower.headers).status_code == 422


def test_suspended_producer_is_refused_with_the_reason(client, session, grower):
    from datetime import date

    DecisionFactory(producer_id=grower.producer.id, action="suspend", effective_date=date(2025, 3, 1),
                    reason="抽检不合格")
    session.commit()
    refused = post(client, "/api/v1/batches", grower.headers, {}, 422)
    assert refused["error"]["code"] == "authorisation_suspended"
    assert "2025年3月1日" in refused["error"]["message"] and "抽检不合格" in refused["error"]["message"]

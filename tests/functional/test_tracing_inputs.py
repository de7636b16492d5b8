"""Inputs per plot and season through the API and the producer portal: recording, refusals naming the field,
another party's plot answering 404, a harvest refused inside the safety interval, and what the public
scan page and the EPCIS export say of the inputs behind a batch (never who applied them)."""
from __future__ import annotations

import re

import pytest
from flask_babel import refresh
from sqlmodel import select

from gi_trace.tracing.models_inputs import PlotInput
from tests.conftest import csrf_token, login
from tests.factories_tracing import PICKED, PLANTED, Grower
from tests.functional.test_tracing_api import bearer, event, post

SPRAY = {"kind": "pesticide", "product_name": "吡虫啉可湿性粉剂", "registration_no": "PD20080001",
         "active_ingredient": "吡虫啉", "dose": "1500倍液", "applied_on": "2025-06-24", "safety_interval_days": 14}


@pytest.fixture
def grower(session):
    g = Grower.make(session)
    g.headers = bearer(session, g.user)
    session.commit()
    return g


@pytest.fixture
def other(session):
    g = Grower.make(session)
    g.headers = bearer(session, g.user)
    session.commit()
    return g


# --- API ------------------------------------------------------------------------------------------

def test_api_lists_own_plots_records_inputs_and_lists_them_by_season(client, grower, other):
    plots = client.get("/api/v1/plots", headers=grower.headers).get_json()["plots"]
    assert [p["id"] for p in plots] == [grower.plot.id] and plots[0]["inputs_recorded"] == 0
    url = f"/api/v1/plots/{grower.plot.id}/inputs"
    made = post(client, url, grower.headers, {**SPRAY, "applied_by": "张三"})
    assert made["season"] == 2025 and made["earliest_harvest"] == "2025-07-08" and made["applied_by"] == "张三"
    post(client, url, grower.headers, {**SPRAY, "applied_on": "2024-06-01"})
    fixed = post(client, url, grower.headers, {**SPRAY, "safety_interval_days": 21, "supersedes": made["id"],
                                               "correction_reason": "标签上是21天"})
    listed = client.get(f"{url}?season=2025", headers=grower.headers).get_json()
    assert listed["season"] == 2025 and [i["id"] for i in listed["inputs"]] == [fixed["id"]]
    everything = client.get(f"{url}?season=2025&include_superseded=true", headers=grower.headers).get_json()
    assert {i["id"]: i["superseded_by"] for i in everything["inputs"]} == {made["id"]: fixed["id"], fixed["id"]: None}
    assert len(client.get(url, headers=grower.headers).get_json()["inputs"]) == 2


def test_api_another_partys_plot_is_not_found(client, grower, other):
    url = f"/api/v1/plots/{grower.plot.id}/inputs"
    assert client.get(url, headers=other.headers).status_code == 404
    response = client.post(url, headers=other.headers, json=SPRAY)
    assert response.status_code == 404 and response.get_json()["error"]["field"] == "plot_id"
    assert client.post(url, headers=other.headers, json={"junk": 1}).status_code == 404  # 404 whatever the body
    assert client.get("/api/v1/plots/999999/inputs", headers=grower.headers).status_code == 404
    assert [p["id"] for p in client.get("/api/v1/plots", headers=other.headers).get_json()["plots"]] == [other.plot.id]
    assert client.get("/api/v1/plots").status_code == 401


@pytest.mark.parametrize("change, field", [
    ({"kind": "herbicide"}, "kind"),
    ({"safety_interval_days": "14"}, "safety_interval_days"),
    ({"registration_no": "abc"}, "registration_no"),
    ({"applied_on": "24/06/2025"}, "applied_on"),
    ({"safety_interval_days": None}, "safety_interval_days"),
    ({"dose": ""}, "dose"),
])
def test_api_bad_input_is_refused_naming_the_field(client, grower, change, field):
    response = client.post(f"/api/v1/plots/{grower.plot.id}/inputs", headers=grower.headers,
                           json={**SPRAY, **change})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == field


def test_api_refuses_a_banned_substance_in_the_users_language(client, grower):
    body = {**SPRAY, "product_name": "甲胺磷乳油", "active_ingredient": "甲胺磷"}
    response = client.post(f"/api/v1/plots/{grower.plot.id}/inputs", headers=grower.headers, json=body)
    error = response.get_json()["error"]
    assert response.status_code == 422 and error["code"] == "banned_substance"
    assert error["field"] == "active_ingredient" and error["message"] == "甲胺磷 属于本产品禁用物质，不得使用。"
    refresh()  # the test's session keeps one app context for every request: forget its cached language
    response = client.post(f"/api/v1/plots/{grower.plot.id}/inputs?lang=en", headers=grower.headers, json=body)
    assert "banned" in response.get_json()["error"]["message"]


def test_api_harvest_inside_the_safety_interval_is_refused_then_allowed(client, grower):
    post(client, f"/api/v1/plots/{grower.plot.id}/inputs", grower.headers, SPRAY)
    code = post(client, "/api/v1/batches", grower.headers, {"cultivar": "宁杞7号"})["code"]
    event(client, grower, code, "planting", PLANTED, {"plot_id": grower.plot.id})
    refused = event(client, grower, code, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 500},
                    expected=422)["error"]
    assert refused["code"] == "safety_interval" and refused["field"] == "occurred_at"
    assert refused["earliest_allowed"] == "2025-07-08" and "吡虫啉" in refused["message"]
    assert "2025年7月8日" in refused["message"]
    event(client, grower, code, "harvest", "2025-07-08T08:00:00+08:00", {"plot_id": grower.plot.id,
                                                                         "fresh_kg": 500})


# --- the public page and EPCIS -------------------------------------------------------------------

def test_scan_page_and_epcis_list_the_season_inputs_without_who_applied_them(client, session, grower):
    url = f"/api/v1/plots/{grower.plot.id}/inputs"
    post(client, url, grower.headers, {**SPRAY, "applied_on": "2025-05-02", "applied_by": "王二麻"})
    post(client, url, grower.headers, {**SPRAY, "kind": "fertiliser", "product_name": "腐熟羊粪",
                                       "registration_no": None, "active_ingredient": None, "dose": "2 t/亩",
                                       "applied_on": "2025-03-20", "safety_interval_days": None})
    post(client, url, grower.headers, {**SPRAY, "applied_on": "2024-05-02", "product_name": "去年的药"})
    code = post(client, "/api/v1/batches", grower.headers, {"cultivar": "宁杞7号"})["code"]
    event(client, grower, code, "planting", PLANTED, {"plot_id": grower.plot.id})
    event(client, grower, code, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 500})
    lot = post(client, f"/api/v1/batches/{code}/split", grower.headers,
               {"parts": [{"quantity_kg": 100}], "occurred_at": "2025-07-02T08:00:00+08:00"})["children"][0]["code"]
    page = client.get(f"/t/{lot}").get_data(as_text=True)
    section = re.search(r'<section class="card inputs" id="inputs">(.*?)</section>', page, re.S).group(1)
    assert "吡虫啉可湿性粉剂" in section and "PD20080001" in section and "腐熟羊粪" in section
    assert "2025年5月2日" in section and "2025年5月16日" in section  # applied, and the earliest harvest
    assert "去年的药" not in section and "2025" in section
    assert "王二麻" not in page  # who applied it: personal data, never public
    # A new record reaches the page of every batch made from the plot's harvest at once.
    post(client, url, grower.headers, {**SPRAY, "applied_on": "2025-06-01", "product_name": "阿维菌素乳油",
                                       "registration_no": "PD20121234", "active_ingredient": "阿维菌素",
                                       "safety_interval_days": 7})
    assert "阿维菌素乳油" in client.get(f"/t/{lot}").get_data(as_text=True)
    refresh()
    english = client.get(f"/t/{lot}?lang=en").get_data(as_text=True)
    assert "Pesticide" in english and "safety interval 14 days" in english
    document = client.get(f"/api/v1/batches/{lot}/epcis", headers=grower.headers).get_json()
    plots = document["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"]
    names = sorted(a["attribute"]["productName"] for p in plots for a in p["attributes"] if a["id"].endswith("/input"))
    assert names == ["吡虫啉可湿性粉剂", "腐熟羊粪", "阿维菌素乳油"]
    assert "王二麻" not in str(document)


def test_a_batch_without_inputs_says_none_are_recorded(client, session, grower):
    batch = grower.harvested(session)
    session.commit()
    page = client.get(f"/t/{batch.code}").get_data(as_text=True)
    assert 'id="inputs"' in page and "本产季未记录这些地块的施肥或用药。" in page


# --- portal ---------------------------------------------------------------------------------------

def _post(client, path, data):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def _beside(html: str, name: str) -> list[str]:
    match = re.search(rf'<label for="{name}">.*?</div>', html, re.S)
    return re.findall(r'class="field-error" role="alert">([^<]+)<', match.group(0)) if match else []


FORM = {"kind": "pesticide", "product_name": "吡虫啉可湿性粉剂", "registration_no": "PD20080001",
        "active_ingredient": "吡虫啉", "dose": "1500倍液", "applied_on": "2025-06-24", "safety_interval_days": "14",
        "applied_by": "张三"}


def test_portal_records_an_input_and_shows_refusals_beside_their_field(client, session, grower, other):
    login(client, grower.user.username)
    plots = client.get("/my/plots").get_data(as_text=True)
    assert f"/my/plots/{grower.plot.id}/inputs" in plots and f"/my/plots/{other.plot.id}/" not in plots
    path = f"/my/plots/{grower.plot.id}/inputs"
    response = _post(client, path, {**FORM, "active_ingredient": "克百威"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert any("禁用" in e for e in _beside(html, "active_ingredient")), html[:3000]
    response = _post(client, path, {**FORM, "registration_no": "12"})
    assert response.status_code == 422 and _beside(response.get_data(as_text=True), "registration_no")
    response = _post(client, path, {**FORM, "safety_interval_days": ""})
    assert response.status_code == 422 and _beside(response.get_data(as_text=True), "safety_interval_days")
    assert session.exec(select(PlotInput)).all() == []
    response = _post(client, path, FORM)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{path}?season=2025")
    page = client.get(f"{path}?season=2025").get_data(as_text=True)
    assert "吡虫啉可湿性粉剂" in page and "2025年7月8日" in page and "张三" in page
    record = session.exec(select(PlotInput)).one()
    # A correction: the form comes prefilled; the reason is required beside its field.
    form = client.get(f"{path}?season=2025&correct={record.id}").get_data(as_text=True)
    assert 'value="吡虫啉可湿性粉剂"' in form and 'name="correction_reason"' in form
    fixed = {**FORM, "safety_interval_days": "21", "supersedes": str(record.id)}
    response = _post(client, f"{path}?season=2025&correct={record.id}", fixed)
    assert response.status_code == 422 and _beside(response.get_data(as_text=True), "correction_reason")
    response = _post(client, f"{path}?season=2025&correct={record.id}", {**fixed, "correction_reason": "看错标签"})
    assert response.status_code == 302
    page = client.get(f"{path}?season=2025").get_data(as_text=True)
    assert "看错标签" in page and "<s>吡虫啉可湿性粉剂</s>" in page
    assert client.get(f"/my/plots/{other.plot.id}/inputs").status_code == 404
    assert client.get(f"{path}?correct=999999").status_code == 404


def test_portal_harvest_inside_the_interval_is_refused_beside_the_time(client, session, grower):
    login(client, grower.user.username)
    assert _post(client, f"/my/plots/{grower.plot.id}/inputs", FORM).status_code == 302
    batch = grower.open(session)
    grower.event(session, batch, "planting", PLANTED, {"plot_id": grower.plot.id})
    session.commit()
    response = _post(client, f"/batches/{batch.code}/record/harvest",
                     {"occurred_at": "2025-07-01T08:00", "f_plot_id": str(grower.plot.id), "f_fresh_kg": "300"})
    assert response.status_code in (200, 422)
    errors = _beside(response.get_data(as_text=True), "occurred_at")
    assert errors and "2025年7月8日" in errors[0] and "吡虫啉" in errors[0]


def test_a_regulator_reads_a_plots_inputs_in_scope_without_a_form(client, session, grower):
    from tests.factories import UserFactory

    post(client, f"/api/v1/plots/{grower.plot.id}/inputs", grower.headers, {**SPRAY, "applied_by": "张三"})
    city = UserFactory(role="regulator", county_code=None)
    other_county = UserFactory(role="regulator", county_code="640502")
    session.commit()
    login(client, city.username)
    producer_page = client.get(f"/producers/{grower.producer.id}").get_data(as_text=True)
    assert f"/plots/{grower.plot.id}/inputs" in producer_page
    page = client.get(f"/plots/{grower.plot.id}/inputs?season=2025")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "吡虫啉可湿性粉剂" in html and "2025年7月8日" in html
    assert 'id="record"' not in html and "correct=" not in html  # read-only
    assert client.get(f"/my/plots/{grower.plot.id}/inputs").status_code == 403  # the portal is the producer's
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, other_county.username)
    assert client.get(f"/plots/{grower.plot.id}/inputs").status_code == 404

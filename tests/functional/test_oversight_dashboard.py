"""The supervision dashboard, drill-down, compliance API and CLI through the app."""
from __future__ import annotations

import json
import re
from datetime import date

import pytest

from gi_trace.accounts.services import create_token
from gi_trace.registry.models import SectorTotal
from tests.conftest import login
from tests.factories import DecisionFactory, OutputFactory, ProducerFactory, UserFactory, goji, producer_user


@pytest.fixture
def register(session):
    """Five producers of the region (three authorised, one revoked), one outside, a regulator of each kind."""
    producers = [ProducerFactory() for _ in range(5)]
    for p in producers[:4]:
        DecisionFactory(producer_id=p.id, effective_date=date(2023, 1, 1))
    DecisionFactory(producer_id=producers[3].id, action="revoke", effective_date=date(2024, 6, 1), reason="不达标")
    for p, value in zip(producers, (300.0, 200.0, 100.0, 150.0, 250.0)):
        OutputFactory(producer_id=p.id, year=2024, output_value_yuan=value)
    outside = ProducerFactory(town_code="640521206")
    DecisionFactory(producer_id=outside.id)
    UserFactory(username="city")
    UserFactory(username="zn", county_code="640521")
    UserFactory(username="hy", county_code="640522")
    UserFactory(username="root", role="admin")
    producer_user(producers[0], "grower")
    session.commit()
    return producers


def _token(session, username):
    from sqlmodel import select

    from gi_trace.accounts.models import User
    user = session.exec(select(User).where(User.username == username)).one()
    _t, raw = create_token(session, user)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_dashboard_shows_both_shares_against_target_per_county_and_over_years(client, register):
    login(client, "city")
    response = client.get("/oversight/?product=zhongning-goji&year=2024")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "60.0%" in html  # user share 3/5 and the target
    assert html.count("<svg") == 2 and "<polyline" in html
    assert 'id="by-county"' in html and "中宁县" in html
    assert 'id="history"' in html and ">2020<" in html and ">2024<" in html
    assert "style=" not in html and not re.search(r"<script(?![^>]*\ssrc=)", html)  # no inline script
    # The tables count the mark's users; "授权使用者名录" (the public list's name) is the header's link only.
    tables = html[html.index('id="by-county"'):]
    assert "<th>专用标志使用者</th>" in tables and "授权使用者名录" not in tables


def test_dashboard_bad_year_is_shown_beside_the_field(client, register):
    login(client, "city")
    response = client.get("/oversight/?product=zhongning-goji&year=abc")
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)


def test_drilldown_lists_every_producer_with_its_reason(client, register):
    login(client, "city")
    # (the session fixture's request context pins the locale to Chinese in this test)
    html = client.get("/oversight/producers?product=zhongning-goji&year=2024").get_data(as_text=True)
    assert html.count("<tr>") - 1 == 6
    assert "不在保护范围乡镇内" in html and "当日在许可期内" in html
    only = client.get("/oversight/producers?product=zhongning-goji&year=2024&reason=not_authorised")
    assert only.get_data(as_text=True).count("<tr>") - 1 == 2


def test_producers_and_anonymous_users_cannot_reach_oversight(client, register):
    assert client.get("/oversight/").status_code == 302
    assert client.get("/oversight/producers").status_code == 302
    assert client.get("/api/v1/compliance?product=zhongning-goji&year=2024").status_code == 401
    login(client, "grower")
    assert client.get("/oversight/").status_code == 403
    assert client.get("/oversight/producers").status_code == 403


def test_producer_token_is_refused_by_the_compliance_api(client, session, register):
    response = client.get("/api/v1/compliance?product=zhongning-goji&year=2024", headers=_token(session, "grower"))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_compliance_api_matches_cli_json(client, runner, session, register):
    headers = _token(session, "city")
    response = client.get("/api/v1/compliance?product=zhongning-goji&year=2024", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["producers_total"], body["producers_authorised"], body["user_share"]) == (5, 3, 0.6)
    assert body["output_share"] == round(600 / 1000, 4) and body["user_share_met"] is True
    result = runner.invoke(args=["compliance", "--product", "zhongning-goji", "--year", "2024", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == body


def test_cli_as_of_and_errors(runner, register):
    result = runner.invoke(args=["compliance", "--product", "zhongning-goji", "--year", "2024", "--as-of",
                                 "2024-05-31", "--json"])
    assert json.loads(result.output)["producers_authorised"] == 4
    result = runner.invoke(args=["compliance", "--product", "zhongning-goji", "--year", "2024", "--as-of", "31.5."])
    assert result.exit_code != 0 and "as_of" in result.output
    table = runner.invoke(args=["compliance", "--product", "zhongning-goji", "--year", "2024"])
    assert table.exit_code == 0 and "60.00%" in table.output


@pytest.mark.parametrize("query, field", [
    ("product=nope&year=2024", "product"),
    ("product=zhongning-goji&year=x", "year"),
    ("product=zhongning-goji&year=2024&county=12", "county"),
    ("product=zhongning-goji&year=2024&as_of=yesterday", "as_of"),
    ("year=2024", "product"),
])
def test_compliance_api_errors_name_the_field(client, session, register, query, field):
    response = client.get(f"/api/v1/compliance?{query}", headers=_token(session, "city"))
    assert response.status_code in (404, 422)
    assert response.get_json()["error"]["field"] == field


def test_county_regulator_sees_only_its_county(client, session, register):
    other = ProducerFactory(town_code="640522100", county_code="640522")
    session.add(SectorTotal(product_id=goji(session).id, year=2024, county_code="640522", producers_total=40,
                            source="海原县"))
    session.commit()
    assert other.id
    headers = _token(session, "hy")
    body = client.get("/api/v1/compliance?product=zhongning-goji&year=2024", headers=headers).get_json()
    assert body["county_code"] == "640522" and body["producers_authorised"] == 0
    assert [row["county_code"] for row in body["by_county"]] == ["640522"]
    assert client.get("/api/v1/compliance?product=zhongning-goji&year=2024&county=640521",
                      headers=headers).status_code == 403
    drill = client.get("/api/v1/compliance/producers?product=zhongning-goji&year=2024", headers=headers).get_json()
    assert [row["producer_id"] for row in drill["rows"]] == [other.id]
    zn = client.get("/api/v1/compliance?product=zhongning-goji&year=2024", headers=_token(session, "zn")).get_json()
    assert zn["county_code"] == "640521" and zn["producers_total"] == 5
    login(client, "hy")
    assert client.get("/oversight/?product=zhongning-goji&year=2024&county=640521").status_code == 403
    html = client.get("/oversight/producers?product=zhongning-goji&year=2024").get_data(as_text=True)
    assert other.name in html and register[0].name not in html


def test_compliance_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/compliance"] and "get" in paths["/compliance/producers"]


def test_compliance_response_matches_its_openapi_schema(client, session, register):
    import jsonschema

    document = client.get("/api/v1/openapi.json").get_json()
    # The schema refers to the shapes it is made of (counties, sources): resolve them in the document.
    schema = {**document["components"]["schemas"]["Compliance"], "components": document["components"]}
    body = client.get("/api/v1/compliance?product=zhongning-goji&year=2024", headers=_token(session, "city")).get_json()
    jsonschema.validate(body, schema)
    error = client.get("/api/v1/compliance?product=zhongning-goji&year=x", headers=_token(session, "city")).get_json()
    jsonschema.validate(error, {**document["components"]["schemas"]["Error"], "components": document["components"]})


def test_dashboard_opens_on_the_latest_year_with_output(client, register):
    login(client, "city")
    html = client.get("/oversight/").get_data(as_text=True)
    assert 'name="year" inputmode="numeric" size="6" value="2024"' in html

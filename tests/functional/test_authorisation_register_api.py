"""The public register as JSON: authorised users on a date (paged) and a check by credit code."""
from __future__ import annotations

from datetime import date

from gi_trace.authorisation.models import AuthorisationDecision
from tests.factories import DecisionFactory, ProducerFactory, TrademarkFactory


def _world(session):
    firm = ProducerFactory(kind="enterprise", name="中宁县红宝枸杞有限公司")
    TrademarkFactory(producer_id=firm.id, name="红宝牌")
    session.add(AuthorisationDecision(producer_id=firm.id, product_id=1, action="approve",
                                      effective_date=date(2024, 3, 1), valid_until=date(2027, 2, 28),
                                      reference_no="中宁地标许字〔2024〕3号", notice_no="中宁县市场监管局公告〔2024〕1号",
                                      source="test"))
    household = ProducerFactory(kind="household", uscc=None, registry_no="ZW640521100-0001", name="王建国")
    DecisionFactory(producer_id=household.id, effective_date=date(2023, 1, 1))
    suspended = ProducerFactory()
    DecisionFactory(producer_id=suspended.id, effective_date=date(2023, 1, 1))
    DecisionFactory(producer_id=suspended.id, action="suspend", effective_date=date(2025, 6, 1), reason="x")
    session.commit()
    return firm, household, suspended


def test_authorised_users_on_a_date_paged_without_household_names(client, session):
    firm, household, suspended = _world(session)
    response = client.get("/api/v1/register/authorised-users?product=zhongning-goji&on=2025-07-01&limit=10")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 2 and {i["code"] for i in body["items"]} == {firm.uscc, "ZW640521100-0001"}
    item = next(i for i in body["items"] if i["code"] == firm.uscc)
    assert item["notice_no"] == "中宁县市场监管局公告〔2024〕1号" and item["until"] == "2027-02-28"
    assert item["scope"] == {"products": ["zhongning-goji"], "trademarks": ["红宝牌"]}
    assert "王建国" not in response.get_data(as_text=True)
    earlier = client.get("/api/v1/register/authorised-users?product=zhongning-goji&on=2025-05-01").get_json()
    assert earlier["total"] == 3  # the suspension took effect on 1 June
    page2 = client.get("/api/v1/register/authorised-users?product=zhongning-goji&on=2025-05-01&offset=2&limit=2")
    assert len(page2.get_json()["items"]) == 1
    other = client.get("/api/v1/register/authorised-users?product=zhongning-goji&county=640522").get_json()
    assert other["total"] == 0


def test_check_by_credit_code(client, session):
    firm, _household, suspended = _world(session)
    ok = client.get(f"/api/v1/register/check?uscc={firm.uscc.lower()}&product=zhongning-goji&on=2025-07-01")
    assert ok.status_code == 200
    assert ok.get_json() | {} == {"authorised": True, "status": "authorised", "since": "2024-03-01",
                                  "until": "2027-02-28", "uscc": firm.uscc, "gln": None,
                                  "product": "zhongning-goji", "on": "2025-07-01"}
    late = client.get(f"/api/v1/register/check?uscc={firm.uscc}&product=zhongning-goji&on=2027-03-01").get_json()
    assert (late["authorised"], late["status"]) == (False, "expired")
    off = client.get(f"/api/v1/register/check?uscc={suspended.uscc}&product=zhongning-goji&on=2025-07-01").get_json()
    assert (off["authorised"], off["status"], off["since"]) == (False, "suspended", "2025-06-01")
    unknown = client.get("/api/v1/register/check?uscc=912301847345944427&product=zhongning-goji").get_json()
    assert (unknown["authorised"], unknown["status"]) == (False, "not_registered")


def test_bad_parameters_are_clear_errors(client, session):
    for url, field in (("/api/v1/register/check?product=zhongning-goji", "uscc"),
                       ("/api/v1/register/check?uscc=123&product=zhongning-goji", "uscc"),
                       ("/api/v1/register/check?uscc=912301847345944427", "product"),
                       ("/api/v1/register/authorised-users?product=zhongning-goji&on=2025-13-01", "on"),
                       ("/api/v1/register/authorised-users?product=zhongning-goji&limit=0", "limit"),
                       ("/api/v1/register/authorised-users?product=zhongning-goji&county=999999", "county")):
        response = client.get(url)
        assert response.status_code == 422, url
        assert response.get_json()["error"]["field"] == field, url
    assert client.get("/api/v1/register/check?uscc=912301847345944427&product=nope").status_code == 404

"""Issue 14 item 5: a producer registers GTINs only under GS1 company prefixes a regulator recorded for it."""
from __future__ import annotations

import pytest
from sqlmodel import Session, select

from gi_trace.db import get_engine
from gi_trace.errors import Conflict, ValidationError
from gi_trace.registry import gs1_prefixes
from gi_trace.registry.models import CompanyPrefix
from gi_trace.tracing import gs1
from tests import factories
from tests.conftest import csrf_token, login


def gtin_under(prefix: str, item: int = 1) -> str:
    body = (prefix + str(item).zfill(12 - len(prefix)))[:12]
    return "0" + body + str(gs1.check_digit(body))


def _token(session, user) -> dict:
    from gi_trace.accounts.services import create_token

    _t, raw = create_token(session, user, "t")
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_a_producer_without_a_recorded_prefix_cannot_register_any_gtin(client, session):
    squatter = factories.producer_user(factories.authorised_producer())
    headers = _token(session, squatter)
    response = client.post("/api/v1/product-lines", json={"gtin": gtin_under("6901234"), "name": "抢注"},
                           headers=headers)
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == "gtin" and "厂商识别代码" in response.json["error"]["message"]


def test_gtins_register_only_under_the_producers_own_prefix(client, session):
    owner = factories.authorised_producer()
    factories.gs1_prefix(owner, "6901234")
    squatter = factories.authorised_producer()
    factories.gs1_prefix(squatter, "6909999")
    squat = factories.producer_user(squatter)
    mine = factories.producer_user(owner)
    session.commit()
    refused = client.post("/api/v1/product-lines", json={"gtin": gtin_under("6901234", 7), "name": "抢注"},
                          headers=_token(session, squat))
    assert refused.status_code == 422 and "6909999" in refused.json["error"]["message"]
    ok = client.post("/api/v1/product-lines", json={"gtin": gtin_under("6901234", 7), "name": "礼盒"},
                     headers=_token(session, mine))
    assert ok.status_code == 201


def test_prefix_rules_are_pure():
    assert gs1_prefixes.covers("6901234", "06901234000017")
    assert not gs1_prefixes.covers("6901234", "06901235000017")
    assert gs1_prefixes.covers("6901234", "16901234000014")  # indicator digit of a case GTIN-14
    assert gs1_prefixes.overlaps("690123", "6901234") and not gs1_prefixes.overlaps("690123", "690124")
    assert gs1_prefixes.prefix_problem("12345") and gs1_prefixes.prefix_problem("69O1234")
    assert gs1_prefixes.prefix_problem("6901234") is None


def test_a_regulator_records_a_prefix_on_the_producer_page(client, session):
    producer = factories.ProducerFactory()
    rival = factories.ProducerFactory()
    factories.gs1_prefix(rival, "6955555")
    factories.UserFactory(username="city", role="regulator")
    factories.UserFactory(username="other-county", role="regulator", county_code="640502")
    session.commit()
    login(client, "city")
    page = f"/producers/{producer.id}"
    assert "GS1" in client.get(page).get_data(as_text=True)
    response = client.post(f"{page}/gs1-prefixes", data={"csrf_token": csrf_token(client, page),
                                                         "gs1-company_prefix": "69555551"})
    assert response.status_code == 422 and "6955555" in response.get_data(as_text=True)  # overlaps the rival's
    response = client.post(f"{page}/gs1-prefixes", data={"csrf_token": csrf_token(client, page),
                                                         "gs1-company_prefix": "6901234"})
    assert response.status_code == 302
    session.expire_all()
    assert [p.prefix for p in gs1_prefixes.prefixes_of(session, producer.id)] == ["6901234"]
    with pytest.raises(Conflict):
        gs1_prefixes.add_prefix(session, session.exec(select(factories.User).where(
            factories.User.username == "city")).one(), rival, "6901234")


def test_prefix_import_is_all_or_nothing(runner, session, tmp_path):
    a = factories.ProducerFactory()
    b = factories.ProducerFactory()
    session.commit()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"producer,prefix\n{a.code},6901234\n{b.code},690123\nNOPE,6907777\n", encoding="utf-8")
    result = runner.invoke(args=["import", "gs1-prefixes", str(bad)])
    assert result.exit_code == 1
    assert "6901234" in result.output and "NOPE" in result.output  # the overlap and the unknown producer
    assert session.exec(select(CompanyPrefix)).all() == []
    good = tmp_path / "good.csv"
    good.write_text(f"producer,prefix\n{a.code},6901234\n{b.code},6907777\n", encoding="utf-8")
    result = runner.invoke(args=["import", "gs1-prefixes", str(good)])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert {(p.producer_id, p.prefix) for p in session.exec(select(CompanyPrefix)).all()} == {
        (a.id, "6901234"), (b.id, "6907777")}
    again = runner.invoke(args=["import", "gs1-prefixes", str(good)])
    assert again.exit_code == 0 and "新增 0，更新 0，未变 2" in again.output


def test_the_upload_page_offers_the_prefix_import(client, session):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    page = client.get("/import").get_data(as_text=True)
    assert "gs1-prefixes" in page


def test_the_demo_records_prefixes_for_its_firms(app, runner):
    assert runner.invoke(args=["demo-data", "--producers", "60"]).exit_code == 0
    with Session(get_engine(app)) as session:
        from gi_trace.accounts.models import User

        producer_account = session.exec(select(User).where(User.username == "producer")).one()
        prefixes = gs1_prefixes.prefixes_of(session, producer_account.producer_id)
        assert prefixes
        with pytest.raises(ValidationError):  # still refused outside its prefix
            gs1_prefixes.require_gtin_under_prefix(session, producer_account.producer_id, gtin_under("6900001"))
        gs1_prefixes.require_gtin_under_prefix(session, producer_account.producer_id, gtin_under(prefixes[0].prefix))

"""Picking a producer without knowing its code: search by name, code, town or phone."""
from __future__ import annotations

from tests.conftest import login
from tests.factories import ProducerFactory, UserFactory


def test_search_by_name_code_town_and_phone_within_the_county(client, session):
    firm = ProducerFactory(name="中宁县杞乡红枸杞合作社", contact_phone="13900001111", town_code="640521201")
    ProducerFactory(name="海原县某合作社", county_code="640522", town_code="640522100")
    UserFactory(username="zn", county_code="640521")
    UserFactory(username="city")
    session.commit()
    login(client, "zn")
    for q in ("杞乡红", firm.uscc[:8], "白马", "0000111"):
        rows = client.get(f"/producers/search.json?q={q}").get_json()
        assert [r["code"] for r in rows] == [firm.uscc], q
        assert "白马乡" in rows[0]["label"]
    assert client.get("/producers/search.json?q=海原县某").get_json() == []  # another county
    assert client.get("/producers/search.json?q=").get_json() == []
    page = client.get("/oversight/inspections").get_data(as_text=True)
    assert 'data-producer-search="/producers/search.json"' in page and "js/producer-search.js" in page
    client.get("/logout")


def test_search_is_for_regulators(client, session):
    assert client.get("/producers/search.json?q=x").status_code in (302, 401, 403)

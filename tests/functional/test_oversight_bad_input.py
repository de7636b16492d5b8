"""No input a regulator can send to the oversight pages and API produces a 500."""
from __future__ import annotations

import pytest

from tests.conftest import login
from tests.factories import DecisionFactory, ProducerFactory, UserFactory

JUNK = ["", "0", "-1", "abc", "2025-02-30", "9" * 30, "<script>", "%00", "zhongning-goji", "640521", "2025"]
PAGES = ["/oversight/", "/oversight/producers", "/oversight/inspections", "/oversight/complaints",
         "/oversight/anomalies", "/oversight/recall", "/oversight/reports/annual.zip",
         "/oversight/reports/annual.html"]
PARAMS = ["product", "year", "county", "as_of", "page", "reason", "status", "result", "kind", "code"]


@pytest.fixture
def city(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    UserFactory(username="city")
    session.commit()


@pytest.mark.parametrize("path", PAGES)
def test_junk_query_strings_never_give_a_server_error(client, city, path):
    login(client, "city")
    for name in PARAMS:
        for value in JUNK:
            response = client.get(path, query_string={name: value, "year": "2025"} if name != "year"
                                  else {name: value})
            assert response.status_code < 500, (path, name, value)


def test_junk_api_parameters_answer_json_errors(client, session, city):
    from sqlmodel import select

    from gi_trace.accounts.models import User
    from gi_trace.accounts.services import create_token

    user = session.exec(select(User).where(User.username == "city")).one()
    _t, raw = create_token(session, user)
    session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    for path in ("/api/v1/compliance", "/api/v1/compliance/producers"):
        for name in PARAMS + ["offset", "limit"]:
            for value in JUNK:
                query = {"product": "zhongning-goji", "year": "2025", name: value}
                response = client.get(path, query_string=query, headers=headers)
                assert response.status_code < 500, (path, name, value)
                if response.status_code >= 400:
                    assert response.is_json and "field" in response.get_json()["error"]

"""Junk in every query parameter the app reads, on every page and API GET, as every kind of user.

Values: huge and negative numbers, NUL and control characters, overlong text, wrong types, odd
dates. The answer may be 200, a redirect, 4xx; never a 500.
"""
from __future__ import annotations

import itertools

import pytest

from tests.security import world as seed
from tests.security.test_security_access_matrix import _routes, _url

# Every name the views read from request.args (grep request.args in gi_trace/).
NAMES = ("as_of", "category", "code", "corrects", "count", "county", "direction", "kind", "lang", "limit", "next",
         "offset", "page", "producer", "product", "reason", "result", "scope", "start", "status", "year", "q", "fmt")
JUNK = ("99999999999999999999999", "-1", "0", "1e309", "NaN", "abc", "\x00", "%00", "2025-02-30", "0001-01-01",
        "9999-12-31", "x" * 5000, "[]", "{'a':1}", "../../etc/passwd", "<script>alert(1)</script>", "中宁县", " ")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": False}


@pytest.mark.parametrize("actor", ["anonymous", "producer_a", "regulator_other", "admin"])
def test_junk_query_parameters_never_cause_a_server_error(app, session, actor):
    world = seed.build(session)
    client = app.test_client()
    headers = {}
    if actor != "anonymous":
        client.post("/login", data={"username": world.users[actor].username, "password": "password123"})
        headers = {"Authorization": f"Bearer {world.tokens[actor]}"}
    junk = itertools.cycle(JUNK)
    failures = []
    for rule, method in _routes(app):
        if method != "GET" or rule.endpoint == "static":
            continue
        url = _url(app, rule, world)
        for _ in range(3):  # every name gets a different junk value each round
            query = {name: next(junk) for name in NAMES}
            response = client.get(url, query_string=query, headers=headers if url.startswith("/api/") else {})
            response.close()
            if response.status_code >= 500:
                failures.append(f"GET {url} {query}")
    assert not failures, "\n".join(failures[:10])


@pytest.mark.parametrize("method,url,kwargs,status", [
    ("GET", "/products/zhongning%00goji", {}, 404),
    ("GET", "/oversight/?product=%00", {}, None),
    ("GET", "/api/v1/compliance?product=zhongning-goji&year=2025&county=%00", {}, None),
    ("GET", "/api/v1/batches?limit=1%00", {}, None),
    ("POST", "/api/v1/batches", {"json": {"product": "x\u0000", "cultivar": "宁杞7号"}}, 422),
    ("POST", "/api/v1/batches", {"json": {"data": {"nested": ["\u0000"]}}}, 422),
    ("POST", "/producers/new", {"data": {"name": "合作社\x00", "uscc": "x"}}, 422),
])
def test_nul_characters_are_refused_before_any_view(app, session, method, url, kwargs, status):
    """PostgreSQL text cannot hold NUL: never a DataError (500). Bodies holding one are refused (422)."""
    world = seed.build(session)
    client = app.test_client()
    client.post("/login", data={"username": "admin1", "password": "password123"})
    token = world.tokens["producer_a"] if method == "POST" and url.startswith("/api/") else world.tokens["admin"]
    response = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    if status is None:  # query parameters lose the NUL; the view judges the rest
        assert response.status_code < 500
        return
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if url.startswith("/api/"):
        assert response.json["error"]["field"]

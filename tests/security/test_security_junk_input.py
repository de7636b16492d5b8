"""Junk in every query parameter the app reads, on every page and API GET, as every kind of user.

Values: huge and negative numbers, NUL and control characters, overlong text, wrong types, odd
dates. The answer may be 200, a redirect, 4xx; never a 500.
"""
from __future__ import annotations

import itertools
from html.parser import HTMLParser
from urllib.parse import urljoin

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


class _Forms(HTMLParser):
    """The POST forms of a page: action and the names of the fields a person types or picks in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "post": (a.get("method") or "").lower() == "post",
                          "typed": [], "fixed": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            kind = a.get("type", "text") if tag == "input" else tag
            if kind in ("hidden", "select", "checkbox", "radio"):
                self._form["fixed"].setdefault(a["name"], a.get("value", ""))
            elif kind not in ("submit", "button", "file"):
                self._form["typed"].append(a["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


# What a person may type into a number, date or text box (browsers send "NaN" and "1e309" from text boxes).
FORM_JUNK = ("NaN", "inf", "1e309", "-1", "99999999999999999999999", "abc", "")


@pytest.mark.parametrize("role", ["producer", "regulator"])
def test_junk_in_every_form_field_never_causes_a_server_error(app, role):
    """Every POST form of the portal, each typed field filled with the same junk: refused beside the field,
    never a 500 (a view must not compute with a value before the form has checked it)."""
    from tests.ui import walk

    world = walk.seeded_world(app)
    client = app.test_client()
    user = world.users["producer_a" if role == "producer" else "regulator_city"]
    client.post("/login", data={"username": user.username, "password": "password123"})
    failures, posted = [], 0
    for url in walk.portal_urls(app, world, role):
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            action = urljoin(url, form["action"] or url)
            if not form["post"] or not form["typed"] or action.startswith(("/logout", "/login")):
                continue
            for value in FORM_JUNK:
                data = {**form["fixed"], **{name: value for name in form["typed"]}}
                posted += 1
                try:  # the test app raises what a served one answers with a 500
                    answer = client.post(action, data=data)
                    status = answer.status_code
                except Exception as exc:  # noqa: BLE001 - collected: every failing form at once
                    status = f"500 ({type(exc).__name__}: {exc})"
                if not isinstance(status, int) or status >= 500:
                    failures.append(f"POST {action} (form of {url}) every field {value!r}: {status}")
                elif answer.mimetype == "text/html" and not 300 <= status < 400:  # words, not codes
                    text = walk.visible_text(answer.get_data(as_text=True))
                    failures += [f"POST {action} every field {value!r}: {problem}"
                                 for problem in walk.problems(text, "zh")
                                 if not any(name in problem for name in world.usernames)]
    assert posted > 50
    assert not failures, "\n".join(failures)

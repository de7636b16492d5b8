"""Security headers on every kind of response, session cookie settings, upload limits.

The access matrix already checks the headers on every route x actor; this module covers the
responses it cannot reach: unknown URLs, wrong methods, static files, the scan page's redirect,
not-found and withdrawn answers, 413, 429 and an unexpected error (500).
"""
from __future__ import annotations

import io

import pytest

from gi_trace.access import PUBLIC, access
from tests.conftest import csrf_token, login
from tests.factories import UserFactory
from tests.security import world as seed
from tests.security.headers import csp_directives, header_problems, html_problems


def _assert_secure(response, what: str):
    problems = header_problems(response) + html_problems(response)
    assert not problems, f"{what} ({response.status_code}): {problems}"


def test_csp_allows_no_inline_script_and_no_framing(client):
    d = csp_directives(client.get("/").headers["Content-Security-Policy"])
    assert d["script-src"] == ["'self'"]
    assert d["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in d.get("style-src", d["default-src"])


def test_every_kind_of_response_carries_the_security_headers(app, session):
    world = seed.build(session)
    client = app.test_client()
    lower = world.lot.code.lower()
    cases = {
        "home page": ("GET", "/", {}),
        "login page": ("GET", "/login", {}),
        "redirect to login": ("GET", "/batches", {}),
        "unknown page": ("GET", "/no/such/page", {}),
        "unknown API path": ("GET", "/api/v1/no-such", {}),
        "wrong method": ("DELETE", "/login", {}),
        "wrong API method": ("DELETE", "/api/v1/batches", {}),
        "API without token": ("GET", "/api/v1/me", {}),
        "API with a bad token": ("GET", "/api/v1/me", {"headers": {"Authorization": "Bearer gt_nope"}}),
        "API document": ("GET", "/api/v1/openapi.json", {}),
        "API invalid body": ("POST", "/api/v1/batches",
                             {"headers": {"Authorization": f"Bearer {world.tokens['producer_a']}"}, "data": "x"}),
        "static file": ("GET", "/static/css/app.css", {}),
        "missing static file": ("GET", "/static/css/none.css", {}),
        "favicon": ("GET", "/favicon.ico", {}),
        "health check": ("GET", "/healthz", {}),
        "scan page": ("GET", f"/t/{world.lot.code}", {}),
        "scan page redirect (lower case)": ("GET", f"/t/{lower}", {}),
        "scan page, mistyped code": ("GET", "/t/AAAA-BBBB-CCCC-DD", {}),
        "scan QR image": ("GET", f"/t/{world.lot.code}/qr.svg", {}),
        "verify form": ("GET", "/verify?code=x", {}),
        "complaint form": ("GET", f"/report?code={world.lot.code}", {}),
        "complaint without CSRF": ("POST", "/report", {"data": {"text": "x"}}),
        "digital link": ("GET", f"/01/{world.line.gtin14}/10/{world.lot.producer_lot}", {}),
    }
    for what, (method, url, kwargs) in cases.items():
        response = client.open(url, method=method, **kwargs)
        assert response.status_code < 500, (what, response.status_code)
        _assert_secure(response, what)
        response.close()


def test_withdrawn_batch_page_carries_the_headers(app, session):
    from gi_trace.tracing import services

    world = seed.build(session)
    services.withdraw(session, world.users["producer_a"], world.lot, "抽检不合格")
    session.commit()
    response = app.test_client().get(f"/t/{world.lot.code}")
    assert response.status_code == 410
    _assert_secure(response, "withdrawn")


class TestUnexpectedError:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TESTING": False, "PROPAGATE_EXCEPTIONS": False}

    @pytest.fixture
    def app(self, app):
        def boom():
            raise RuntimeError("secret detail")

        app.add_url_rule("/boom-for-test", "boom", access(PUBLIC)(boom))
        app.add_url_rule("/api/v1/boom-for-test", "api_boom", access(PUBLIC)(boom))
        return app

    def test_500_page_and_json_carry_headers_and_no_detail(self, app, caplog):
        client = app.test_client()
        for url in ("/boom-for-test", "/api/v1/boom-for-test"):
            response = client.get(url)
            assert response.status_code == 500
            _assert_secure(response, url)
            assert "secret detail" not in response.get_data(as_text=True)
            assert "Traceback" not in response.get_data(as_text=True)
        assert client.get("/api/v1/boom-for-test").json["error"]["code"] == "internal"


# --- session cookie ------------------------------------------------------------------------

def _session_cookie(response) -> str:
    cookies = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client, session):
    UserFactory(username="city", role="regulator")
    session.commit()
    cookie = _session_cookie(login(client, "city"))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"
    assert "secure" not in attributes  # plain http in tests; see the next test for production


class TestSecureCookieFromEnvironment:
    @pytest.fixture
    def app_config(self, app_config, monkeypatch):
        monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")  # read by gi_trace.config.load_config
        return app_config

    def test_session_cookie_secure_when_configured(self, app, client, session):
        assert app.config["SESSION_COOKIE_SECURE"] is True
        UserFactory(username="city", role="regulator")
        session.commit()
        token = csrf_token(client, "/login")
        response = client.post("/login", data={"username": "city", "password": "password123", "csrf_token": token})
        assert response.status_code == 302
        assert "secure" in [p.strip().lower() for p in _session_cookie(response).split(";")]


def test_anonymous_scan_sets_no_cookie(app, session):
    world = seed.build(session)
    response = app.test_client().get(f"/t/{world.lot.code}")
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []


# --- upload size and type ---------------------------------------------------------------------

class TestRequestTooLarge:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "MAX_CONTENT_LENGTH": 4096}

    def test_oversized_api_body_is_a_json_413(self, app, session):
        world = seed.build(session)
        response = app.test_client().post(
            f"/api/v1/batches/{world.lot.code}/events", data=b"{" + b" " * 10_000 + b"}",
            headers={"Authorization": f"Bearer {world.tokens['producer_a']}", "Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.json["error"]["code"] == "request_entity_too_large"
        _assert_secure(response, "API 413")

    def test_oversized_form_upload_is_a_413_page(self, app, session):
        seed.build(session)
        client = app.test_client()
        login(client, "reg_city")
        token = csrf_token(client, "/import")
        response = client.post("/import", data={"csrf_token": token, "kind": "producers",
                                                "file": (io.BytesIO(b"x" * 10_000), "big.csv")},
                               content_type="multipart/form-data")
        assert response.status_code == 413
        assert response.mimetype == "text/html"
        _assert_secure(response, "page 413")


@pytest.mark.parametrize("filename,body", [("evil.html", b"<script>alert(1)</script>"),
                                           ("data.xlsx", b"MZ\x90\x00 not a workbook"),
                                           ("data.csv", b"\x00\x01\x02\xff\xfe binary")])
def test_import_refuses_files_that_are_not_spreadsheets(app, session, filename, body):
    seed.build(session)
    client = app.test_client()
    login(client, "reg_city")
    token = csrf_token(client, "/import")
    response = client.post("/import", data={"csrf_token": token, "kind": "producers",
                                            "file": (io.BytesIO(body), filename)},
                           content_type="multipart/form-data")
    assert response.status_code in (400, 422), response.status_code
    assert 'class="field has-error"' in response.get_data(as_text=True)


def test_the_header_check_itself_catches_a_bare_or_weak_response():
    from flask import Response

    bare = Response("x", mimetype="text/html")
    assert len(header_problems(bare)) >= 4
    weak = Response("<p style=\"color:red\" onclick=\"x()\"><script>x()</script>", mimetype="text/html", headers={
        "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'",
        "X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "unsafe-url"})
    problems = " ".join(header_problems(weak))
    assert "script-src" in problems and "framing" in problems and "Referrer-Policy" in problems
    assert len(html_problems(weak)) == 3


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example/x",
                                    "/\t/evil.example", "javascript:alert(1)", "http:evil.example"])
def test_login_never_redirects_off_site(app, session, target):
    from urllib.parse import urlsplit

    UserFactory(username="city", role="regulator")
    session.commit()
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post("/login", query_string={"next": target},
                           data={"username": "city", "password": "password123", "csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//")
    assert "\\" not in location

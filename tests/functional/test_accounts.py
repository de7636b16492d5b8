"""Login, logout, CSRF, API tokens and the deny-by-default access rule."""
import pytest

from gi_trace.access import access_rule_of
from tests import factories
from tests.conftest import csrf_token, login


def test_every_route_declares_who_may_call_it(app):
    undeclared = [name for name, view in app.view_functions.items() if access_rule_of(view) is None]
    assert undeclared == []


def test_login_with_right_password_then_logout(client, session):
    factories.UserFactory(username="zhang", role="regulator")
    session.commit()
    login(client, "zhang")
    page = client.get("/account/tokens")
    assert page.status_code == 200
    token = csrf_token(client, "/account/tokens")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account/tokens").status_code == 302


def test_wrong_password_shows_error_beside_field(client, session):
    factories.UserFactory(username="li")
    session.commit()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "li", "password": "nope-nope", "csrf_token": token})
    assert response.status_code == 400
    assert "field-error" in response.get_data(as_text=True)


def test_inactive_user_cannot_log_in(client, session):
    factories.UserFactory(username="gone", is_active=False)
    session.commit()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "gone", "password": "password123", "csrf_token": token})
    assert response.status_code == 400


def test_post_without_csrf_token_is_refused(client, session):
    factories.UserFactory(username="wang")
    session.commit()
    response = client.post("/login", data={"username": "wang", "password": "password123"})
    assert response.status_code in (400, 302)
    assert client.get("/account/tokens").status_code == 302  # not logged in


def test_login_redirect_ignores_foreign_next(client, session):
    factories.UserFactory(username="zhao")
    session.commit()
    token = csrf_token(client, "/login")
    response = client.post("/login?next=https://evil.example/", data={
        "username": "zhao", "password": "password123", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_anonymous_is_sent_to_login_from_private_pages(client):
    response = client.get("/account/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_api_token_is_shown_once_and_stored_hashed(client, session):
    from sqlmodel import select

    from gi_trace.accounts.models import ApiToken

    factories.UserFactory(username="api-user")
    session.commit()
    login(client, "api-user")
    token = csrf_token(client, "/account/tokens")
    page = client.post("/account/tokens", data={"name": "erp", "csrf_token": token}).get_data(as_text=True)
    import re

    raw = re.search(r'<code class="token">(gt_[^<]+)</code>', page).group(1)
    stored = session.exec(select(ApiToken)).one()
    assert raw not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    # the raw token authenticates an API call; a wrong one, a revoked one, or the cookie alone does not
    fresh = client.application.test_client()
    me = fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.json["username"] == "api-user"
    assert fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}x"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401  # the login cookie never drives the API
    token = csrf_token(client, "/account/tokens")
    client.post(f"/account/tokens/{stored.id}/revoke", data={"csrf_token": token})
    assert fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_security_headers_on_pages(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_chinese_by_default_english_on_request(client):
    assert "登录" in client.get("/").get_data(as_text=True)
    english = client.get("/?lang=en")
    assert "Log in" in english.get_data(as_text=True)
    assert "lang=en" in english.headers.get("Set-Cookie", "")
    assert "Log in" in client.get("/").get_data(as_text=True)  # remembered


class TestLoginRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_too_many_login_attempts_get_429(self, client):
        token = csrf_token(client, "/login")
        codes = [client.post("/login", data={"username": "x", "password": "wrongwrong", "csrf_token": token}
                             ).status_code for _ in range(5)]
        assert codes[:3] == [400, 400, 400]
        assert codes[3:] == [429, 429]


class TestApiRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"}

    def test_each_token_has_its_own_budget_and_429_is_json(self, client, session):
        from gi_trace.accounts.services import create_token

        a = factories.UserFactory(username="client-a")
        b = factories.UserFactory(username="client-b")
        _, raw_a = create_token(session, a)
        _, raw_b = create_token(session, b)
        session.commit()
        codes = [client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw_a}"}).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw_a}"})
        assert limited.json["error"]["code"] == "too_many_requests"
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw_b}"}).status_code == 200

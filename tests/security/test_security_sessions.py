"""Issue 14 item 9: sessions end on logout, API tokens expire, login time does not reveal accounts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from gi_trace.accounts import services as accounts
from gi_trace.accounts.models import ApiToken
from gi_trace.types import utcnow
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def db(app):
    """A session with NO app context pushed: the `session` fixture's context would be shared by every
    request of the test, and Flask-Login caches the current user in its `g`, which would hide the very
    thing these tests check. Here each request gets its own context, as in production."""
    from sqlmodel import Session

    from gi_trace.db import get_engine

    with Session(get_engine(app), expire_on_commit=False) as s:
        factories.bind(s)
        yield s
        factories.bind(None)


_login = login


def _copy_of_session_cookie(client, app):
    """A second browser holding a copy of the client's session cookie (as a thief would)."""
    stolen = client.get_cookie("session").value
    other = app.test_client()
    other.set_cookie("session", stolen)
    return other


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, client, db):
    factories.UserFactory(username="zhang", role="regulator")
    db.commit()
    login(client, "zhang")
    thief = _copy_of_session_cookie(client, app)
    assert thief.get("/account/tokens").status_code == 200  # the copy works while the session lives
    out = client.post("/logout", data={"csrf_token": csrf_token(client, "/account/tokens")})
    assert out.status_code == 302, out.get_data(as_text=True)
    refused = thief.get("/account/tokens")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    again = app.test_client()
    _login(again, "zhang")
    assert again.get("/account/tokens").status_code == 200
    assert thief.get("/account/tokens").status_code == 302


def test_log_out_everywhere_ends_other_sessions_and_keeps_this_one(app, client, db):
    factories.UserFactory(username="li", role="producer", producer=factories.ProducerFactory())
    db.commit()
    login(client, "li")
    phone = app.test_client()
    _login(phone, "li")
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "/account/logout-everywhere" in page
    response = client.post("/account/logout-everywhere", data={"csrf_token": csrf_token(client, "/account/tokens")})
    assert response.status_code == 302
    assert phone.get("/account/tokens").status_code == 302
    assert client.get("/account/tokens").status_code == 200


def test_a_deactivated_users_session_ends(app, client, db):
    user = factories.UserFactory(username="wang", role="regulator")
    db.commit()
    login(client, "wang")
    user.is_active = False
    db.commit()
    assert client.get("/account/tokens").status_code == 302


def test_api_tokens_expire_after_the_configured_lifetime(client, session):
    user = factories.UserFactory(username="erp")
    token, raw = accounts.create_token(session, user, "erp")
    session.commit()
    lifetime = token.expires_at - utcnow()
    assert timedelta(days=89) < lifetime <= timedelta(days=90)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert refused.status_code == 401


class TestConfiguredLifetime:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "API_TOKEN_LIFETIME_DAYS": 7}

    def test_tokens_made_on_the_page_live_as_configured(self, client, session):
        factories.UserFactory(username="short")
        session.commit()
        login(client, "short")
        page = client.post("/account/tokens", data={"name": "x", "csrf_token": csrf_token(client, "/account/tokens")})
        assert page.status_code == 200
        session.expire_all()
        token = session.exec(select(ApiToken)).one()
        assert timedelta(days=6) < token.expires_at - utcnow() <= timedelta(days=7)


def test_tokens_list_and_revoke_on_the_command_line(runner, client, session):
    user = factories.UserFactory(username="cli-user")
    token, raw = accounts.create_token(session, user, "erp-link")
    session.commit()
    listed = runner.invoke(args=["tokens", "list"])
    assert listed.exit_code == 0, listed.output
    assert "cli-user" in listed.output and "erp-link" in listed.output and token.prefix in listed.output
    assert raw not in listed.output and "active" in listed.output
    revoked = runner.invoke(args=["tokens", "revoke", str(token.id)])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list", "--user", "cli-user"]).output
    missing = runner.invoke(args=["tokens", "revoke", "99999"])
    assert missing.exit_code != 0 and "No such token" in missing.output


@pytest.mark.parametrize("case", ["unknown", "inactive", "wrong password", "right password"])
def test_every_login_checks_exactly_one_password_hash(case, session, monkeypatch):
    """Unknown, inactive and wrong-password logins cost the same hash check as a real one."""
    factories.UserFactory(username="active")
    factories.UserFactory(username="dormant", is_active=False)
    session.commit()
    calls = []
    real = accounts.check_password_hash

    def counting(pwhash, password):
        calls.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    username, password = {"unknown": ("nobody", "password123"), "inactive": ("dormant", "password123"),
                          "wrong password": ("active", "wrong-one!"),
                          "right password": ("active", "password123")}[case]
    user = accounts.authenticate(session, username, password)
    assert len(calls) == 1
    assert (user is not None) == (case == "right password")


"""Rate limits per network: the scan page, guessed API tokens, login and complaints.

Login (tests/functional/test_accounts.py), the per-token API budget (same file) and complaints
(tests/functional/test_scan_report.py) have their own tests; here: the scan page's per-network
limit and the refused-token budget, both counted per /24 (IPv4) so that one NAT is one client.
"""
from __future__ import annotations

import pytest
from limits import parse_many

from tests.security import world as seed
from tests.security.headers import header_problems

SHOPPER = "198.51.100.7"
NEIGHBOUR = "198.51.100.200"  # the same /24: the same market hall behind one NAT
ELSEWHERE = "203.0.113.9"


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


class TestScanPageLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "SCAN_PAGE_RATE_LIMIT": "5 per minute"}

    def test_scan_page_is_limited_per_network_not_per_address(self, app, session):
        world = seed.build(session)
        client = app.test_client()
        url = f"/t/{world.lot.code}"
        assert [client.get(url, **_from(SHOPPER)).status_code for _ in range(3)] == [200] * 3
        assert [client.get(url, **_from(NEIGHBOUR)).status_code for _ in range(2)] == [200] * 2
        refused = client.get(url, **_from(NEIGHBOUR))
        assert refused.status_code == 429
        assert refused.mimetype == "text/html" and "Retry-After" in refused.headers
        assert not header_problems(refused)
        assert client.get(url, **_from(SHOPPER)).status_code == 429
        assert client.get(url, **_from(ELSEWHERE)).status_code == 200  # another network has its own budget

    def test_loopback_is_not_limited(self, app, session):
        """The benchmark and local probes talk to the server from this machine."""
        world = seed.build(session)
        client = app.test_client()
        statuses = {client.get(f"/t/{world.lot.code}", **_from("127.0.0.1")).status_code for _ in range(8)}
        assert statuses == {200}


def test_default_scan_limit_serves_a_market_hall_behind_one_nat(app):
    from gi_trace.scan.views import _page_limit

    with app.app_context():
        limits = parse_many(_page_limit())
    per_minute = min(item.amount * 60 / item.get_expiry() for item in limits)
    assert per_minute >= 300  # e.g. 150 shoppers scanning two packages a minute


class TestRefusedTokenBudget:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "API_AUTH_FAILURE_LIMIT": "3 per minute",
                "API_RATE_LIMIT": "100 per minute"}

    def test_guessing_tokens_is_limited_per_network(self, app, session):
        world = seed.build(session)
        client = app.test_client()
        guesses = [client.get("/api/v1/me", headers={"Authorization": f"Bearer gt_guess{i}"}, **_from(SHOPPER))
                   for i in range(4)]
        assert [r.status_code for r in guesses] == [401, 401, 401, 429]
        assert guesses[-1].json["error"]["code"] == "too_many_requests"
        good = {"Authorization": f"Bearer {world.tokens['producer_a']}"}
        # the network waits, even with a good token; another network does not
        assert client.get("/api/v1/me", headers=good, **_from(NEIGHBOUR)).status_code == 429
        assert client.get("/api/v1/me", headers=good, **_from(ELSEWHERE)).status_code == 200

    def test_valid_tokens_do_not_use_the_refused_budget(self, app, session):
        world = seed.build(session)
        client = app.test_client()
        good = {"Authorization": f"Bearer {world.tokens['producer_a']}"}
        assert {client.get("/api/v1/me", headers=good, **_from(SHOPPER)).status_code for _ in range(10)} == {200}


def test_limits_are_configurable_from_the_environment(monkeypatch, tmp_path):
    from gi_trace.config import load_config

    monkeypatch.setenv("SCAN_PAGE_RATE_LIMIT", "2000 per minute")
    monkeypatch.setenv("API_AUTH_FAILURE_LIMIT", "30 per minute")
    monkeypatch.setenv("SECRET_KEY", "x")
    config = load_config(tmp_path)
    assert (config["SCAN_PAGE_RATE_LIMIT"], config["API_AUTH_FAILURE_LIMIT"]) == ("2000 per minute", "30 per minute")


LOAD_BALANCER = "10.0.0.5"


class TestBehindALoadBalancer:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "SCAN_PAGE_RATE_LIMIT": "2 per minute", "PROXY_HOPS": 1}

    def test_each_client_network_has_its_own_budget(self, app, session):
        world = seed.build(session)
        client = app.test_client()
        url = f"/t/{world.lot.code}"

        def scan(client_address):
            return client.get(url, headers={"X-Forwarded-For": client_address}, **_from(LOAD_BALANCER)).status_code

        assert [scan(SHOPPER), scan(SHOPPER), scan(SHOPPER)] == [200, 200, 429]
        assert scan(ELSEWHERE) == 200
        # a client cannot pick its own address: the balancer appends the real one, and only that is trusted
        assert scan(f"{ELSEWHERE}, {SHOPPER}") == 429


class TestWithoutTrustedProxies:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "SCAN_PAGE_RATE_LIMIT": "2 per minute"}

    def test_forwarded_for_is_ignored(self, app, session):
        world = seed.build(session)
        client = app.test_client()
        statuses = [client.get(f"/t/{world.lot.code}", headers={"X-Forwarded-For": f"203.0.{i}.1"},
                               **_from(SHOPPER)).status_code for i in range(3)]
        assert statuses == [200, 200, 429]


class TestApiLimitIsDocumented:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "1 per minute"}

    def test_429_is_json_and_in_the_document_of_every_operation(self, app, session):
        world = seed.build(session)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        refused = client.get("/api/v1/me", headers=headers)
        assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_requests"
        document = client.get("/api/v1/openapi.json").json
        for path, ops in document["paths"].items():
            for method, op in ops.items():
                assert "429" in op["responses"], (method, path)
                if "requestBody" in op:
                    assert "413" in op["responses"], (method, path)


class TestIpv6Rotation:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_login_attempts_count_per_ipv6_subscriber_network(self, app, session):
        """One IPv6 subscriber has a prefix to rotate through: the budget is its network's (/48, as everywhere)."""
        from tests.conftest import csrf_token

        client = app.test_client()
        form = {"username": "nobody", "password": "wrong-password", "csrf_token": csrf_token(client, "/login")}
        statuses = [client.post("/login", data=form,
                                **_from(f"2001:db8:1:{i:x}::1")).status_code for i in range(1, 5)]
        assert statuses[3] == 429 and 429 not in statuses[:3]
        other = client.post("/login", data=form, **_from("2001:db8:2::1"))
        assert other.status_code != 429
        ipv4 = [client.post("/login", data=form, **_from(f"198.51.100.{i}")).status_code for i in range(1, 5)]
        assert 429 not in ipv4  # IPv4 addresses stay separate clients (a NAT is already one address)

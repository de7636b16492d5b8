"""What README "Running at city scale" says, exercised: several app servers share nothing but the
database, the SECRET_KEY and (for rate limits) Redis; upgrade, serve, back up and verify from the
command line."""
from __future__ import annotations

import os
import secrets
import urllib.error
import urllib.request

import pytest

from gi_trace import create_app
from gi_trace.accounts.services import create_token
from gi_trace.db import get_engine
from tests import factories
from tests.conftest import login
from tests.reliability.processes import Gunicorn, flask, process_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_reachable() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def _two_servers_statuses(session, database_url, tmp_path, storage: str) -> list[int]:
    """Four API calls on each of two gunicorn servers with one token, 6 allowed per minute."""
    user = factories.UserFactory(role="regulator")
    _token, raw = create_token(session, user, "scale")  # a fresh token: fresh counters in a shared store
    session.commit()
    env = process_env(database_url, tmp_path / "instance", RATELIMIT_ENABLED="1", API_RATE_LIMIT="6 per minute",
                      RATELIMIT_STORAGE_URI=storage)
    servers = []
    try:
        servers = [Gunicorn(env, workers=1), Gunicorn(env, workers=1)]
        return [_get(f"{server.url}/api/v1/me", raw) for _ in range(4) for server in servers]
    finally:
        for server in servers:
            server.stop()


@pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis server at {REDIS_URL} (or no redis package)")
def test_two_app_servers_count_rate_limits_together_in_redis(session, database_url, tmp_path):
    statuses = _two_servers_statuses(session, database_url, tmp_path, REDIS_URL)
    assert statuses == [200] * 6 + [429] * 2


def test_with_memory_storage_each_app_server_counts_alone(session, database_url, tmp_path):
    # Why several servers need a shared store: in memory each one allows the full budget.
    statuses = _two_servers_statuses(session, database_url, tmp_path, "memory://")
    assert statuses == [200] * 8


def test_app_instances_with_the_same_secret_key_accept_each_others_session(app, session, app_config):
    factories.UserFactory(username="cityreg", role="regulator")
    session.commit()
    client = app.test_client()
    login(client, "cityreg")
    cookie = client.get_cookie("session")
    assert cookie is not None
    twin = create_app(app_config)  # another server with the same SECRET_KEY
    other = create_app({**app_config, "SECRET_KEY": secrets.token_hex(16)})
    try:
        same = twin.test_client()
        same.set_cookie("session", cookie.value)
        assert same.get("/account/tokens").status_code == 200
        stranger = other.test_client()
        stranger.set_cookie("session", cookie.value)
        assert stranger.get("/account/tokens").status_code in (302, 401, 403)
    finally:
        get_engine(twin).dispose()
        get_engine(other).dispose()




def test_upgrade_serve_with_several_workers_back_up_and_verify_from_the_command_line(empty_database_url, tmp_path):
    env = process_env(empty_database_url, tmp_path / "instance")
    for _ in range(2):  # upgrading an up-to-date database changes nothing
        upgraded = flask(env, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    server = Gunicorn(env, workers=3)
    try:
        with urllib.request.urlopen(f"{server.url}/authorised-users", timeout=10) as r:
            assert r.status == 200
    finally:
        server.stop()
    backed = flask(env, "backup", str(tmp_path / "backups") + "/")
    assert backed.returncode == 0, backed.stdout + backed.stderr
    assert len(list((tmp_path / "backups").iterdir())) == 1
    verified = flask(env, "verify")
    assert verified.returncode == 0 and "OK: 0 batches verified" in verified.stdout, verified.stdout + verified.stderr

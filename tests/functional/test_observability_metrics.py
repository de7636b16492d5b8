"""/metrics: Prometheus text for this machine (loopback) or the metrics token, nobody else; it counts
requests by endpoint and status, and scans by what they showed."""
from __future__ import annotations

import re

import pytest

from gi_trace.db import get_engine
from tests.factories_scan import lot_from_tested_harvest

TOKEN = "metrics-token-4f9a2c"
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "METRICS_TOKEN": TOKEN}


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(3))
    return 0.0


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_a_request_is_counted_by_endpoint_and_status(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page/ABCD-EFGH").status_code == 404
    after = scrape(client)
    key = dict(route="web.healthz", method="GET", status=200)
    counted = sample(after, "gi_trace_http_requests_total", **key)
    assert counted == sample(before, "gi_trace_http_requests_total", **key) + 3
    unmatched = dict(route="unmatched", method="GET", status=404)
    assert sample(after, "gi_trace_http_requests_total", **unmatched) == sample(
        before, "gi_trace_http_requests_total", **unmatched) + 1
    assert sample(after, "gi_trace_http_request_duration_seconds_count", route="web.healthz") >= 3
    assert "ABCD" not in after  # the path is never a label


def test_scans_are_counted_by_outcome(client, session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    session.commit()
    before = scrape(client)
    assert client.get(f"/t/{lot.code}").status_code == 200
    assert client.get("/t/AAAAAAAAAAAAAA").status_code == 404  # a wrong check character: malformed
    after = scrape(client)
    for outcome in ("genuine", "malformed"):
        assert sample(after, "gi_trace_scans_total", outcome=outcome) == sample(
            before, "gi_trace_scans_total", outcome=outcome) + 1


def test_a_remote_client_without_the_token_is_refused(client):
    assert client.get("/metrics", environ_base=REMOTE).status_code == 404
    wrong = client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert b"gi_trace_" not in wrong.get_data()


def test_a_remote_client_with_the_token_is_served(client):
    text = scrape(client, environ_base=REMOTE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert "gi_trace_http_requests_total" in text


def test_a_forged_forwarded_for_does_not_make_a_remote_client_local(app_config):
    from gi_trace import create_app

    # Behind one trusted proxy (ProxyFix rewrites the address from X-Forwarded-For).
    app = create_app({**app_config, "PROXY_HOPS": 1})
    client = app.test_client()
    forged = {"X-Forwarded-For": "127.0.0.1"}
    try:
        assert client.get("/metrics", environ_base=REMOTE, headers=forged).status_code == 404
        # A proxy on this machine passing on a remote client's request: loopback peer, but forwarded.
        assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
        assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1, 127.0.0.1"}).status_code == 404
        assert client.get("/metrics").status_code == 200  # the local scraper, straight to the app
    finally:
        get_engine(app).dispose()  # the scrape read the job queue: close the pool's connection


def test_without_a_configured_token_no_bearer_opens_it(app_config):
    from gi_trace import create_app

    app = create_app({**app_config, "METRICS_TOKEN": ""})
    client = app.test_client()
    try:
        empty = client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer "})
        assert empty.status_code in (403, 404)
        assert client.get("/metrics", environ_base=REMOTE).status_code == 404
    finally:
        get_engine(app).dispose()


def test_writes_are_counted_when_they_commit_and_not_when_they_fail(client, session):
    from gi_trace.accounts.services import create_token
    from tests.factories_tracing import PLANTED, Grower

    grower = Grower.make(session)
    _row, raw = create_token(session, grower.user, "metrics")
    session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    before = scrape(client)
    batch = client.post("/api/v1/batches", headers=headers, json={"product": "zhongning-goji", "cultivar": "宁杞7号"})
    assert batch.status_code == 201, batch.get_data(as_text=True)
    code = batch.get_json()["code"]
    planted = client.post(f"/api/v1/batches/{code}/events", headers=headers, json={
        "stage": "planting", "occurred_at": PLANTED, "data": {"plot_id": grower.plot.id, "cultivar": "宁杞7号"}})
    assert planted.status_code == 201, planted.get_data(as_text=True)
    refused = client.post(f"/api/v1/batches/{code}/events", headers=headers, json={
        "stage": "harvest", "occurred_at": PLANTED, "data": {"plot_id": grower.plot.id, "fresh_kg": -5}})
    assert refused.status_code >= 400
    after = scrape(client)
    assert sample(after, "gi_trace_events_recorded_total") == sample(before, "gi_trace_events_recorded_total") + 1
    assert sample(after, "gi_trace_batches_created_total") == sample(before, "gi_trace_batches_created_total") + 1


def test_a_write_is_counted_only_when_its_unit_of_work_commits(session):
    from prometheus_client import REGISTRY

    from tests.factories_tracing import PLANTED, Grower

    def events() -> float:
        return REGISTRY.get_sample_value("gi_trace_events_recorded_total")

    grower = Grower.make(session)
    batch = grower.open(session)
    session.commit()
    before = events()
    grower.event(session, batch, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞7号"})
    session.rollback()
    assert events() == before
    batch = session.merge(batch)
    grower.event(session, batch, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞7号"})
    session.commit()
    assert events() == before + 1


def test_the_job_queue_and_job_failures_show_on_metrics(app, session, client):
    from gi_trace import jobs
    from gi_trace.errors import Refused
    from tests import factories

    def refuses(context):
        raise Refused("The batch was withdrawn meanwhile.")

    jobs.register_job(app, "test_metrics_refuses", refuses)
    user = factories.UserFactory(username="zhou", role="regulator")
    session.commit()
    before = scrape(client)
    jobs.start(session, "test_metrics_refuses", user.id)
    jobs.start(session, "test_metrics_refuses", user.id)
    session.commit()
    queued = scrape(client)
    assert sample(queued, "gi_trace_outbox_pending") == sample(before, "gi_trace_outbox_pending") + 2
    jobs.drain()
    after = scrape(client)
    assert sample(after, "gi_trace_outbox_pending") == sample(before, "gi_trace_outbox_pending")
    assert sample(after, "gi_trace_jobs_failed") == sample(before, "gi_trace_jobs_failed") + 2
    failures = dict(job="test_metrics_refuses")
    assert sample(after, "gi_trace_job_failures_total", **failures) == sample(
        before, "gi_trace_job_failures_total", **failures) + 2

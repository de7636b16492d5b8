"""Issue 14 item 6: while suspended, no route creates a batch or moves goods (API and portal alike)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from gi_trace.accounts.services import create_token
from gi_trace.timeutil import local_now, local_today
from gi_trace.tracing import units
from gi_trace.tracing.models import Batch, Event, UnitCode
from tests import factories
from tests.conftest import csrf_token, login
from tests.factories_tracing import Grower

WHEN = (local_now() - timedelta(minutes=30)).replace(microsecond=0)
API_WHEN = WHEN.isoformat()
FORM_WHEN = WHEN.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def suspended(session):
    """A producer with two tested batches (and unit codes) whose authorisation is suspended today."""
    grower = Grower.make(session)
    a = grower.tested(session)
    b = grower.tested(session)
    units.issue_units(session, grower.user, a, 2, 0.5)
    factories.DecisionFactory(producer_id=grower.producer.id, action="suspend", effective_date=local_today(),
                              reason="抽检不合格")
    _t, raw = create_token(session, grower.user, "erp")
    session.commit()
    grower.headers = {"Authorization": f"Bearer {raw}"}
    return grower, a, b


def _counts(session):
    session.expire_all()
    return (session.exec(select(func.count()).select_from(Batch)).one(),
            session.exec(select(func.count()).select_from(Event)).one(),
            session.exec(select(func.count()).select_from(UnitCode)).one())


API_CALLS = {
    "open": lambda a, b: ("/api/v1/batches", {"product": "zhongning-goji", "cultivar": "宁杞7号"}),
    "split": lambda a, b: (f"/api/v1/batches/{a.code}/split", {"parts": [{"quantity_kg": 50}], "occurred_at": API_WHEN}),
    "merge": lambda a, b: ("/api/v1/batches/merge", {"inputs": [{"code": a.code}, {"code": b.code}],
                                                     "occurred_at": API_WHEN}),
    "process": lambda a, b: ("/api/v1/batches/process", {"inputs": [{"code": a.code}], "product_form": "powder",
                                                         "outputs": [{"quantity_kg": 100}], "occurred_at": API_WHEN}),
    "processing event": lambda a, b: (f"/api/v1/batches/{a.code}/events", {
        "stage": "processing", "occurred_at": API_WHEN,
        "data": {"product_form": "powder", "outputs": [{"quantity_kg": 100, "product_form": "powder"}]}}),
    "distribution": lambda a, b: (f"/api/v1/batches/{a.code}/events", {
        "stage": "distribution", "occurred_at": API_WHEN, "data": {"recipient": "银川某超市", "kg": 10}}),
    "units": lambda a, b: (f"/api/v1/batches/{a.code}/units", {"count": 1, "package_kg": 0.5}),
}


@pytest.mark.parametrize("route", list(API_CALLS))
def test_api_refuses_a_suspended_producer(route, client, session, suspended):
    grower, a, b = suspended
    before = _counts(session)
    url, body = API_CALLS[route](a, b)
    response = client.post(url, json=body, headers=grower.headers)
    assert response.status_code in (403, 409, 422), (route, response.status_code, response.get_data(as_text=True))
    assert "暂停" in response.json["error"]["message"] or "suspended" in response.json["error"]["message"]
    assert _counts(session) == before


PORTAL_CALLS = {
    "open": lambda a, b: ("/batches/new", {"product": "zhongning-goji", "cultivar": "宁杞7号"}),
    "split": lambda a, b: (f"/batches/{a.code}/split", {"occurred_at": FORM_WHEN, "parts-0-quantity_kg": "50"}),
    "merge": lambda a, b: ("/batches/merge", {"occurred_at": FORM_WHEN, "inputs-0-code": a.code,
                                              "inputs-1-code": b.code}),
    "processing": lambda a, b: (f"/batches/{a.code}/record/processing", {
        "occurred_at": FORM_WHEN, "f_product_form": "powder", "f_input_kg": "100",
        "f_outputs-0-quantity_kg": "90", "f_outputs-0-product_form": "powder"}),
    "distribution": lambda a, b: (f"/batches/{a.code}/record/distribution", {
        "occurred_at": FORM_WHEN, "f_recipient": "银川新华百货", "f_kg": "10"}),
    "units": lambda a, b: (f"/batches/{a.code}/units", {"count": "1", "package_kg": "0.5"}),
}


@pytest.mark.parametrize("route", list(PORTAL_CALLS))
def test_portal_refuses_a_suspended_producer(route, client, session, suspended):
    grower, a, b = suspended
    login(client, grower.user.username)
    before = _counts(session)
    path, data = PORTAL_CALLS[route](a, b)
    response = client.post(path, data={"csrf_token": csrf_token(client, path), **data})
    assert response.status_code != 302, route
    assert "暂停" in response.get_data(as_text=True), route
    assert _counts(session) == before


def test_labels_are_refused_to_a_suspended_producer(client, session, suspended):
    grower, a, _b = suspended
    login(client, grower.user.username)
    for path in (f"/batches/{a.code}/labels?kind=units&start=1&count=2",
                 f"/batches/{a.code}/labels.zip?kind=units&start=1&count=2",
                 f"/batches/{a.code}/labels.pdf?kind=units&start=1&count=2"):
        assert client.get(path).status_code == 422, path

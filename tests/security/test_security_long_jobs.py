"""Issue 14 item 8: label sheets are bounded (500 labels) and label sheets and exports are limited per user."""
from __future__ import annotations

import pytest

from gi_trace.tracing import units
from tests import factories
from tests.conftest import login
from tests.tracing_labels_support import passed_batch


@pytest.fixture
def batch_with_units(session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer, "farmer")
    _p, user, batch = passed_batch(session, producer, user)
    units.issue_units(session, user, batch, 2, 0.5)
    session.commit()
    return batch


@pytest.mark.parametrize("ext", ["", ".zip", ".pdf"])
def test_a_sheet_beyond_500_labels_is_refused_with_a_message(client, session, batch_with_units, ext):
    login(client, "farmer")
    response = client.get(f"/batches/{batch_with_units.code}/labels{ext}?kind=batch&count=501")
    assert response.status_code == 422
    assert "500" in response.get_data(as_text=True)


def test_a_sheet_of_500_labels_is_printed(client, session, batch_with_units):
    login(client, "farmer")
    response = client.get(f"/batches/{batch_with_units.code}/labels?kind=batch&count=500")
    assert response.status_code == 200 and response.get_data(as_text=True).count("<svg") >= 500


class TestPerUserLimits:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LABELS_RATE_LIMIT": "2 per minute",
                "EXPORT_RATE_LIMIT": "1 per minute"}

    def test_label_sheets_are_limited_per_user(self, app, client, session, batch_with_units):
        other_producer = factories.authorised_producer()
        factories.producer_user(other_producer, "neighbour")
        session.commit()
        login(client, "farmer")
        url = f"/batches/{batch_with_units.code}/labels.zip?kind=units&start=1&count=2"
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
        neighbour = app.test_client()
        from flask import g

        g.pop("csrf_token", None)
        g.pop("_login_user", None)
        login(neighbour, "neighbour")
        # another user has a budget of their own (their request is answered, here 404: not their batch)
        assert neighbour.get(url).status_code == 404

    def test_exports_are_limited_per_user(self, client, session):
        factories.UserFactory(username="city", role="regulator")
        session.commit()
        login(client, "city")
        url = "/oversight/reports/annual.zip?product=zhongning-goji&year=2025"
        assert [client.get(url).status_code for _ in range(2)] == [200, 429]

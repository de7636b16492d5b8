"""Anomalies and recall-export pages through the test client."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from gi_trace.tracing import services as tracing
from tests.conftest import login
from tests.factories import UserFactory
from tests.factories_scan import lot_from_tested_harvest


@pytest.fixture
def lot(session):
    grower, harvest, lot = lot_from_tested_harvest(session)
    tracing.raise_flag(session, harvest, "drying_ratio", {"ratio": 6.2, "low": 3.5, "high": 5.0})
    UserFactory(username="city")
    UserFactory(username="hy", county_code="640522")
    session.commit()
    return grower, harvest, lot


def test_recall_page_previews_and_downloads_files(client, lot):
    grower, harvest, batch = lot
    login(client, "city")
    html = client.get(f"/oversight/recall?code={batch.code}").get_data(as_text=True)
    assert harvest.code in html and 'id="recall"' in html
    csv_response = client.get(f"/oversight/recall/{batch.code}.csv")
    assert csv_response.status_code == 200 and "attachment" in csv_response.headers["Content-Disposition"]
    text = csv_response.get_data().decode("utf-8-sig")
    assert harvest.code in text and batch.code in text
    xlsx = client.get(f"/oversight/recall/{batch.code}.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert ws.max_row > 5


def test_recall_of_unknown_or_other_county_code_is_not_found(client, lot):
    _grower, _harvest, batch = lot
    login(client, "hy")
    assert client.get(f"/oversight/recall?code={batch.code}").status_code == 404
    assert client.get(f"/oversight/recall/{batch.code}.csv").status_code == 404
    assert client.get("/oversight/recall?code=NOT-A-CODE").status_code == 404


def test_anomalies_page_lists_flags(client, lot):
    _grower, harvest, _batch = lot
    login(client, "city")
    html = client.get("/oversight/anomalies").get_data(as_text=True)
    assert harvest.code in html and "anomaly-plausibility" in html
    assert client.get("/oversight/anomalies?kind=nonsense").status_code == 422
    login(client, "hy")
    assert harvest.code not in client.get("/oversight/anomalies").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/oversight/anomalies", "/oversight/recall", "/oversight/recall/ABC.csv"])
def test_producers_and_anonymous_users_are_kept_out(client, lot, path):
    assert client.get(path).status_code == 302
    login(client, f"p{lot[0].producer.id}")
    assert client.get(path).status_code == 403

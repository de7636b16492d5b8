"""Anomalies and recall-export pages through the test client."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from gi_trace.tracing import services as tracing
from gi_trace.tracing import transfers
from gi_trace.tracing.models import PlausibilityFlag
from tests.conftest import login
from tests.factories import UserFactory, authorised_producer, producer_user
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


def test_a_purchase_beyond_what_one_household_grows_is_flagged_for_regulators(client, session):
    """以产核标 at the market: one purchase from a seller not on the register is recorded whatever its size, but
    more than one household's season (50 亩 × the product's 400 kg per 亩 = 20,000 kg) is flagged."""
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    user = producer_user(dealer, "dealer9")
    UserFactory(username="city")

    def buy(kg):
        return transfers.purchase(session, user, transfers.PurchaseInput(
            quantity_kg=kg, seller_name="王五", town_code="640521104",
            purchased_at="2025-09-02T09:00:00+08:00"))

    plain = buy(20000).batch  # exactly the ceiling: a large household, not flagged
    large = buy(1_000_000).batch
    session.commit()
    flags = session.exec(select(PlausibilityFlag)).all()
    assert [(f.batch_id, f.kind, f.status) for f in flags] == [(large.id, "declared_purchase_large", "open")]
    assert flags[0].params == {"kg": 1_000_000, "area": 50.0, "cap": 400.0, "limit": 20000}
    assert (plain.open_flags, large.open_flags) == (0, 1)
    login(client, "city")
    html = client.get("/oversight/anomalies?lang=zh").get_data(as_text=True)
    assert large.code in html and plain.code not in html
    assert "向未登记的卖方收购 1,000,000 公斤，超过一户农户一季的产量" in html and "= 20,000 公斤" in html

"""承诺达标合格证 for a sale to a buyer who is not on the register (a distribution record): API and portal."""
from __future__ import annotations

import subprocess

import pytest

from gi_trace.tracing import services
from sqlmodel import select

from gi_trace.tracing.models import Batch, Event
from tests.conftest import login
from tests.factories import authorised_producer, producer_user
from tests.factories_tracing import PASSING_TEST, Grower
from tests.functional.test_tracing_api import bearer

SOLD = "2025-08-12T10:00:00+08:00"
SHOP = "银川新华百货超市"


@pytest.fixture
def sale(session):
    grower = Grower.make(session)
    grower.user.username = "grower_sale"
    batch = grower.tested(session)
    event = grower.event(session, batch, "distribution", SOLD, {"recipient": SHOP, "kg": 30,
                                                                "document_no": "XS-0812"})
    other = producer_user(authorised_producer(kind="trader", name="宁夏杞乡枸杞商行"))
    world = {"grower": grower, "batch": batch, "code": batch.code, "event_id": event.id,
             "headers": bearer(session, grower.user), "other_h": bearer(session, other)}
    session.commit()
    return world


def _url(world, suffix: str = "", event_id=None) -> str:
    return f"/api/v1/sales/{event_id or world['event_id']}/certificate{suffix}"


def test_api_certificate_of_a_sale_names_the_unregistered_buyer(client, sale, app):
    out = client.get(_url(sale), headers=sale["headers"])
    assert out.status_code == 200, out.get_data(as_text=True)
    cert = out.get_json()
    assert cert["product"] == "中宁枸杞" and cert["quantity_kg"] == 30 and cert["buyer"] == SHOP
    assert cert["seller"] == sale["grower"].producer.name and cert["origin"] == "宁安镇"
    assert cert["issued_on"] == "2025-08-12" and cert["basis"] == "委托检测"
    assert "不使用禁用农药兽药" in cert["commitment"]
    assert cert["trace_url"] == f"{app.config['PUBLIC_BASE_URL']}/t/{sale['code']}"
    pdf = client.get(_url(sale, ".pdf"), headers=sale["headers"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert cert["pdf_url"].endswith(_url(sale, ".pdf"))


def test_api_certificate_only_for_the_sellers_own_distribution_records(client, sale, session):
    # Another party: not its sale (404, as an unknown one).
    error = client.get(_url(sale), headers=sale["other_h"])
    assert error.status_code == 404 and error.get_json()["error"]["field"] == "sale"
    # The harvest record is not a sale; nor is an id that does not exist.
    harvest = session.exec(select(Event.id).where(Event.batch_id == sale["batch"].id,
                                                  Event.stage == "harvest")).one()
    for event_id in (harvest, 987654):
        error = client.get(_url(sale, event_id=event_id), headers=sale["headers"])
        assert error.status_code == 404 and error.get_json()["error"]["field"] == "sale"


def test_corrected_sale_prints_the_correction(client, sale, session):
    grower = sale["grower"]
    batch = session.get(Batch, sale["batch"].id)
    fixed = grower.event(session, batch, "distribution", SOLD, {"recipient": SHOP, "kg": 25},
                         corrects_event_id=sale["event_id"], correction_reason="少发了一箱")
    fixed_id = fixed.id
    session.commit()
    error = client.get(_url(sale), headers=sale["headers"])
    assert error.status_code == 409 and error.get_json()["error"]["field"] == "sale"
    assert client.get(_url(sale, event_id=fixed_id), headers=sale["headers"]).get_json()["quantity_kg"] == 25


def test_no_certificate_for_a_failed_test_or_a_withdrawn_batch(client, sale, session):
    grower = sale["grower"]
    batch = session.get(Batch, sale["batch"].id)
    grower.event(session, batch, "testing", "2025-08-13T10:00:00+08:00", {**PASSING_TEST, "report_no": "NX-2025-0810",
                                                      "sampled_at": "2025-08-13", "so2_mg_per_kg": 500.0,
                                                      "lab_verdict": "fail"})
    assert batch.test_state == "failed"
    session.commit()
    error = client.get(_url(sale), headers=sale["headers"])
    assert error.status_code == 422 and error.get_json()["error"]["code"] == "test_failed"
    assert client.get(_url(sale, ".pdf"), headers=sale["headers"]).status_code == 422


def test_withdrawn_batch_gets_no_sale_certificate(client, sale, session):
    services.withdraw(session, sale["grower"].user, session.get(Batch, sale["batch"].id), "召回")
    session.commit()
    error = client.get(_url(sale), headers=sale["headers"])
    assert error.status_code == 422 and error.get_json()["error"]["code"] == "withdrawn"


def test_portal_prints_the_sale_certificate_from_the_batch_timeline(client, sale, session, output_dir):
    login(client, "grower_sale")
    page = client.get(f"/batches/{sale['code']}").get_data(as_text=True)
    url = f"/sales/{sale['event_id']}/certificate"
    assert url in page
    view = client.get(url).get_data(as_text=True)
    for fact in ("承诺达标合格证", "中宁枸杞", "30 公斤", sale["grower"].producer.name, "宁安镇", "2025年8月12日",
                 "不使用禁用农药兽药、停用兽药和非法添加物", "■委托检测", "签名", SHOP):
        assert fact in view, fact
    pdf = client.get(url + ".pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    path = output_dir / "sale-certificate.pdf"
    path.write_bytes(pdf.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "297.6 x 419.52 pts" in info, info  # A6: 105 x 148 mm
    # Refused once the batch is withdrawn; the timeline no longer offers it.
    services.withdraw(session, sale["grower"].user, session.get(Batch, sale["batch"].id), "召回")
    session.commit()
    assert client.get(url).status_code == 422
    assert url not in client.get(f"/batches/{sale['code']}").get_data(as_text=True)

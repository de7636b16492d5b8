"""The chain through the portal's pages: 发货 on a batch page, the inbox (收货/拒收), 收购 on a phone form."""
from __future__ import annotations

import re

from sqlmodel import select

from gi_trace.tracing.models import Batch, Purchase, Shipment
from tests.conftest import login
from tests.factories import ProducerFactory, authorised_producer, producer_user  # noqa: F401
from tests.factories_tracing import Grower
from tests.functional.test_tracing_portal_walk import _errors, _post


def test_ship_receive_and_reject_through_the_pages(client, session):
    grower = Grower.make(session)
    batch = grower.tested(session)
    grower.user.username = "grower1"
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    producer_user(dealer, "dealer1")
    code, dealer_code = batch.code, dealer.code
    session.commit()

    login(client, "grower1")
    page = client.get(f"/batches/{code}").get_data(as_text=True)
    assert f"/batches/{code}/ship" in page
    refused = _post(client, f"/batches/{code}/ship", {"to": dealer_code, "quantity_kg": "999",
                                                      "shipped_at": "2025-08-10T10:00"})
    assert refused.status_code == 200 and any("240" in e for e in _errors(refused))
    for kg in ("100", "20"):
        done = _post(client, f"/batches/{code}/ship", {"to": dealer_code, "quantity_kg": kg,
                                                       "shipped_at": "2025-08-10T10:00", "document_no": "WB-1"})
        assert done.status_code == 302, _errors(done)
    client.post("/logout")

    login(client, "dealer1")
    home = client.get("/batches").get_data(as_text=True)
    assert "待收货物" in home or "Incoming shipments" in home
    first, second = session.exec(select(Shipment).order_by(Shipment.id)).all()
    assert f"/shipments/{first.id}/receive" in home
    too_much = _post(client, f"/shipments/{first.id}/receive", {"received_at": "2025-08-11T09:00",
                                                               "quantity_kg": "101"})
    assert too_much.status_code == 200 and _errors(too_much)
    received = _post(client, f"/shipments/{first.id}/receive", {"received_at": "2025-08-11T09:00",
                                                               "quantity_kg": "99.5", "producer_lot": "D-1"})
    assert received.status_code == 302, _errors(received)
    new_code = received.headers["Location"].rsplit("/", 1)[1]
    rejected = _post(client, f"/shipments/{second.id}/reject", {"reason": "霉变"})
    assert rejected.status_code == 302, _errors(rejected)
    session.expire_all()
    mine = session.exec(select(Batch).where(Batch.code == new_code)).one()
    assert mine.producer_id == dealer.id and mine.quantity_kg == 99.5
    source = session.get(Batch, batch.id)
    assert source.available_kg == 140.0  # 100 left for good, 20 came back
    # The inbox's received rows say their status under "状态", with the batch they became beside it.
    listing = client.get("/shipments").get_data(as_text=True)
    received_rows = listing[listing.index("最近收货"):]
    assert "已收货 · " in received_rows and "已拒收" in received_rows


def test_purchase_form_finds_sellers_and_records_unregistered_farmers(client, session):
    grower = Grower.make(session)
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    producer_user(dealer, "dealer2")
    grower_code, batch_code, grower_name = grower.producer.code, batch.code, grower.producer.name
    session.commit()
    login(client, "dealer2")
    found = client.get(f"/purchases/new?q={grower_name[:6]}").get_data(as_text=True)
    assert grower_name in found and f"seller={grower_code}" in found
    # A farmer not on the register: the name searched for is already in the farmer's name box.
    unknown = client.get("/purchases/new?q=王五").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="seller_name"[^>]*value="王五"', unknown)

    bought = _post(client, f"/purchases/new?seller={grower_code}",
                   {"seller": grower_code, "source_batch": batch_code, "quantity_kg": "30",
                    "purchased_at": "2025-08-11T09:00", "grade": "特级"})
    assert bought.status_code == 302, _errors(bought)
    missing_town = _post(client, "/purchases/new", {"seller_name": "王五", "quantity_kg": "25",
                                                    "purchased_at": "2025-08-11T09:00"})
    assert missing_town.status_code == 200 and _errors(missing_town)
    farmer = _post(client, "/purchases/new", {"seller_name": "王五", "town_code": "640521104", "quantity_kg": "25",
                                              "purchased_at": "2025-08-11T09:30"})
    assert farmer.status_code == 302, _errors(farmer)
    records = session.exec(select(Purchase).order_by(Purchase.id)).all()
    assert [(r.seller_id is not None, r.quantity_kg) for r in records] == [(True, 30.0), (False, 25.0)]


def test_purchases_upload_page_names_bad_rows_and_keeps_nothing(client, session):
    import io

    from tests.integration.test_chain_purchase_import import HEADER
    from tests.integration.test_registry_import import csv_bytes

    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    producer_user(dealer, "dealer3")
    code = dealer.code
    session.commit()
    login(client, "dealer3")
    rows = [[code, "", "王五", "640521104", "25", "2025-08-11", "", ""],
            [code, "", "", "640521104", "5", "2025-08-11", "", ""]]
    token = client.get("/purchases/import").get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
    token = token.split('"')[0]
    bad = client.post("/purchases/import", data={"csrf_token": token, "file": (io.BytesIO(csv_bytes(HEADER, rows)),
                                                                               "day.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "第 3 行" in bad.get_data(as_text=True)
    assert session.exec(select(Purchase)).all() == []
    good = client.post("/purchases/import", data={"csrf_token": token, "file": (io.BytesIO(csv_bytes(HEADER, rows[:1])),
                                                                                "day.csv")},
                       content_type="multipart/form-data")
    assert good.status_code == 302
    session.expire_all()
    assert len(session.exec(select(Purchase)).all()) == 1


def test_certificate_of_a_shipment_in_a6_print_view_and_pdf_with_a_qr_to_the_trace_page(client, session, app,
                                                                                           output_dir):
    import subprocess

    import zxingcpp

    from gi_trace.tracing import transfers

    grower = Grower.make(session)
    batch = grower.tested(session)
    grower.user.username = "grower_cert"
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    shipment = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=20,
                              shipped_at="2025-08-10T10:00:00+08:00")
    shipment_id, code = shipment.id, batch.code
    session.commit()
    login(client, "grower_cert")
    page = client.get(f"/shipments/{shipment_id}/certificate").get_data(as_text=True)
    for fact in ("承诺达标合格证", "中宁枸杞", "20 公斤", grower.producer.name, "宁安镇", "2025年8月10日",
                 "不使用禁用农药兽药、停用兽药和非法添加物", "■委托检测", "签名", "宁夏杞乡枸杞商行"):
        assert fact in page, fact
    pdf = client.get(f"/shipments/{shipment_id}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    path = output_dir / "certificate.pdf"
    path.write_bytes(pdf.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "297.6 x 419.52 pts" in info, info  # A6: 105 x 148 mm
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(output_dir / "certificate")],
                   check=True)
    from PIL import Image
    shot = Image.open(output_dir / "certificate.png").convert("L")
    assert [r.text for r in zxingcpp.read_barcodes(shot)] == [f"{app.config['PUBLIC_BASE_URL']}/t/{code}"]
    # A withdrawn batch gets no certificate.
    from gi_trace.tracing import services
    session.expire_all()
    services.withdraw(session, grower.user, session.get(type(batch), batch.id), "召回")
    session.commit()
    assert client.get(f"/shipments/{shipment_id}/certificate").status_code == 422

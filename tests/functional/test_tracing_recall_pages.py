"""A recall through the faces: scan pages (batch and unit codes), the Digital Link resolver, QR images, the
public API, the withdraw form's reach, the regulators' recall pages, lifting, the spreadsheet and the CLI."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest

from gi_trace import jobs
from gi_trace.tracing import codes, gs1, recall, services, transfers, units
from tests import factories
from tests.conftest import csrf_token, login
from tests.factories import UserFactory, authorised_producer, producer_user
from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.factories_tracing import Grower

SHIP = "2025-08-10T10:00:00+08:00"
ARRIVE = "2025-08-11T09:00:00+08:00"


def _world(session):
    """A harvest → lot (with a package code) → shipped to a dealer, who received it; an unrelated lot."""
    grower, harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    dealer_user = producer_user(dealer, "dealer")
    shipment = transfers.ship(session, grower.user, lot, to=dealer.code, quantity_kg=40, shipped_at=SHIP)
    received = transfers.receive(session, dealer_user, shipment, received_at=ARRIVE)
    _g, _h, unrelated = lot_from_tested_harvest(session)
    return grower, harvest, lot, unit, received, unrelated


def _main(html: str) -> str:
    return html[html.index("<main"):]


def test_the_scan_of_every_descendant_says_recalled_first_with_410_even_with_stored_pages(client, session):
    grower, harvest, lot, unit, received, unrelated = _world(session)
    session.commit()
    jobs.drain()  # stored pages built: the scan must not trust them after the recall
    assert client.get(f"/t/{received.code}").status_code == 200
    services.withdraw(session, grower.user, harvest, "黄曲霉毒素超标")
    session.commit()  # no job drained: the recall is checked on the scan itself
    for code in (harvest.code, lot.code, unit.code, received.code):
        response = client.get(f"/t/{code}")
        html = _main(response.get_data(as_text=True))
        assert response.status_code == 410, code
        first = html.index("已召回")
        assert first < html.index("黄曲霉毒素超标") < html.index("停止食用") < html.index("12315")
        assert "正品" not in html and "recall-date" in html
    assert "由已召回的批次" in client.get(f"/t/{received.code}").get_data(as_text=True)
    assert client.get(f"/t/{unrelated.code}").status_code == 200


def test_the_recall_notice_in_english(client, session):
    grower, harvest, lot, *_rest = _world(session)
    services.withdraw(session, grower.user, harvest, "x")
    session.commit()
    english = client.get(f"/t/{lot.code}", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Recalled" in english and "Stop eating it." in english and "call 12315" in english


def test_the_recall_notice_of_a_households_batch_names_its_town_never_the_farmer(client, session):
    farmer = Grower.make(session, kind="household", name="任芳凤", uscc=None, registry_no="ZN-HH-0001")
    batch = farmer.tested(session)
    services.withdraw(session, farmer.user, batch, "监督抽检二氧化硫超标")
    session.commit()
    response = client.get(f"/t/{batch.code}")
    html = _main(response.get_data(as_text=True))
    assert response.status_code == 410 and "任芳凤" not in html and "生产者：农户 · 宁安镇" in html
    assert "理由：" in html and "召回日期：" in html  # Chinese colons


def test_qr_images_and_the_public_api_of_a_recalled_descendant_answer_410(client, session):
    grower, harvest, lot, unit, received, _unrelated = _world(session)
    services.withdraw(session, grower.user, harvest, "召回")
    session.commit()
    assert client.get(f"/t/{received.code}/qr.svg").status_code == 410
    body = client.get(f"/api/v1/trace/{unit.code}")
    assert body.status_code == 410
    data = body.get_json()
    assert data["withdrawn"] is True and data["recall"]["source_code"] == harvest.code
    assert data["gi_mark"] is False and data["gi_label"]["code"] == "recalled"
    assert data["verdict"]["state"] == "recalled"  # the scan page's verdict, through tracing.recall


def test_the_digital_link_of_a_recalled_descendant_answers_410_with_the_notice(client, session):
    producer = authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = producer_user(producer, "liner")
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134352", "礼盒"))
    g = Grower(producer, user, factories.PlotFactory(producer_id=producer.id, area_mu=20, town_code="640521100"),
               factories.TrademarkFactory(producer_id=producer.id).id)
    harvest = g.tested(session)
    lot = services.split(session, user, harvest, [{"quantity_kg": 50, "producer_lot": "ZN-R-1"}],
                         occurred_at="2025-08-01T08:00:00+08:00").children[0]
    lot.product_line_id = line.id
    session.add(lot)
    session.commit()
    assert client.get("/01/09506000134352/10/ZN-R-1").status_code == 307
    services.withdraw(session, user, harvest, "抽检不合格")
    session.commit()
    response = client.get("/01/09506000134352/10/ZN-R-1")
    html = response.get_data(as_text=True)
    assert response.status_code == 410 and "已召回" in html and "抽检不合格" in html and "12315" in html
    as_json = client.get("/01/09506000134352/10/ZN-R-1", headers={"Accept": "application/json"})
    assert as_json.status_code == 410 and as_json.get_json()["error"]["recall"]["reason"] == "抽检不合格"


def test_the_withdraw_form_says_how_far_the_recall_reaches_before_confirming(client, session):
    grower, harvest, lot, unit, received, _unrelated = _world(session)
    session.commit()
    login(client, grower.user.username)
    html = client.get(f"/batches/{harvest.code}/withdraw").get_data(as_text=True)
    assert "召回将涉及 3 个批次" in html and "1 个单品码" in html and "2 个经营主体" in html
    response = client.post(f"/batches/{harvest.code}/withdraw",
                           data={"reason": "霉变", "csrf_token": csrf_token(client, f"/batches/{harvest.code}/withdraw")})
    assert response.status_code == 302
    assert recall.active_recall(session, session.get(type(received), received.id)) is not None
    page = client.get(f"/batches/{lot.code}").get_data(as_text=True)
    assert "已召回" in page and "霉变" in page
    login(client, "dealer")  # the receiver's list marks its batch made from the recalled one
    listing = client.get("/batches").get_data(as_text=True)
    assert codes.display(received.code) in listing and "已召回" in listing


def test_regulators_list_open_sort_export_and_lift(client, session, runner, tmp_path):
    grower, harvest, lot, unit, received, _unrelated = _world(session)
    services.withdraw(session, grower.user, harvest, "农残超标")
    regulator = UserFactory(username="reg", role="regulator", county_code=None)
    session.commit()
    info = recall.recall_for(session, harvest)
    login(client, "reg")
    listing = client.get("/oversight/recalls").get_data(as_text=True)
    assert codes.display(harvest.code) in listing and "农残超标" in listing
    page = client.get(f"/oversight/recalls/{info.recall_id}?sort=owner&desc=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index("宁夏杞乡枸杞商行") < html.index(grower.producer.name, html.index('id="affected"'))
    assert "60 公斤" in html or "60公斤" in html  # the lot: 100 kg less 40 shipped
    affected = html[html.index('id="affected"'):]
    assert "收货批次" in affected and "received" not in affected  # the dealer's batch, its kind in words
    csv_body = client.get(f"/oversight/recalls/{info.recall_id}.csv").get_data()
    rows = list(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[0][0] == "批次码"
    assert any("宁夏杞乡枸杞商行" in cell for row in rows for cell in row)
    xlsx = client.get(f"/oversight/recalls/{info.recall_id}.xlsx").get_data()
    assert len(zipfile.ZipFile(io.BytesIO(xlsx)).namelist()) >= 5  # two sheets: batches and unit codes
    # Lifting from a descendant, on the page, with the reason.
    token = csrf_token(client, f"/oversight/recalls/{info.recall_id}")
    client.post(f"/oversight/recalls/{info.recall_id}", data={"code": received.code, "reason": "检测证明不含",
                                                              "csrf_token": token})
    assert recall.active_recall(session, session.get(type(received), received.id)) is None
    assert client.get(f"/t/{received.code}").status_code == 200
    refused = client.post(f"/oversight/recalls/{info.recall_id}", data={"code": harvest.code, "reason": "x",
                                                                        "csrf_token": token})
    assert refused.status_code == 200 and "不能解除" in refused.get_data(as_text=True)
    # The CLI writes the same spreadsheet.
    out = tmp_path / "recall.csv"
    result = runner.invoke(args=["recall", "export", "--batch", harvest.code, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 batches" in result.output and "检测证明不含" in out.read_text(encoding="utf-8-sig")
    assert "--batch" in runner.invoke(args=["recall", "export", "--help"]).output
    bad = runner.invoke(args=["recall", "export", "--batch", harvest.code, "--out", str(tmp_path / "x.pdf")])
    assert bad.exit_code != 0


def test_a_county_regulator_sees_only_recalls_reaching_the_county(client, session):
    grower, harvest, *_rest = _world(session)
    services.withdraw(session, grower.user, harvest, "召回")
    UserFactory(username="far", role="regulator", county_code="640522")
    session.commit()
    info = recall.recall_for(session, harvest)
    login(client, "far")
    assert codes.display(harvest.code) not in client.get("/oversight/recalls").get_data(as_text=True)
    assert client.get(f"/oversight/recalls/{info.recall_id}").status_code == 404
    login(client, grower.user.username)
    assert client.get("/oversight/recalls").status_code in (302, 403)

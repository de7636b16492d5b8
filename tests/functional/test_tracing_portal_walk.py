"""中宁枸杞 from planting to distribution through the producer portal's pages (forms with CSRF),
with a split, a merge and a processing step; traces; errors beside fields; who may see what."""
from __future__ import annotations

import re

from sqlmodel import select

from gi_trace.tracing import lineage
from gi_trace.tracing.models import Batch, BatchLink, Event
from tests import factories
from tests.conftest import csrf_token, login


def _post(client, path, data):
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, **data})


def _record(client, code, stage, when, **fields):
    response = _post(client, f"/batches/{code}/record/{stage}",
                     {"occurred_at": when, **{f"f_{k}" if not k.startswith("f_") else k: v for k, v in fields.items()}})
    assert response.status_code == 302, (stage, _errors(response))
    assert response.headers["Location"].endswith(f"/batches/{code}")
    return response


def _errors(response) -> list[str]:
    html = response.get_data(as_text=True)
    beside = re.findall(r'class="field-error" role="alert">([^<]+)<', html)
    return beside + re.findall(r'<div class="errors" role="alert"><ul>(.*?)</ul>', html)


def _open(client, **extra) -> str:
    response = _post(client, "/batches/new", {"product": "zhongning-goji", "cultivar": "宁杞7号", **extra})
    assert response.status_code == 302, _errors(response)
    return response.headers["Location"].rsplit("/", 1)[1]


def _grow(client, code, plot_id, fresh, dried, day):
    _record(client, code, "planting", "2026-04-01T08:00", plot_id=plot_id)
    _record(client, code, "harvest", f"2026-07-{day:02d}T07:30", plot_id=plot_id, picking_round="3",
            fresh_kg=str(fresh))
    _record(client, code, "drying", f"2026-07-{day + 4:02d}T18:00", method="hot_air", fresh_kg_in=str(fresh),
            dried_kg_out=str(dried), moisture_pct="11.2", temperature_c="55")
    _record(client, code, "testing", f"2026-07-{day + 5:02d}T10:00", lab="宁夏食品检测研究院",
            report_no=f"NX-{code[:4]}", sampled_at=f"2026-07-{day + 4:02d}", sampled_by="王检",
            method="GB/T 18672-2014", moisture_pct="11.2", grains_per_50g="320", so2_mg_per_kg="0",
            lab_verdict="pass", **{"f_residues-0-substance": "吡虫啉", "f_residues-0-mg_per_kg": "0.05"})


def test_goji_walks_from_planting_to_distribution_through_the_portal(client, session):
    producer = factories.authorised_producer()
    factories.producer_user(producer, "farmer")
    plot = factories.PlotFactory(producer_id=producer.id, name="舟塔老园", town_code="640521200")
    mark = factories.TrademarkFactory(producer_id=producer.id, name="宁安堡")
    session.commit()
    login(client, "farmer")
    assert client.get("/batches").status_code == 200

    response = _post(client, f"/my/plots/{plot.id}/inputs", {
        "kind": "fertiliser", "product_name": "腐熟羊粪", "dose": "2 t/亩", "applied_on": "2026-03-20"})
    assert response.status_code == 302, _errors(response)
    first = _open(client, trademark_id=str(mark.id), producer_lot="ZN-A")
    _grow(client, first, plot.id, 1000, 250, 1)
    _record(client, first, "storage", "2026-07-08T09:00", place="中宁枸杞交易中心冷库", in_date="2026-07-08",
            conditions="0–4 °C")
    second = _open(client)
    _grow(client, second, plot.id, 800, 200, 2)

    page = client.get(f"/batches/{first}").get_data(as_text=True)
    assert "舟塔老园" in page and "宁安堡" in page and 'class="timeline"' in page
    assert "腐熟羊粪" in client.get(f"/t/{first}").get_data(as_text=True)  # the plot's inputs, on the public page

    # split the first batch into two packing lots
    response = _post(client, f"/batches/{first}/split", {
        "occurred_at": "2026-07-09T08:00", "parts-0-quantity_kg": "100", "parts-0-producer_lot": "ZN-A1",
        "parts-1-quantity_kg": "150", "parts-1-producer_lot": "ZN-A2"})
    assert response.status_code == 302, _errors(response)
    root = session.exec(select(Batch).where(Batch.code == first)).one()
    lots = session.exec(select(Batch).join(BatchLink, BatchLink.child_id == Batch.id)
                        .where(BatchLink.parent_id == root.id).order_by(Batch.quantity_kg)).all()
    assert [(b.producer_lot, b.quantity_kg) for b in lots] == [("ZN-A1", 100.0), ("ZN-A2", 150.0)]

    # merge the second lot with the second harvest (a processor's intake)
    response = _post(client, "/batches/merge", {
        "occurred_at": "2026-07-10T08:00", "producer_lot": "ZN-M1",
        "inputs-0-code": lots[1].code, "inputs-1-code": second, "inputs-1-quantity_kg": "200"})
    assert response.status_code == 302, _errors(response)
    merged_code = response.headers["Location"].rsplit("/", 1)[1]
    merged = session.exec(select(Batch).where(Batch.code == merged_code)).one()
    assert merged.quantity_kg == 350.0 and merged.kind == "merged"

    # processing: 300 kg of the merged batch become 280 kg of goji powder
    _record(client, merged_code, "processing", "2026-07-11T08:00", product_form="powder", process="低温研磨",
            input_kg="300", **{"f_outputs-0-quantity_kg": "280", "f_outputs-0-product_form": "powder",
                               "f_outputs-0-producer_lot": "ZN-P1"})
    powder = session.exec(select(Batch).where(Batch.producer_lot == "ZN-P1")).one()
    assert powder.kind == "processed" and powder.product_form == "powder" and powder.quantity_kg == 280.0

    # distribution of part of the powder
    _record(client, powder.code, "distribution", "2026-07-12T15:00", recipient="银川新华百货", kg="100",
            document_no="WB-0001", destination="银川")
    session.expire_all()
    powder = session.get(Batch, powder.id)
    assert powder.available_kg == 180.0

    backward = lineage.trace(session, powder, "backward")
    assert backward.codes == {merged_code, lots[1].code, first, second}
    forward = lineage.trace(session, root, "forward")
    assert forward.codes == {lots[0].code, lots[1].code, merged_code, powder.code}
    stages = session.exec(select(Event.stage).where(Event.batch_id == root.id).order_by(Event.seq)).all()
    assert stages == ["planting", "harvest", "drying", "testing", "storage", "split"]

    detail = client.get(f"/batches/{powder.code}").get_data(as_text=True)
    assert merged_code in detail  # lineage on the page


def test_portal_shows_errors_beside_the_fields(client, session):
    producer = factories.authorised_producer()
    factories.producer_user(producer, "farmer")
    plot = factories.PlotFactory(producer_id=producer.id)
    outside = factories.PlotFactory(producer_id=producer.id, town_code="640521206")  # 太阳梁乡, not protected
    session.commit()
    login(client, "farmer")
    code = _open(client)
    # a required field left empty
    response = _post(client, f"/batches/{code}/record/planting", {"occurred_at": "2026-04-01T08:00"})
    assert response.status_code == 200
    assert re.search(r'field has-error">\s*<label for="f_plot_id"', response.get_data(as_text=True))
    # a refusal from the service, beside the plot field
    response = _post(client, f"/batches/{code}/record/planting", {"occurred_at": "2026-04-01T08:00",
                                                                  "f_plot_id": str(outside.id)})
    html = response.get_data(as_text=True)
    said = " ".join(_errors(response))
    assert response.status_code == 200 and "太阳梁乡" in said and "640521206" not in said  # the town by its name
    assert re.search(r'field has-error">\s*<label for="f_plot_id"', html)
    _record(client, code, "planting", "2026-04-01T08:00", plot_id=plot.id)
    _record(client, code, "harvest", "2026-07-01T08:00", plot_id=plot.id, fresh_kg="500")
    # dried kilograms not less than fresh: refused, shown by the dried field
    response = _post(client, f"/batches/{code}/record/drying", {"occurred_at": "2026-07-05T08:00",
                                                                "f_method": "sun", "f_dried_kg_out": "600"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and _errors(response)
    assert re.search(r'field has-error">\s*<label for="f_dried_kg_out"', html)
    # splitting more than the batch holds
    response = _post(client, f"/batches/{code}/split", {"occurred_at": "2026-07-06T08:00",
                                                        "parts-0-quantity_kg": "400", "parts-1-quantity_kg": "200"})
    assert response.status_code == 200
    assert re.search(r'<legend>[^<]+</legend>.*class="field-error" role="alert">', response.get_data(as_text=True),
                     re.S)
    assert session.exec(select(BatchLink)).all() == []


def test_errors_in_the_rows_of_a_form_are_in_the_pages_language(client, session):
    producer = factories.authorised_producer()
    factories.producer_user(producer, "farmer")
    session.commit()
    login(client, "farmer")
    code = _open(client)
    response = _post(client, f"/batches/{code}/split", {"occurred_at": "2026-07-06T08:00",
                                                        "parts-0-quantity_kg": "十", "parts-1-quantity_kg": "-2"})
    said = _errors(response)
    assert response.status_code == 200 and "请填写数字。" in said and "数值不能小于 0。" in said, said
    assert not [e for e in said if "valid" in e or "Number" in e]


def test_unauthorised_producer_is_refused_with_the_reason(client, session):
    producer = factories.ProducerFactory()  # registered, never authorised
    factories.producer_user(producer, "farmer")
    session.commit()
    login(client, "farmer")
    response = _post(client, "/batches/new", {"product": "zhongning-goji"})
    assert response.status_code == 200 and _errors(response)
    assert session.exec(select(Batch)).all() == []


def test_another_producers_batch_is_404_and_regulators_may_view(client, session):
    owner = factories.authorised_producer()
    factories.producer_user(owner, "owner")
    factories.producer_user(factories.authorised_producer(), "other")
    factories.UserFactory(username="inspector", role="regulator", county_code="640521")
    session.commit()
    login(client, "owner")
    code = _open(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/batches")})
    login(client, "other")
    for path in (f"/batches/{code}", f"/batches/{code}/record/harvest", f"/batches/{code}/split",
                 f"/batches/{code}/units", f"/batches/{code}/labels"):
        assert client.get(path).status_code == 404, path
    response = _post(client, f"/batches/{code}/record/planting", {"occurred_at": "2026-04-01T08:00"})
    assert response.status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/batches")})
    login(client, "inspector")
    assert client.get(f"/batches/{code}").status_code == 200
    assert client.get(f"/batches/{code}/record/harvest").status_code == 403
    assert client.get("/batches").status_code == 403


def test_portal_needs_a_login(client):
    response = client.get("/batches")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_producer_registers_a_gtin_in_the_portal(client, session):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    factories.producer_user(producer, "farmer")
    session.commit()
    login(client, "farmer")
    response = _post(client, "/product-lines", {"product": "zhongning-goji", "gtin": "09506000134353",
                                                "name": "礼盒", "product_form": "dried"})
    assert response.status_code == 200
    assert re.search(r'field has-error">\s*<label for="gtin"', response.get_data(as_text=True))
    response = _post(client, "/product-lines", {"product": "zhongning-goji", "gtin": "09506000134352",
                                                "name": "礼盒 250 g", "product_form": "dried", "package_kg": "0.25"})
    assert response.status_code == 302
    assert "09506000134352" in client.get("/product-lines").get_data(as_text=True)


def test_a_record_is_corrected_by_a_new_event_with_its_reason(client, session):
    producer = factories.authorised_producer()
    factories.producer_user(producer, "farmer")
    plot = factories.PlotFactory(producer_id=producer.id)
    session.commit()
    login(client, "farmer")
    code = _open(client)
    _record(client, code, "planting", "2026-04-01T08:00", plot_id=plot.id)
    _record(client, code, "harvest", "2026-07-01T08:00", plot_id=plot.id, fresh_kg="500")
    batch = session.exec(select(Batch).where(Batch.code == code)).one()
    harvest = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "harvest")).one()
    page = client.get(f"/batches/{code}/record/harvest?corrects={harvest.id}").get_data(as_text=True)
    assert 'value="500.0"' in page or 'value="500"' in page
    path = f"/batches/{code}/record/harvest?corrects={harvest.id}"
    response = _post(client, path, {"occurred_at": "2026-07-01T08:00", "f_plot_id": str(plot.id),
                                    "f_fresh_kg": "480"})
    assert response.status_code == 200  # the reason is required
    response = _post(client, path, {"occurred_at": "2026-07-01T08:00", "f_plot_id": str(plot.id),
                                    "f_fresh_kg": "480", "correction_reason": "磅秤读数抄错"})
    assert response.status_code == 302, _errors(response)
    session.expire_all()
    assert session.get(Batch, batch.id).quantity_kg == 480.0
    correction = session.exec(select(Event).where(Event.corrects_event_id == harvest.id)).one()
    assert correction.correction_reason == "磅秤读数抄错"
    assert session.get(Event, harvest.id).data["fresh_kg"] == 500.0  # the earlier record stays
    assert client.get(f"/batches/{code}/record/drying?corrects={harvest.id}").status_code == 404


def test_implausible_dates_are_errors_not_crashes(client, session):
    producer = factories.authorised_producer()
    factories.producer_user(producer, "farmer")
    plot = factories.PlotFactory(producer_id=producer.id)
    session.commit()
    login(client, "farmer")
    code = _open(client)
    for when in ("0001-01-01T00:00", "9999-12-31T23:59", "2026-13-01T00:00"):
        response = _post(client, f"/batches/{code}/record/planting", {"occurred_at": when, "f_plot_id": str(plot.id)})
        assert response.status_code == 200
        assert re.search(r'field has-error">\s*<label for="occurred_at"', response.get_data(as_text=True))

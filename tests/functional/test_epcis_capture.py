"""EPCIS capture of stage events (POST /api/v1/epcis/capture): planting to storage, distribution, tests as sensor
reports, withdrawal and corrections, through the same services as the portal; refusals name the event and the
field and write nothing; the same document twice changes nothing."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.tracing import codes, epcis, services
from gi_trace.tracing.models import Batch, Event, ProductLine
from tests.epcis_capture_support import (BASE, grower,  # noqa: F401 (grower: a fixture)
                                         counts, document, drying, event, fresh, harvest, kg, planting, post, refused,
                                         storage, t, lab_test, token, dl)
from tests.factories import PlotFactory, ProducerFactory, goji, producer_user
from tests.factories_tracing import Grower


def _season(code: str, plot_id: int) -> list[dict]:
    return [planting(fresh(code), plot_id), harvest(fresh(code), plot_id, 1000.0),
            drying(code, t(code), 1000.0, 240.0), lab_test(t(code)), storage(t(code))]


def test_a_new_trace_code_is_captured_from_planting_to_storage_and_exports_its_own_event_ids(client, session, grower):
    code = codes.new_code()
    events = _season(code, grower.plot.id)
    response = post(client, token(session, grower.user), document(*events))
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["captured"] == 5 and answer["already_captured"] == 0
    assert answer["events"][0]["records"][0] == {"kind": "batch", "batch": code}
    session.expire_all()
    batch = session.exec(select(Batch).where(Batch.code == code)).one()
    assert (batch.producer_id, batch.kind, batch.product_form, batch.quantity_kg) == (grower.producer.id, "harvest",
                                                                                       "dried", 240.0)
    assert (batch.stage, batch.test_state, batch.cultivar) == ("drying", "passed", "宁杞7号")
    stages = [e.stage for e in session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq))]
    assert stages == ["planting", "harvest", "drying", "testing", "storage"]
    exported = epcis.build_document(session, [batch], BASE)["epcisBody"]["eventList"]
    assert [e["eventID"] for e in exported] == [e["eventID"] for e in events]
    test = next(e for e in exported if e["bizStep"] == "inspecting")
    assert test["disposition"] == "conformant" and test["bizTransactionList"][0]["bizTransaction"].endswith(
        "/id/document/NX-2025-0715")
    assert exported[2]["inputQuantityList"] == [kg(f"{BASE}/id/batch/{code}/fresh", 1000.0)]


def test_capturing_the_same_document_twice_changes_nothing_and_other_content_under_an_event_id_is_refused(
        client, session, grower):
    raw = token(session, grower.user)
    events = _season(codes.new_code(), grower.plot.id)
    assert post(client, raw, document(*events)).status_code == 201
    before = counts(session)
    again = post(client, raw, document(*events))
    assert again.status_code == 200
    assert again.get_json()["captured"] == 0 and again.get_json()["already_captured"] == 5
    assert {e["status"] for e in again.get_json()["events"]} == {"already_captured"}
    assert counts(session) == before
    changed = dict(events[4], **{"gt:place": "另一个冷库"})
    refusals = refused(post(client, raw, document(changed)))
    assert refusals == [{"index": 0, "eventID": changed["eventID"], "field": "epcisBody.eventList[0].eventID",
                         "message": refusals[0]["message"]}]
    assert "other content" in refusals[0]["message"]
    assert counts(session) == before


def test_a_partys_gtin_and_lot_name_its_batch_and_a_distribution_is_captured(client, session, grower):
    line = ProductLine(producer_id=grower.producer.id, product_id=goji(session).id, gtin14="06901234567892",
                       name="中宁枸杞 250 g", product_form="dried", package_kg=0.25)
    session.add(line)
    session.commit()
    lot = dl("06901234567892", "ZN-2025-A")
    sale = event("ObjectEvent", "2025-08-10T10:00:00+08:00", action="OBSERVE", bizStep="shipping",
                 disposition="in_transit", quantityList=[kg(lot, 12.5)], **{"gt:recipient": "银川新华百货超市"})
    events = [planting(lot, grower.plot.id), harvest(lot, grower.plot.id, 300.0), sale]
    response = post(client, token(session, grower.user), document(*events))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    batch = session.exec(select(Batch).where(Batch.producer_lot == "ZN-2025-A")).one()
    assert batch.product_line_id == line.id and codes.is_valid(batch.code)
    assert (batch.quantity_kg, batch.out_kg, batch.stage) == (300.0, 12.5, "distribution")
    exported = epcis.build_document(session, [batch], BASE)["epcisBody"]["eventList"]
    assert [e["eventID"] for e in exported] == [e["eventID"] for e in events]
    assert exported[2]["quantityList"] == [kg(f"{BASE}/01/06901234567892/10/ZN-2025-A", 12.5)]


def test_a_withdrawal_and_a_correction_are_captured_as_new_records(client, session, grower):
    code = codes.new_code()
    events = _season(code, grower.plot.id)
    raw = token(session, grower.user)
    assert post(client, raw, document(*events)).status_code == 201
    # The party's system corrects the test (a wrong moisture) and sends the corrected event with its declaration.
    fix = lab_test(t(code), moisture=11.9, when="2025-07-15T10:00:00+08:00")
    fix.update({"gt:corrects": events[3]["eventID"], "gt:correctionReason": "含水率录入错误"})
    declared = dict(events[3], errorDeclaration={"declarationTime": "2025-08-20T02:00:00.000+00:00",
                                                 "reason": "incorrect_data", "correctiveEventIDs": [fix["eventID"]]})
    recall = event("ObjectEvent", "2025-08-21T09:00:00+08:00", action="OBSERVE", bizStep="holding",
                   disposition="recalled", quantityList=[{"epcClass": t(code)}], **{"gt:reason": "抽检发现问题"})
    response = post(client, raw, document(declared, fix, recall))
    assert response.status_code == 201, response.get_json()
    assert [e["status"] for e in response.get_json()["events"]] == ["already_captured", "captured", "captured"]
    session.expire_all()
    batch = session.exec(select(Batch).where(Batch.code == code)).one()
    assert batch.is_withdrawn and batch.withdrawn_reason == "抽检发现问题"
    rows = list(session.exec(select(Event).where(Event.batch_id == batch.id).order_by(Event.seq)))
    assert rows[3].data["moisture_pct"] == 11.5  # the original stays as it was
    assert rows[5].corrects_event_id == rows[3].id and rows[5].data["moisture_pct"] == 11.9
    exported = {e["eventID"]: e for e in epcis.build_document(session, [batch], BASE)["epcisBody"]["eventList"]}
    assert exported[events[3]["eventID"]]["errorDeclaration"] == {
        "declarationTime": "2025-08-20T02:00:00.000+00:00", "reason": "incorrect_data",
        "correctiveEventIDs": [fix["eventID"]]}
    assert exported[fix["eventID"]]["gt:corrects"] == events[3]["eventID"]
    assert exported[recall["eventID"]]["disposition"] == "recalled"


# --- refusals: every refused event named with its field, nothing written -----------------------------------

def test_a_document_the_epcis_schema_refuses_names_the_event_and_field_and_writes_nothing(client, session, grower):
    code = codes.new_code()
    events = _season(code, grower.plot.id)
    del events[2]["eventTime"]
    before = counts(session)
    refusals = refused(post(client, token(session, grower.user), document(*events)))
    assert refusals[0]["index"] == 2 and refusals[0]["field"] == "epcisBody.eventList[2].eventTime"
    assert refusals[0]["eventID"] == events[2]["eventID"] and "schema" in refusals[0]["message"]
    assert counts(session) == before


def test_stage_order_and_mass_balance_refusals_list_every_event_and_write_nothing(client, session, grower):
    code = codes.new_code()
    raw = token(session, grower.user)
    early_storage = storage(fresh(code), when="2025-05-01T09:00:00+08:00")  # after planting, before any harvest
    too_much = event("ObjectEvent", "2025-08-10T10:00:00+08:00", action="OBSERVE", bizStep="shipping",
                     disposition="in_transit", quantityList=[kg(t(code), 500.0)], **{"gt:recipient": "某超市"})
    events = [early_storage, *_season(code, grower.plot.id), too_much]
    before = counts(session)
    refusals = refused(post(client, raw, document(*events)))
    by_index = {r["index"]: r for r in refusals}
    assert set(by_index) == {0, 6}, refusals
    assert by_index[0]["field"] == "epcisBody.eventList[0].bizStep" and "Stage order" in by_index[0]["message"]
    assert by_index[6]["field"] == "epcisBody.eventList[6].quantityList[0].quantity"
    assert "240" in by_index[6]["message"], by_index[6]
    assert counts(session) == before


def test_another_partys_batch_or_gtin_is_refused(client, session, grower):
    other = Grower.make(session)
    theirs = other.harvested(session)
    line = ProductLine(producer_id=other.producer.id, product_id=goji(session).id, gtin14="06901234567892",
                       name="别家的产品", product_form="dried")
    session.add(line)
    session.commit()
    before = counts(session)
    refusals = refused(post(client, token(session, grower.user), document(
        storage(t(theirs.code), when="2025-07-20T09:00:00+08:00"),
        harvest(dl("06901234567892", "X-1"), grower.plot.id, 100.0))))
    assert [r["field"] for r in refusals] == ["epcisBody.eventList[0].quantityList[0].epcClass",
                                              "epcisBody.eventList[1].quantityList[0].epcClass"]
    assert "not one of your batches" in refusals[0]["message"]
    assert "another party's product line" in refusals[1]["message"]
    assert counts(session) == before


def test_certification_info_of_a_party_not_authorised_is_refused_as_unauthorised_use_of_the_gi_mark(
        client, session):
    unlicensed = ProducerFactory()
    user = producer_user(unlicensed)
    field = PlotFactory(producer_id=unlicensed.id)
    session.commit()
    claim = harvest(t(codes.new_code()), field.id, 100.0)
    claim["certificationInfo"] = "https://trace.example.cn/authorised-users?product=zhongning-goji"
    plain = harvest(t(codes.new_code()), field.id, 100.0)
    before = counts(session)
    refusals = refused(post(client, token(session, user), document(claim, plain)))
    assert refusals[0]["field"] == "epcisBody.eventList[0].certificationInfo"
    assert "unauthorised use of the GI mark" in refusals[0]["message"]
    # Without the claim the batch is still refused: only an authorised producer opens a batch.
    assert refusals[1]["field"] == "epcisBody.eventList[1].quantityList[0].epcClass"
    assert "not applied for authorisation" in refusals[1]["message"]
    assert counts(session) == before


IMIDACLOPRID = "https://identifiers.org/inchikey:YWTYJOPNNQFBPC-UHFFFAOYSA-N"
ACETAMIPRID = "https://identifiers.org/inchikey:WCXDHFDTOYPNIE-RIYZIHGNSA-N"
UNKNOWN_KEY = "https://identifiers.org/inchikey:AAAAAAAAAAAAAA-BBBBBBBBSA-N"


def _with_residues(events: list[dict], *reports: dict) -> list[dict]:
    """The season with these residue reports added to its test (events[3])."""
    added = [{"type": "Dimensionless", "uom": "NA", **r} for r in reports]
    events[3]["sensorElementList"][0]["sensorReport"] += added
    return events


def test_a_residue_named_only_by_a_known_inchikey_is_recorded_under_its_chinese_name(client, session, grower):
    code = codes.new_code()
    events = _with_residues(_season(code, grower.plot.id),
                            {"chemicalSubstance": ACETAMIPRID, "value": 0.02},
                            {"chemicalSubstance": IMIDACLOPRID, "gt:substance": "Imidacloprid", "value": 0.005})
    # (the name sent is kept: the limits know 吡虫啉, so "Imidacloprid" is held to the default 0.01 mg/kg)
    assert post(client, token(session, grower.user), document(*events)).status_code == 201
    session.expire_all()
    batch = session.exec(select(Batch).where(Batch.code == code)).one()
    test = session.exec(select(Event).where(Event.batch_id == batch.id, Event.stage == "testing")).one()
    assert test.data["residues"] == [{"substance": "啶虫脒", "mg_per_kg": 0.02},
                                     {"substance": "Imidacloprid", "mg_per_kg": 0.005}]
    assert batch.test_state == "passed"
    exported = next(e for e in epcis.build_document(session, [batch], BASE)["epcisBody"]["eventList"]
                    if e["bizStep"] == "inspecting")
    residues = [r for r in exported["sensorElementList"][0]["sensorReport"] if "gt:substance" in r]
    assert [(r["chemicalSubstance"], r["gt:substance"], r["value"]) for r in residues] == [
        (ACETAMIPRID, "啶虫脒", 0.02), (IMIDACLOPRID, "Imidacloprid", 0.005)]


@pytest.mark.parametrize("report, words", [
    ({"chemicalSubstance": UNKNOWN_KEY, "value": 0.02}, "does not know"),
    ({"chemicalSubstance": ACETAMIPRID, "gt:substance": "吡虫啉", "value": 0.02}, "another substance")])
def test_a_residue_by_an_unknown_inchikey_alone_or_by_a_key_contradicting_its_name_is_refused(
        client, session, grower, report, words):
    events = _with_residues(_season(codes.new_code(), grower.plot.id), report)
    before = counts(session)
    refusals = refused(post(client, token(session, grower.user), document(*events)))
    assert refusals[0]["index"] == 3 and refusals[0]["eventID"] == events[3]["eventID"]
    field = "epcisBody.eventList[3].sensorElementList[0].sensorReport[3].chemicalSubstance"
    assert refusals[0]["field"] == field
    assert words in refusals[0]["message"] and report["chemicalSubstance"] in refusals[0]["message"]
    assert counts(session) == before


def test_a_recalled_batch_takes_no_more_events(client, session, grower):
    batch = grower.tested(session)
    services.withdraw(session, grower.user, batch, "抽检不合格", occurred_at="2025-07-20T09:00:00+08:00")
    session.commit()
    before = counts(session)
    refusals = refused(post(client, token(session, grower.user), document(storage(t(batch.code)))))
    assert refusals[0]["field"] == "epcisBody.eventList[0].quantityList[0].epcClass"
    assert "withdrawn" in refusals[0]["message"]
    assert counts(session) == before


@pytest.mark.parametrize("lang, words", [("zh", "请先提交产生该批次的事件"), ("en", "capture the event that makes it first")])
def test_refusals_are_in_the_requests_language(client, session, grower, lang, words):
    wrong = storage(t(codes.new_code()))
    answer = post(client, token(session, grower.user), document(wrong), lang=lang)
    assert words in refused(answer)[0]["message"]
    assert words in answer.get_json()["error"]["message"]


def test_an_event_of_a_kind_this_system_does_not_record_is_refused_not_dropped(client, session, grower):
    odd = event("ObjectEvent", "2025-08-10T10:00:00+08:00", action="DELETE", bizStep="decommissioning",
                quantityList=[{"epcClass": t(codes.new_code())}])
    before = counts(session)
    refusals = refused(post(client, token(session, grower.user), document(odd)))
    assert refusals[0]["field"] == "epcisBody.eventList[0].bizStep"
    assert "cannot be captured here" in refusals[0]["message"]
    assert counts(session) == before


# --- the body: size, syntax, media type ----------------------------------------------------------------

def test_an_oversize_body_is_413_malformed_json_400_another_media_type_415_all_json(app, client, session, grower):
    raw = token(session, grower.user)
    app.config["EPCIS_CAPTURE_MAX_BYTES"] = 1000
    big = post(client, raw, document(*_season(codes.new_code(), grower.plot.id)))
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "request_entity_too_large"
    del app.config["EPCIS_CAPTURE_MAX_BYTES"]
    for body in (b"{\"type\": \"EPCISDocument\",", b"\xff\xfe", b"[" * 100000 + b"]" * 100000, b"NaN"):
        bad = post(client, raw, body)
        assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "body", (body[:10], bad.status_code)
    other = post(client, raw, document(), content_type="text/plain")
    assert other.status_code == 415 and other.is_json
    not_a_document = post(client, raw, {"type": "ObjectEvent"}, content_type="application/json")
    assert refused(not_a_document)[0]["field"] == "type"

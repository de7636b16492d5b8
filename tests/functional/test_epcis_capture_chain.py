"""EPCIS capture of what moves goods between batches: split, merge and processing (one TransformationEvent each),
unit codes commissioned and packed into their lot, and hand-overs between parties (shipping, receiving, returns,
a buyer's purchase) — each through the same services as the portal, exported again with the eventIDs sent."""
from __future__ import annotations

from sqlmodel import select

from gi_trace.tracing import codes, epcis
from gi_trace.tracing.models import Batch, BatchLink, Event, ProductLine, Purchase, Shipment, UnitCode
from tests.epcis_capture_support import (BASE, grower,  # noqa: F401 (grower: a fixture)
                                         HOST, counts, dl, document, drying, event, fresh, harvest, kg, lab_test,
                                         party, planting, post, refused, t, token)
from tests.factories import goji
from tests.factories_tracing import Grower


def transformation(stage, inputs, outputs, when="2025-08-01T10:00:00+08:00", **extra):
    return event("TransformationEvent", when, inputQuantityList=inputs, outputQuantityList=outputs,
                 bizStep="repackaging" if stage in ("split", None) else "commissioning", disposition="active",
                 **({"gt:stage": stage} if stage else {}), **extra)


def exported(session, batch) -> dict[str, dict]:
    session.expire_all()
    return {e["eventID"]: e for e in epcis.build_document(session, [batch], BASE)["epcisBody"]["eventList"]}


def test_split_merge_and_processing_are_one_lineage_operation_each(client, session, grower):
    harvest = grower.tested(session)  # 240 kg dried, tested
    session.commit()
    a, b, merged, powder, juice = (codes.new_code() for _ in range(5))
    split = transformation(None, [kg(t(harvest.code), 100.0)], [kg(t(a), 60.0), kg(t(b), 40.0)],
                           **{"gt:outputs": [{"gt:epcClass": t(a), "gt:lot": "L-A"}, {"gt:epcClass": t(b), "gt:lot": "L-B"}]})
    merge = transformation("merge", [kg(t(a), 60.0), kg(t(b), 40.0)], [kg(t(merged), 100.0)],
                           when="2025-08-02T10:00:00+08:00", ilmd={"cbvmda:lotNumber": "M-1"})
    process = transformation("processing", [kg(t(merged), 80.0)], [kg(t(powder), 30.0), kg(t(juice), 40.0)],
                             when="2025-08-03T10:00:00+08:00", **{"gt:process": "粉碎、榨汁", "gt:outputs": [
                                 {"gt:epcClass": t(powder), "gt:productForm": "powder"},
                                 {"gt:epcClass": t(juice), "gt:productForm": "juice", "gt:lot": "J-1"}]})
    response = post(client, token(session, grower.user), document(split, merge, process))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    made = {b.code: b for b in session.exec(select(Batch).where(Batch.code.in_([a, b, merged, powder, juice])))}
    assert [(made[c].kind, made[c].producer_lot, made[c].quantity_kg) for c in (a, b, merged, powder, juice)] == [
        ("lot", "L-A", 60.0), ("lot", "L-B", 40.0), ("merged", "M-1", 100.0), ("processed", None, 30.0),
        ("processed", "J-1", 40.0)]
    assert (made[powder].product_form, made[juice].product_form) == ("powder", "juice")
    assert session.get(Batch, harvest.id).out_kg == 100.0 and made[merged].out_kg == 80.0
    links = session.exec(select(BatchLink).where(BatchLink.child_id == made[merged].id)).all()
    assert sorted(link.quantity_kg for link in links) == [40.0, 60.0]
    # One operation, one event, with the eventID sent, in the export of every batch it touches.
    for event_id, batch in ((split["eventID"], harvest), (split["eventID"], made[b]), (merge["eventID"], made[a]),
                            (process["eventID"], made[juice])):
        assert event_id in exported(session, batch)
    processed = exported(session, made[merged])[process["eventID"]]
    assert processed["transformationID"] == process["eventID"] and processed["gt:stage"] == "processing"
    assert processed["outputQuantityList"] == [kg(f"{BASE}/t/{powder}", 30.0), kg(f"{BASE}/t/{juice}", 40.0)]


def test_a_split_giving_more_than_it_takes_is_refused_and_writes_nothing(client, session, grower):
    harvest = grower.tested(session)
    session.commit()
    before = counts(session)
    greedy = transformation("split", [kg(t(harvest.code), 100.0)], [kg(t(codes.new_code()), 150.0)])
    took_too_much = transformation("split", [kg(t(harvest.code), 300.0)], [kg(t(codes.new_code()), 300.0)])
    refusals = refused(post(client, token(session, grower.user), document(greedy, took_too_much)))
    assert [r["field"] for r in refusals] == ["epcisBody.eventList[0].outputQuantityList",
                                              "epcisBody.eventList[1].inputQuantityList[0].quantity"]
    assert "Mass balance" in refusals[0]["message"] and "240" in refusals[1]["message"]
    assert counts(session) == before


def test_unit_codes_are_commissioned_with_their_codes_and_packed_into_their_lot(client, session, grower):
    line = ProductLine(producer_id=grower.producer.id, product_id=goji(session).id, gtin14="06901234567892",
                       name="中宁枸杞 250 g", product_form="dried", package_kg=0.25)
    session.add(line)
    session.flush()
    batch = grower.tested(session, producer_lot="GX-1", product_line_id=line.id)
    session.commit()
    packages = [codes.new_code() for _ in range(3)]
    epcs = [dl("06901234567892", "GX-1", code) for code in packages]
    commission = event("ObjectEvent", "2025-08-20T09:00:00.000+08:00", epcList=epcs, action="ADD",
                       bizStep="commissioning", disposition="active", ilmd={"cbvmda:lotNumber": "GX-1"})
    packing = event("AggregationEvent", "2025-08-20T09:00:00.000+08:00", parentID=t(batch.code), childEPCs=epcs,
                    action="ADD", bizStep="packing", disposition="active")
    response = post(client, token(session, grower.user), document(commission, packing))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["events"][0]["records"] == [{"kind": "units", "batch": batch.code, "first": 1,
                                                            "last": 3}]
    session.expire_all()
    units = session.exec(select(UnitCode).where(UnitCode.batch_id == batch.id).order_by(UnitCode.serial)).all()
    assert [u.code for u in units] == packages and {u.package_kg for u in units} == {0.25}
    found = exported(session, batch)
    assert found[commission["eventID"]]["epcList"] == [f"{BASE}/01/06901234567892/10/GX-1/21/{c}" for c in packages]
    assert found[commission["eventID"]]["eventTime"] == "2025-08-20T09:00:00.000+08:00"
    assert found[packing["eventID"]]["parentID"] == f"{BASE}/t/{batch.code}"
    # A code already in use is refused, naming the packages.
    again = event("ObjectEvent", "2025-08-21T09:00:00+08:00", epcList=[dl("06901234567892", "GX-1", packages[0])],
                  action="ADD", bizStep="commissioning", disposition="active")
    before = counts(session)
    refusal = refused(post(client, token(session, grower.user), document(again)))[0]
    assert refusal["field"] == "epcisBody.eventList[0].epcList" and "already in use" in refusal["message"]
    assert counts(session) == before


def test_a_gtin_lot_first_named_by_its_trace_code_gets_its_lot_and_line_from_the_same_document(client, session,
                                                                                               grower):
    """Before drying a batch's goods are its `/id/batch/<code>/fresh` class; the drying names its lot's Digital Link
    and the packing its trace code: the batch opened by the planting takes code, lot and line from the document."""
    line = ProductLine(producer_id=grower.producer.id, product_id=goji(session).id, gtin14="06901234567892",
                       name="中宁枸杞 250 g", product_form="dried", package_kg=0.25)
    session.add(line)
    session.commit()
    code, packages = codes.new_code(), [codes.new_code() for _ in range(2)]
    lot = dl("06901234567892", "GX-9")
    epcs = [dl("06901234567892", "GX-9", c) for c in packages]
    events = [planting(fresh(code), grower.plot.id), harvest(fresh(code), grower.plot.id, 1000.0),
              drying(code, lot, 1000.0, 240.0), lab_test(lot),
              event("ObjectEvent", "2025-08-20T09:00:00.000+08:00", epcList=epcs, action="ADD",
                    bizStep="commissioning", disposition="active"),
              event("AggregationEvent", "2025-08-20T09:00:00.000+08:00", parentID=t(code), childEPCs=epcs,
                    action="ADD", bizStep="packing", disposition="active")]
    response = post(client, token(session, grower.user), document(*events))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    batch = session.exec(select(Batch).where(Batch.code == code)).one()
    assert (batch.producer_lot, batch.product_line_id, batch.units_issued) == ("GX-9", line.id, 2)
    found = exported(session, batch)
    assert list(found) == [e["eventID"] for e in events]
    assert found[events[3]["eventID"]]["quantityList"] == [{"epcClass": f"{BASE}/01/06901234567892/10/GX-9"}]
    assert found[events[4]["eventID"]]["epcList"] == [f"{BASE}/01/06901234567892/10/GX-9/21/{c}" for c in packages]


def _handover(step, disposition, cls, quantity, sender, receiver, when, **extra):
    return event("ObjectEvent", when, action="OBSERVE", bizStep=step, disposition=disposition,
                 quantityList=[kg(cls, quantity)],
                 sourceList=[{"type": "owning_party", "source": party(sender.code)}],
                 destinationList=[{"type": "owning_party", "destination": party(receiver.code)}], **extra)


def _waybill(number):
    return [{"type": "desadv", "bizTransaction": f"{HOST}/id/document/{number}"}]


def test_a_shipment_is_shipped_by_its_sender_and_received_or_returned_by_its_receiver(client, session, grower):
    buyer = Grower.make(session)
    batch = grower.tested(session)
    session.commit()
    seller_token, buyer_token = token(session, grower.user), token(session, buyer.user)
    sent = _handover("shipping", "in_transit", t(batch.code), 50.0, grower.producer, buyer.producer,
                     "2025-08-10T08:00:00+08:00", bizTransactionList=_waybill("YD-1"))
    refused_goods = _handover("shipping", "in_transit", t(batch.code), 20.0, grower.producer, buyer.producer,
                              "2025-08-11T08:00:00+08:00", bizTransactionList=_waybill("YD-2"))
    assert post(client, seller_token, document(sent, refused_goods)).status_code == 201
    arrived = codes.new_code()
    receipt = _handover("receiving", "in_progress", t(arrived), 49.5, grower.producer, buyer.producer,
                        "2025-08-10T16:00:00+08:00", bizTransactionList=_waybill("YD-1"), **{"gt:lot": "RK-1"})
    back = _handover("receiving", "returned", t(batch.code), 20.0, grower.producer, buyer.producer,
                     "2025-08-11T15:00:00+08:00", bizTransactionList=_waybill("YD-2"), **{"gt:reason": "包装破损"})
    response = post(client, buyer_token, document(receipt, back))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    shipments = {s.document_no: s for s in session.exec(select(Shipment))}
    assert (shipments["YD-1"].status, shipments["YD-1"].received_kg, shipments["YD-1"].loss_kg) == ("received", 49.5,
                                                                                                     0.5)
    assert (shipments["YD-2"].status, shipments["YD-2"].reject_reason) == ("rejected", "包装破损")
    received = session.exec(select(Batch).where(Batch.code == arrived)).one()
    assert (received.producer_id, received.kind, received.producer_lot) == (buyer.producer.id, "received", "RK-1")
    assert session.get(Batch, batch.id).out_kg == 50.0  # the refused 20 kg came back
    found = exported(session, batch)
    for item in (sent, refused_goods, receipt, back):
        assert item["eventID"] in found
    assert found[back["eventID"]]["gt:reason"] == "包装破损" and found[receipt["eventID"]]["gt:lot"] == "RK-1"


def test_a_buyer_records_a_market_purchase_as_shipping_and_receiving_at_one_time(client, session, grower):
    buyer = Grower.make(session)
    batch = grower.tested(session)
    session.commit()
    raw = token(session, buyer.user)
    shipped = _handover("shipping", "in_transit", t(batch.code), 30.0, grower.producer, buyer.producer,
                        "2025-08-01T09:10:00+08:00")
    alone = refused(post(client, raw, document(shipped)))[0]
    assert alone["field"] == "epcisBody.eventList[0].sourceList" and "recorded by its sender" in alone["message"]
    new = codes.new_code()
    received = _handover("receiving", "in_progress", t(new), 30.0, grower.producer, buyer.producer,
                         "2025-08-01T09:10:00+08:00")
    response = post(client, raw, document(received, shipped))  # any order in the document
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    purchase = session.exec(select(Purchase)).one()
    assert purchase.buyer_id == buyer.producer.id and purchase.source_batch_id == batch.id
    bought = session.exec(select(Batch).where(Batch.code == new)).one()
    assert bought.producer_id == buyer.producer.id and bought.quantity_kg == 30.0
    assert {shipped["eventID"], received["eventID"]} <= set(exported(session, bought))


def _declared_purchase(cls, quantity, buyer, town, when="2025-08-03T09:00:00+08:00", **extra):
    ilmd = {"gt:origin": "declared", **({"gt:declaredTown": f"{HOST}/id/town/{town}"} if town else {})}
    return event("ObjectEvent", when, action="ADD", bizStep="receiving", disposition="in_progress",
                 quantityList=[kg(cls, quantity)], ilmd=ilmd,
                 destinationList=[{"type": "owning_party", "destination": party(buyer.code)}],
                 **{"gt:stage": "purchase", **extra})


def test_a_purchase_from_a_farmer_not_registered_opens_a_batch_of_declared_origin(client, session, grower):
    town = grower.producer.town_code
    raw = token(session, grower.user)
    new = codes.new_code()
    bought = _declared_purchase(t(new), 42.5, grower.producer, town, **{"gt:grade": "特级", "gt:sellerName": "马某",
                                                                        "gt:lot": "SG-2025-08-03"})
    response = post(client, raw, document(bought))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    batch = session.exec(select(Batch).where(Batch.code == new)).one()
    assert (batch.producer_id, batch.kind, batch.quantity_kg, batch.producer_lot, batch.origin_state) == (
        grower.producer.id, "purchased", 42.5, "SG-2025-08-03", "declared")
    purchase = session.exec(select(Purchase).where(Purchase.batch_id == batch.id)).one()
    assert (purchase.seller_id, purchase.seller_name, purchase.town_code, purchase.grade) == (None, "马某", town, "特级")
    again = exported(session, batch)[bought["eventID"]]
    assert again["ilmd"] == {"gt:origin": "declared", "gt:declaredTown": f"{BASE}/id/town/{town}"}
    assert "sourceList" not in again and "gt:sellerName" not in again  # the farmer's name never leaves


def test_a_declared_purchase_without_its_town_or_naming_a_seller_party_is_refused(client, session, grower):
    seller = Grower.make(session)
    session.commit()
    before = counts(session)
    town = grower.producer.town_code
    no_town = _declared_purchase(t(codes.new_code()), 10.0, grower.producer, None)
    unknown = _declared_purchase(t(codes.new_code()), 10.0, grower.producer, "640599999999",
                                 when="2025-08-04T09:00:00+08:00")
    with_seller = _declared_purchase(t(codes.new_code()), 10.0, grower.producer, town,
                                     when="2025-08-05T09:00:00+08:00",
                                     sourceList=[{"type": "owning_party", "source": party(seller.producer.code)}])
    refusals = refused(post(client, token(session, grower.user), document(no_town, unknown, with_seller)))
    assert {r["index"]: r["field"] for r in refusals} == {0: "epcisBody.eventList[0].ilmd.gt:declaredTown",
                                                          1: "epcisBody.eventList[1].ilmd.gt:declaredTown",
                                                          2: "epcisBody.eventList[2].sourceList"}
    assert counts(session) == before


def test_receiving_what_nobody_shipped_or_shipping_anothers_batch_is_refused(client, session, grower):
    other = Grower.make(session)
    theirs = other.tested(session)
    session.commit()
    before = counts(session)
    phantom = _handover("receiving", "in_progress", t(codes.new_code()), 10.0, other.producer, grower.producer,
                        "2025-08-10T16:00:00+08:00")
    stolen = _handover("shipping", "in_transit", t(theirs.code), 10.0, other.producer, grower.producer,
                       "2025-08-10T08:00:00+08:00", **{"gt:note": "x"})
    refusals = refused(post(client, token(session, grower.user), document(phantom, stolen)))
    assert {r["index"]: r["field"] for r in refusals} == {0: "epcisBody.eventList[0].sourceList",
                                                          1: "epcisBody.eventList[1].sourceList"}
    assert counts(session) == before
    assert session.exec(select(Event).where(Event.batch_id == theirs.id)).all()

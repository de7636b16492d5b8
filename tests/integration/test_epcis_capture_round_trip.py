"""Issue 13's round trip: the EPCIS export of a batch family that crosses owners (households' harvests → two dealers'
purchases, blends, a test and its correction → the processor's intake, processing and packages with unit codes),
captured into a database holding the same master data only, exports again the same events.

The fresh database is the test database emptied and given back its master data rows (regions, products and their
limits, parties, plots and their inputs, accounts, product lines, GS1 prefixes, authorisation decisions): no batch,
event, shipment or unit code. Each owning party captures its own events with its own API token, in dependency
order (households, then dealers, then the processor), as their own systems would send them.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from jsonschema import Draft7Validator
from sqlalchemy import text
from sqlmodel import SQLModel, select

from gi_trace.accounts import services as accounts
from gi_trace.accounts.models import User
from gi_trace.db import get_engine
from gi_trace.registry.models import Producer
from gi_trace.tracing import epcis, lineage, services
from gi_trace.tracing.epcis_capture.identify import read_ref
from gi_trace.tracing.epcis_ids import event_uuid
from gi_trace.tracing.models import Batch, Event, Purchase, Shipment, UnitCode
from gi_trace.tracing.models_capture import CapturedEvent
from gi_trace.tracing.services import EventInput
from tests.conftest import IS_POSTGRES, _empty_tables
from tests.epcis_capture_support import post

BASE = "https://trace.example.cn"
SCHEMA = Path(__file__).resolve().parents[2] / "gi_trace/tracing/epcis_capture/EPCIS-JSON-Schema.json"
# Master data: what the fresh database holds before the capture (everything else starts empty).
MASTER = ("region", "product", "productregistration", "producttown", "productlimits", "producer", "producerproduct",
          "trademark", "companyprefix", "plot", "plotinput", "outputrecord", "sectortotal", "user",
          "authorisationdecision", "productline")
KIND_ORDER = {"household": 0, "trader": 1, "processor": 2}


def _family(session, root: Batch) -> list[Batch]:
    found = lineage.trace(session, root, "backward")
    return [root, *session.exec(select(Batch).where(Batch.id.in_(list(found.nodes)))).all()]


def _owner(session, item: dict, purchases: dict[str, int]) -> int:
    """The party whose system records the event (a purchase's shipping: the buyer; receipts: the receiver)."""
    if item["eventID"] in purchases:
        return purchases[item["eventID"]]
    if item.get("destinationList") and item.get("bizStep") == "receiving":
        code = item["destinationList"][0]["destination"].rsplit("/", 1)[-1]  # /id/party/<USCC> or /417/<GLN>
        return session.exec(select(Producer).where((Producer.uscc == code) | (Producer.gln == code))).one().id
    uris = [q["epcClass"] for key in ("quantityList", "inputQuantityList") for q in item.get(key, [])]
    uris += item.get("epcList", []) + ([item["parentID"]] if "parentID" in item else [])
    ref = read_ref(uris[0])
    code = ref.serial or ref.code
    batch = session.exec(select(Batch).where(Batch.code == code)).first()
    if batch is None:
        batch = session.get(Batch, session.exec(select(UnitCode).where(UnitCode.code == code)).one().batch_id)
    return batch.producer_id


def _fresh_database(engine, master: dict[str, list[dict]]) -> None:
    """Empty every table, then give the master data tables their rows back (same ids)."""
    _empty_tables(engine)
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = master.get(table.name)
            if not rows:
                continue
            if table.name == "plotinput":
                rows = [{**row, "event_id": None} for row in rows]  # the harvest an input flagged is gone
            primary = [c.name for c in table.primary_key.columns]
            # Parents before children: regions by the length of their code, others by their key.
            key = (lambda r: (len(r["code"]), r["code"])) if table.name == "region" else (
                lambda r: tuple(r[name] for name in primary))
            conn.execute(table.insert(), sorted(rows, key=key))
            if IS_POSTGRES and "id" in table.c:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                                  f"(SELECT MAX(id) FROM \"{table.name}\"))"))


def _empty_but_master_data(app, session, party_ids) -> dict[int, str]:
    """Empty the database but its master data, then give each party's system an API token (by party id)."""
    engine = get_engine(app)
    with engine.connect() as conn:
        master = {t.name: [dict(r) for r in conn.execute(t.select()).mappings()]
                  for t in SQLModel.metadata.sorted_tables if t.name in MASTER}
    session.close()
    _fresh_database(engine, master)
    assert session.exec(select(Batch)).first() is None and session.exec(select(Event)).first() is None
    tokens = {}
    for party_id in party_ids:
        user = session.exec(select(User).where(User.producer_id == party_id).order_by(User.id)).first()
        user.is_active = True  # the demo's households keep no login: their systems get one here
        session.add(user)
        tokens[party_id] = accounts.create_token(session, user, "ERP")[1]
    session.commit()
    return tokens


def _comparable(document: dict) -> dict[str, dict]:
    # recordTime is the capturing repository's own time (EPCIS 2.0: when the event was recorded there), so it is
    # the one field that differs between the original and the captured copy.
    return {e["eventID"]: {k: v for k, v in e.items() if k != "recordTime"} for e in document["epcisBody"]["eventList"]}


def test_an_export_across_owners_captured_into_an_empty_database_exports_the_same_events(app, runner, client,
                                                                                        session):
    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    processor = session.exec(select(Producer).where(Producer.kind == "processor")).one()
    root = session.exec(select(Batch).where(Batch.producer_id == processor.id, Batch.units_issued > 0,
                                            Batch.product_form == "dried")).one()
    family = _family(session, root)
    # A dealer corrects its blend's test (a new event; the old one gets an errorDeclaration in the export).
    blend = next(b for b in family if b.kind == "merged" and b.producer_lot == "QX-2025-08-A")
    tested = session.exec(select(Event).where(Event.batch_id == blend.id, Event.stage == "testing")).one()
    dealer = session.exec(select(User).where(User.producer_id == blend.producer_id)).one()
    services.record_event(session, dealer, blend, EventInput(
        stage="testing", occurred_at="2025-08-13T10:00:00+08:00", corrects_event_id=tested.id,
        correction_reason="报告编号录入错误", data={**{k: v for k, v in tested.data.items() if k != "limits"},
                                                      "report_no": "NX-2025-0813-A01"}))
    session.commit()
    original = epcis.build_document(session, family, BASE, root=root)
    assert not list(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(original))
    events = original["epcisBody"]["eventList"]
    steps = {(e["type"], e.get("bizStep"), e.get("gt:stage")) for e in events}
    assert {("ObjectEvent", "commissioning", None), ("TransformationEvent", "commissioning", "drying"),
            ("ObjectEvent", "inspecting", None), ("TransformationEvent", "commissioning", "merge"),
            ("TransformationEvent", "commissioning", "processing"), ("ObjectEvent", "shipping", None),
            ("ObjectEvent", "receiving", None), ("AggregationEvent", "packing", None)} <= steps
    assert any("errorDeclaration" in e for e in events) and any("gt:corrects" in e for e in events)
    owners = {p.id: p for p in session.exec(select(Producer))}
    purchases = {event_uuid(f"shipment:{s.op_id}:shipping"): s.to_party_id
                 for s in session.exec(select(Shipment).where(Shipment.purchase_id.is_not(None)))}
    by_owner: dict[int, list[dict]] = {}
    for item in events:
        by_owner.setdefault(_owner(session, item, purchases), []).append(item)
    assert {owners[p].kind for p in by_owner} == {"household", "trader", "processor"} and len(by_owner) > 10

    tokens = _empty_but_master_data(app, session, by_owner)

    for party_id in sorted(by_owner, key=lambda p: (KIND_ORDER[owners[p].kind], p)):
        sent = dict(original, epcisBody={"eventList": by_owner[party_id]})
        response = post(client, tokens[party_id], sent)
        assert response.status_code == 201, (owners[party_id].name, response.get_json())
        assert response.get_json()["captured"] == len(by_owner[party_id]), response.get_json()
    session.expire_all()
    assert len(session.exec(select(CapturedEvent)).all()) == len(events)

    captured_root = session.exec(select(Batch).where(Batch.code == root.code)).one()
    again = epcis.build_document(session, _family(session, captured_root), BASE, root=captured_root)
    assert _comparable(again) == _comparable(original)
    assert again["epcisHeader"] == original["epcisHeader"]  # the plots behind it, with their inputs
    # Capturing the whole export once more changes nothing.
    repeat = post(client, tokens[processor.id], dict(original, epcisBody={"eventList": by_owner[processor.id]}))
    assert repeat.status_code == 200 and repeat.get_json()["captured"] == 0


def _sent_in_order(session, events: list[dict], purchases: dict[str, int]) -> list[tuple[int, list[dict]]]:
    """The events as the parties' systems send them over time: by eventTime (an event derived from a withdrawal
    after the withdrawal of the same instant), each run of one party's consecutive events as one document, so no
    party sends an event before what it depends on in another party's record exists."""
    def when(item: dict):
        return datetime.fromisoformat(item["eventTime"].replace("Z", "+00:00")), "gt:withdrawnBatch" in item

    runs: list[tuple[int, list[dict]]] = []
    for item in sorted(events, key=when):
        owner = _owner(session, item, purchases)
        if runs and runs[-1][0] == owner:
            runs[-1][1].append(item)
        else:
            runs.append((owner, [item]))
    return runs


def test_the_whole_demo_captured_into_an_empty_database_exports_the_same_events(app, runner, client, session):
    """Every batch of the demo — its households, the market purchases from farmers not registered here (origin
    declared), the dealers' blends, the processor's products and packages, and the recall of a batch already sold
    on and packed — exported, captured by each party's own system as the events happened, exports the same."""
    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    batches = list(session.exec(select(Batch).order_by(Batch.id)).all())
    original = epcis.build_document(session, batches, BASE)
    assert not list(Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(original))
    events = original["epcisBody"]["eventList"]
    kinds = {(e["type"], e.get("action"), e.get("bizStep"), e.get("gt:stage")) for e in events}
    # What the processor's family alone does not hold: purchases of declared origin, a withdrawal and its reach.
    assert {("ObjectEvent", "ADD", "receiving", "purchase"), ("ObjectEvent", "OBSERVE", "holding", None)} <= kinds
    declared = [e for e in events if e.get("gt:stage") == "purchase"]
    assert all(e["ilmd"]["gt:declaredTown"].startswith(f"{BASE}/id/town/") and "sourceList" not in e for e in declared)
    assert any("gt:withdrawnBatch" in e for e in events)
    purchases = {event_uuid(f"shipment:{s.op_id}:shipping"): s.to_party_id
                 for s in session.exec(select(Shipment).where(Shipment.purchase_id.is_not(None)))}
    runs = _sent_in_order(session, events, purchases)
    party_ids = {owner for owner, _ in runs}

    tokens = _empty_but_master_data(app, session, party_ids)

    for party_id, sent_events in runs:
        response = post(client, tokens[party_id], dict(original, epcisBody={"eventList": sent_events}))
        assert response.status_code in (200, 201), response.get_json()
        statuses = {r["eventID"]: r["status"] for r in response.get_json()["events"]}
        # A member's recall event is already recorded once its withdrawal is; everything else is new.
        assert all(s == ("already_captured" if "gt:withdrawnBatch" in e else "captured")
                   for e in sent_events for s in [statuses[e["eventID"]]]), response.get_json()
    session.expire_all()
    again = epcis.build_document(session, list(session.exec(select(Batch).order_by(Batch.id)).all()), BASE)
    assert _comparable(again) == _comparable(original)
    # The purchases of declared origin keep their town and grade, and name no seller.
    captured = session.exec(select(Purchase).where(Purchase.seller_id.is_(None))).all()
    assert len(captured) == len(declared) and all(p.town_code and not p.source_batch_id for p in captured)

"""Parties' GLNs (GS1 Global Location Number, AI 417) end to end: recorded on the producer page and by import,
shown in the register's JSON, named `/417/<gln>` in the EPCIS export, answered by the resolver, and read back
by EPCIS capture."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlmodel import select

from gi_trace.registry.gln import check_digit
from gi_trace.registry.imports import import_file
from gi_trace.registry.models import Producer
from gi_trace.tracing import epcis
from gi_trace.tracing.models import Batch, Shipment
from tests import factories
from tests.conftest import csrf_token, login
from tests.epcis_capture_support import BASE, document, event, kg, party, post as capture, refused, t, token
from tests.factories_tracing import Grower
from tests.functional.test_tracing_api import bearer, post
from tests.integration.test_registry_import import csv_bytes


def gln_of(body: str) -> str:
    return body + str(check_digit(body))


GLN_A, GLN_B = gln_of("697123499001"), gln_of("697123499002")
BAD_CHECK = GLN_A[:-1] + str((int(GLN_A[-1]) + 1) % 10)


def _error_beside(html: str, field_id: str) -> bool:
    return re.search(r'class="field has-error">\s*<label for="' + re.escape(field_id) + '"', html) is not None


def test_regulator_records_changes_and_clears_a_gln_with_errors_beside_the_field(client, session):
    producer = factories.ProducerFactory(name="中宁县杞乡枸杞有限公司", kind="enterprise")
    other = factories.ProducerFactory(gln=GLN_B)
    elsewhere = factories.ProducerFactory(county_code="640522", town_code="640522100")
    zn = factories.UserFactory(username="zn", role="regulator", county_code="640521")
    session.commit()
    login(client, "zn")
    page = f"/producers/{producer.id}"
    token_ = csrf_token(client, page)

    def send(value, at=page):
        return client.post(at + "/gln", data={"gln-csrf_token": token_, "gln-gln": value})

    bad = send(BAD_CHECK)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and _error_beside(html, "gln-gln")
    assert "GLN 校验位错误" in html and f"最后一位应为 {GLN_A[-1]}" in html
    short = send("69712349900")
    assert short.status_code == 422 and "GLN 应为 13 位数字" in short.get_data(as_text=True)
    taken = send(GLN_B)  # another party's GLN
    assert taken.status_code == 422 and _error_beside(taken.get_data(as_text=True), "gln-gln")
    assert "已登记给" in taken.get_data(as_text=True)
    assert send(GLN_A, at=f"/producers/{elsewhere.id}").status_code == 404  # not this regulator's county
    session.expire_all()
    assert session.get(Producer, producer.id).gln is None and session.get(Producer, elsewhere.id).gln is None

    assert send(f" {GLN_A[:6]} {GLN_A[6:]} ").status_code == 302
    session.expire_all()
    stored = session.get(Producer, producer.id)
    assert (stored.gln, stored.gln_recorded_by) == (GLN_A, zn.id) and stored.gln_recorded_at is not None
    shown = client.get(page).get_data(as_text=True)
    assert GLN_A in shown and "GLN（全球位置码）" in shown
    # A request without the box (not an empty box) changes nothing.
    missing = client.post(page + "/gln", data={"gln-csrf_token": token_})
    assert missing.status_code == 422 and _error_beside(missing.get_data(as_text=True), "gln-gln")
    session.expire_all()
    assert session.get(Producer, producer.id).gln == GLN_A
    assert send("").status_code == 302  # cleared
    session.expire_all()
    assert session.get(Producer, producer.id).gln is None and session.get(Producer, other.id).gln == GLN_B


def test_a_new_producer_may_bring_its_gln_and_the_party_sees_it(client, session):
    factories.UserFactory(username="city", role="regulator")
    session.commit()
    login(client, "city")
    token_ = csrf_token(client, "/producers/new")
    data = {"csrf_token": token_, "name": "中宁县新建枸杞有限公司", "kind": "enterprise",
            "uscc": factories.valid_uscc(901), "registry_no": "", "county_code": "640521",
            "town_code": "640521100", "products": ["zhongning-goji"], "gln": BAD_CHECK}
    refused_ = client.post("/producers/new", data=data)
    assert refused_.status_code == 422 and _error_beside(refused_.get_data(as_text=True), "gln")
    assert client.post("/producers/new", data={**data, "gln": GLN_A}).status_code == 302
    party_ = session.exec(select(Producer).where(Producer.gln == GLN_A)).one()
    factories.producer_user(party_, username="firm")
    session.commit()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "firm")
    page = client.get("/product-lines")
    assert page.status_code == 200 and GLN_A in page.get_data(as_text=True)


def test_the_party_import_takes_an_optional_gln_column_with_row_and_field_errors(session):
    taken = factories.ProducerFactory(gln=GLN_B)
    session.commit()
    header = ["uscc", "registry_no", "name", "kind", "county_code", "town_code", "contact", "gln"]
    good = [factories.valid_uscc(31), "", "宁夏杞乡枸杞商行", "trader", "640521", "640521100", "", GLN_A]
    rows = [good,
            [factories.valid_uscc(32), "", "加工甲", "processor", "640521", "640521102", "", BAD_CHECK],
            [factories.valid_uscc(33), "", "加工乙", "processor", "640521", "640521102", "", GLN_A],
            [factories.valid_uscc(34), "", "加工丙", "processor", "640521", "640521102", "", GLN_B],
            ["", "ZN-HH-0901", "李四", "household", "640521", "640521104", "", ""]]
    result = import_file(session, "parties", csv_bytes(header, rows), filename="p.csv")
    assert not result.ok
    # the header is row 1: the bad check digit, the GLN twice in the file, another party's GLN
    assert {(p.row, p.column) for p in result.errors} == {(3, "gln"), (4, "gln"), (5, "gln")}
    assert session.exec(select(Producer).where(Producer.gln == GLN_A)).first() is None
    done = import_file(session, "parties", csv_bytes(header, [good, rows[-1]]), filename="p.csv")
    assert done.ok and done.inserted == 2, [(p.row, p.column, p.message) for p in done.errors]
    firm = session.exec(select(Producer).where(Producer.gln == GLN_A)).one()
    assert firm.name == "宁夏杞乡枸杞商行" and firm.gln_recorded_at is not None
    assert session.exec(select(Producer).where(Producer.registry_no == "ZN-HH-0901")).one().gln is None
    # The column stays optional, an empty cell erases nothing, and a changed GLN is recorded as changed.
    plain = import_file(session, "parties", csv_bytes(header[:-1], [good[:-1]]), filename="p.csv")
    assert plain.ok and plain.unchanged == 1
    changed = import_file(session, "parties", csv_bytes(header, [good[:-1] + [gln_of("697123499003")]]),
                          filename="p.csv")
    assert changed.ok and changed.updated == 1
    session.expire_all()
    assert session.get(Producer, firm.id).gln == gln_of("697123499003") and taken.gln == GLN_B


def test_the_register_api_shows_the_gln_beside_the_credit_code(client, session):
    firm = factories.authorised_producer(kind="enterprise", gln=GLN_A)
    plain = factories.authorised_producer()
    session.commit()
    check = client.get(f"/api/v1/register/check?uscc={firm.uscc}&product=zhongning-goji").get_json()
    assert (check["uscc"], check["gln"]) == (firm.uscc, GLN_A)
    none = client.get(f"/api/v1/register/check?uscc={plain.uscc}&product=zhongning-goji").get_json()
    assert none["gln"] is None
    items = client.get("/api/v1/register/authorised-users?product=zhongning-goji").get_json()["items"]
    assert {i["code"]: i["gln"] for i in items} == {firm.uscc: GLN_A, plain.uscc: None}


def test_the_resolver_answers_a_party_gln_like_its_code(client, session):
    firm = factories.ProducerFactory(kind="enterprise", gln=GLN_A, name="中宁县杞乡枸杞有限公司")
    session.commit()
    by_gln = client.get(f"/417/{GLN_A}")
    by_code = client.get(f"/id/party/{firm.code}")
    assert by_gln.status_code == by_code.status_code == 200
    assert {k: v for k, v in by_gln.get_json().items() if k != "id"} == \
        {k: v for k, v in by_code.get_json().items() if k != "id"}
    assert by_gln.get_json()["gln"] == GLN_A and by_gln.get_json()["name"] == firm.name
    assert by_gln.get_json()["id"].endswith(f"/417/{GLN_A}")
    assert client.get(f"/417/{GLN_B}").status_code == 404
    bad = client.get(f"/417/{BAD_CHECK}", headers={"Accept": "application/json"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "gln"
    assert "check digit" in bad.get_json()["error"]["message"] or "校验位" in bad.get_json()["error"]["message"]
    for junk in ("123", "69712349900１", "69712349900a1"):
        assert client.get(f"/417/{junk}").status_code == 400
    assert client.get("/417/6971234990%00").status_code in (400, 404)  # a NUL: refused, never a 500


def test_the_export_names_a_party_with_a_gln_by_417_and_one_without_by_id_party(client, session):
    grower = Grower.make(session)
    grower.headers = bearer(session, grower.user)
    batch = grower.tested(session)
    dealer = factories.authorised_producer(kind="trader", name="宁夏杞乡枸杞商行", gln=GLN_A)
    dealer_h = bearer(session, factories.producer_user(dealer))
    session.commit()
    shipment = post(client, f"/api/v1/batches/{batch.code}/ship", grower.headers,
                    {"to": dealer.code, "quantity_kg": 50,
                     "shipped_at": "2025-08-10T10:00:00+08:00"})["shipment"]
    received = post(client, f"/api/v1/shipments/{shipment['id']}/receive", dealer_h,
                    {"received_at": "2025-08-11T09:00:00+08:00"})["batch"]["code"]
    for code, headers in ((batch.code, grower.headers), (received, dealer_h)):
        exported = client.get(f"/api/v1/batches/{code}/epcis", headers=headers).get_json()
        handover = {e["bizStep"]: e for e in exported["epcisBody"]["eventList"] if "sourceList" in e}
        for step in ("shipping", "receiving"):
            sender = handover[step]["sourceList"][0]["source"]
            receiver = handover[step]["destinationList"][0]["destination"]
            assert sender.endswith(f"/id/party/{grower.producer.code}") and receiver.endswith(f"/417/{GLN_A}")
            for uri in (sender, receiver):
                assert client.get(urlsplit(uri).path).status_code == 200, uri


def _handover(step, disposition, cls, quantity, source, destination, when, **extra):
    return event("ObjectEvent", when, action="OBSERVE", bizStep=step, disposition=disposition,
                 quantityList=[kg(cls, quantity)], sourceList=[{"type": "owning_party", "source": source}],
                 destinationList=[{"type": "owning_party", "destination": destination}], **extra)


def test_capture_reads_a_party_by_its_gln_on_any_host_and_refuses_a_bad_or_unknown_one(client, session):
    seller, buyer = Grower.make(session), Grower.make(session)
    buyer.producer.gln = GLN_A
    session.add(buyer.producer)
    batch = seller.tested(session)
    session.commit()
    raw = token(session, seller.user)
    field = "epcisBody.eventList[0].destinationList[0].destination"
    for gln, words in ((BAD_CHECK, "check digit"), (GLN_B, GLN_B), ("69712349900", "13 digits")):
        sent = _handover("shipping", "in_transit", t(batch.code), 5.0, party(seller.producer.code),
                         f"https://partner.example/417/{gln}", "2025-08-10T08:00:00+08:00")
        refusal = refused(capture(client, raw, document(sent)))[0]
        assert refusal["field"] == field and words in refusal["message"], refusal
    assert session.exec(select(Shipment)).all() == []
    sent = _handover("shipping", "in_transit", t(batch.code), 50.0, party(seller.producer.code),
                     f"https://partner.example/417/{GLN_A}", "2025-08-10T08:00:00+08:00")
    response = capture(client, raw, document(sent))
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    shipment = session.exec(select(Shipment)).one()
    assert (shipment.from_party_id, shipment.to_party_id) == (seller.producer.id, buyer.producer.id)
    # ... and the export names the receiver as it was named, on this resolver's domain.
    found = {e["eventID"]: e for e in epcis.build_document(session, [session.get(Batch, batch.id)],
                                                           BASE)["epcisBody"]["eventList"]}
    assert found[sent["eventID"]]["destinationList"][0]["destination"] == f"{BASE}/417/{GLN_A}"


def test_the_demo_names_its_enterprises_by_gln_and_its_households_by_code(runner, client, session):
    from gi_trace.registry.gln import is_valid_gln

    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    kinds = ("trader", "processor", "household")
    parties = session.exec(select(Producer).where(Producer.kind.in_(kinds))).all()
    enterprises = [p for p in parties if p.kind != "household"]
    assert len(enterprises) == 3 and all(is_valid_gln(p.gln) and p.gln.startswith("69") for p in enterprises)
    assert all(p.gln is None for p in parties if p.kind == "household")
    processor = next(p for p in enterprises if p.kind == "processor")
    from gi_trace.tracing import lineage

    own = session.exec(select(Batch).where(Batch.producer_id == processor.id)).all()
    found = {n for b in own for n in lineage.trace(session, b, "backward").nodes}
    family = [*own, *session.exec(select(Batch).where(Batch.id.in_(found))).all()]
    named = {entry[key] for e in epcis.build_document(session, family, BASE)["epcisBody"]["eventList"]
             for key, lst in (("source", "sourceList"), ("destination", "destinationList"))
             for entry in e.get(lst, [])}
    households = {p.code for p in parties if p.kind == "household"}
    assert {f"{BASE}/417/{p.gln}" for p in enterprises} <= named
    by_code = {uri.rsplit("/", 1)[-1] for uri in named if "/id/party/" in uri}
    assert by_code and by_code <= households  # only the households, which have no GLN
    for uri in sorted(named):
        assert client.get(uri[len(BASE):]).status_code == 200, uri

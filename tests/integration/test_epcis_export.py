"""The EPCIS export of every batch of the demo chain as a trading partner's repository would take it: the shared
JSON schema, and beyond it one eventID = one content across all exports (whatever the host), the CBV
vocabulary, and well-formed URIs."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft7Validator, FormatChecker
from sqlmodel import select

from gi_trace.tracing import epcis, lineage, recall, substances
from gi_trace.tracing.models import Batch, UnitCode

SCHEMA = Path("/work/shared/standards/epcis/EPCIS-JSON-Schema.json")
BASE = "https://trace.example.cn"
# CBV 2.0 business steps and dispositions (the schema also admits any URI; a partner's CBV check does not).
CBV_STEPS = set(json.loads(SCHEMA.read_text())["definitions"]["bizStep"]["anyOf"][1]["enum"])
CBV_DISPOSITIONS = set(json.loads(SCHEMA.read_text())["definitions"]["disposition"]["anyOf"][1]["enum"])
URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def exports(session, base: str) -> dict[tuple[str, str], dict]:
    """Every batch's export, alone and with its sources (as GET /batches/<code>/epcis?scope=…)."""
    out = {}
    for batch in session.exec(select(Batch).order_by(Batch.id)).all():
        out[(batch.code, "batch")] = epcis.build_document(session, [batch], base, root=batch)
        found = lineage.trace(session, batch, "backward")
        sources = list(session.exec(select(Batch).where(Batch.id.in_(list(found.nodes)))).all()) if found.nodes else []
        out[(batch.code, "backward")] = epcis.build_document(session, [batch, *sources], base, root=batch)
    return out


def uris(event: dict) -> list[str]:
    """The identifiers an event carries."""
    found = [event["eventID"]]
    for key in ("quantityList", "inputQuantityList", "outputQuantityList", "childQuantityList"):
        found += [q["epcClass"] for q in event.get(key, [])]
    for key in ("epcList", "inputEPCList", "outputEPCList", "childEPCs"):
        found += event.get(key, [])
    found += [event[key]["id"] for key in ("readPoint", "bizLocation") if key in event]
    found += [event[key] for key in ("parentID", "transformationID") if key in event]
    found += [t["bizTransaction"] for t in event.get("bizTransactionList", [])]
    found += [s["source"] for s in event.get("sourceList", [])] + [d["destination"] for d in event.get("destinationList", [])]
    found += event.get("errorDeclaration", {}).get("correctiveEventIDs", [])
    found += [event["certificationInfo"]] if "certificationInfo" in event else []
    for element in event.get("sensorElementList", []):
        found += [r["chemicalSubstance"] for r in element["sensorReport"] if "chemicalSubstance" in r]
    return found


def recalled_codes(session) -> set[str]:
    """The codes of the batches under a recall and of their packages."""
    ids = recall.recalled_ids(session, [b.id for b in session.exec(select(Batch)).all()])
    batches = {b.code for b in session.exec(select(Batch).where(Batch.id.in_(ids))).all()} if ids else set()
    packages = {u.code for u in session.exec(select(UnitCode).where(UnitCode.batch_id.in_(ids))).all()} if ids else set()
    return batches | packages


@pytest.fixture
def demo(runner, session):
    result = runner.invoke(args=["demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    return session


def test_every_demo_export_validates_and_one_event_id_means_one_content(demo, client):
    session = demo
    validator = Draft7Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())
    documents = exports(session, BASE)
    assert len(documents) > 20
    seen: dict[str, dict] = {}
    places: set[str] = set()
    located: set[str] = set()  # plots' locations in master data
    ours: set[str] = set()  # URIs that point into this system
    lineage_ops = 0
    for key, document in documents.items():
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert errors == [], (key, [f"{list(e.path)}: {e.message}" for e in errors[:5]])
        events = document["epcisBody"]["eventList"]
        ids = [e["eventID"] for e in events]
        assert len(ids) == len(set(ids)), key  # an event once per document
        for event in events:
            assert seen.setdefault(event["eventID"], event) == event, (key, event["eventID"])
            assert event.get("bizStep") in CBV_STEPS, (key, event.get("bizStep"))
            assert event.get("disposition", "active") in CBV_DISPOSITIONS, (key, event.get("disposition"))
            places.update(event[k]["id"] for k in ("readPoint", "bizLocation") if k in event)
            for uri in uris(event):
                assert URI.match(uri), (key, uri)
                if uri.startswith(BASE + "/"):
                    ours.add(uri)
            if event["type"] == "TransformationEvent" and event.get("transformationID"):
                lineage_ops += 1
        for vocabulary in document.get("epcisHeader", {}).get("epcisMasterData", {}).get("vocabularyList", []):
            for element in vocabulary["vocabularyElementList"]:
                ours.add(element["id"])
                ours.update(a["attribute"] for a in element["attributes"] if str(a["attribute"]).startswith(BASE))
                located.update(a["attribute"] for a in element["attributes"] if a["id"].endswith("/voc/location"))
    assert lineage_ops > 0
    assert located and located <= places  # master data names the events' geo: readPoints
    assert any(re.match(r"^geo:-?\d+\.\d+,-?\d+\.\d+$", p) for p in places)  # plots with coordinates
    # Every URI into this system answers (a Digital Link of a withdrawn lot, and the trace URL of a recalled batch
    # or package, answer 410 by design: the recall notice).
    recalled = recalled_codes(session)
    assert recalled  # the demo has a recall
    for uri in sorted(ours):
        parts = urlsplit(uri)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""), follow_redirects=True)
        gone = parts.path.startswith("/01/") or (parts.path.startswith("/t/") and parts.path.split("/")[2] in recalled)
        assert response.status_code == 200 or (gone and response.status_code == 410), (uri, response.status_code)
    # The recall reaches beyond the withdrawn batch: its members are holding/recalled too.
    assert {e["gt:withdrawnBatch"] for e in seen.values() if e.get("gt:withdrawnBatch")}
    assert any("/id/town/" in u for u in ours) and any("/authorised-users?" in u for u in ours)
    # Drying turns fresh goji (a class of its own, commissioned at harvest) into dried goji.
    dryings = [e for e in seen.values() if e.get("gt:stage") == "drying"]
    commissioned = {q["epcClass"] for e in seen.values() if e.get("action") == "ADD" for q in e.get("quantityList", [])}
    assert dryings
    for drying in dryings:
        fresh, dried = drying["inputQuantityList"][0]["epcClass"], drying["outputQuantityList"][0]["epcClass"]
        assert fresh != dried and fresh.endswith("/fresh") and fresh in commissioned
    # A merge is one event with all its inputs, found in the export of each batch it touches.
    merges: dict[str, int] = {}
    for document in documents.values():
        for event in document["epcisBody"]["eventList"]:
            if event["type"] == "TransformationEvent" and len(event["inputQuantityList"]) > 1:
                merges[event["eventID"]] = merges.get(event["eventID"], 0) + 1
    assert merges and all(count > 1 for count in merges.values())
    # Tests are sensor reports with units and their report; the owner's authorisation; ILMD on outputs.
    events = list(seen.values())
    tests = [e for e in events if e.get("bizStep") == "inspecting"]
    assert tests and all(e["bizTransactionList"][0]["type"] == "testres" for e in tests)
    reports = [r for e in tests for element in e["sensorElementList"] for r in element["sensorReport"]]
    assert {r.get("uom") for r in reports} >= {"P1", "NA"}
    assert not [k for e in tests for k in e if k in ("gt:moisture_pct", "gt:so2_mg_per_kg", "gt:residues")]
    # A residue of a substance the limits know: its InChIKey (a partner's repository matches it) beside the
    # name it was recorded under.
    residues = {(r.get("chemicalSubstance"), r["gt:substance"]) for r in reports if "gt:substance" in r}
    assert residues >= {("https://identifiers.org/inchikey:YWTYJOPNNQFBPC-UHFFFAOYSA-N", "吡虫啉"),
                        ("https://identifiers.org/inchikey:WCXDHFDTOYPNIE-RIYZIHGNSA-N", "啶虫脒")}
    assert all(uri == substances.by_name(name).uri for uri, name in residues if substances.by_name(name))
    certified = [e["certificationInfo"] for e in events if "certificationInfo" in e]
    assert certified and all(c.startswith(BASE + "/authorised-users?product=") for c in certified)
    made = [e for e in events if e.get("transformationID")]
    assert made and all(e["ilmd"]["cbvmda:lotNumber"] for e in made)
    assert any(e["ilmd"].get("cbvmda:harvestStartDate") and e["ilmd"].get("gt:originTowns") for e in made)
    # Unit codes: commissioned, then packed into their lot, every package once.
    commissioned_units = [epc for e in events if e["type"] == "ObjectEvent" and e.get("action") == "ADD"
                          for epc in e.get("epcList", [])]
    packed = [epc for e in events if e["type"] == "AggregationEvent" for epc in e["childEPCs"]]
    assert packed and sorted(packed) == sorted(commissioned_units) and len(set(packed)) == len(packed)
    assert all(e["bizStep"] == "packing" and e["action"] == "ADD" for e in events if e["type"] == "AggregationEvent")
    # The eventIDs do not depend on the host the export names.
    elsewhere = exports(session, "https://gi.example.org")
    for key, document in documents.items():
        assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == \
            [e["eventID"] for e in elsewhere[key]["epcisBody"]["eventList"]]


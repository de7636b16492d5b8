"""Writing EPCIS documents as a party's own system would send them, posting them to the capture API, and counting
what the database holds (a refused document writes nothing)."""
from __future__ import annotations

import json
import uuid
from typing import Optional

import pytest
from sqlalchemy import func
from sqlmodel import select

from gi_trace.accounts import services as accounts
from gi_trace.tracing.models import Batch, BatchLink, Event, PlausibilityFlag, Purchase, Shipment, UnitCode
from gi_trace.tracing.models_capture import CapturedEvent, CapturedName
from gi_trace.tracing.models_recall import Recall
from tests.factories_tracing import Grower

HOST = "https://erp.example.com"  # any host: the path is what names a batch
BASE = "https://trace.example.cn"  # the test app's PUBLIC_BASE_URL, where exports are built
CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"gt": "https://trace.example.cn/voc/"}]
WATER = "https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N"
SULFUR_DIOXIDE = "https://identifiers.org/inchikey:RAHZWNYVWXNFOC-UHFFFAOYSA-N"
COUNTED = (Batch, Event, BatchLink, UnitCode, Shipment, Purchase, PlausibilityFlag, Recall, CapturedEvent,
           CapturedName)


@pytest.fixture
def grower(session) -> Grower:
    """An authorised 中宁枸杞 producer with an account and a plot (committed: the API sees it)."""
    grower = Grower.make(session)
    session.commit()
    return grower


def document(*events: dict) -> dict:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2025-09-01T00:00:00.000Z", "epcisBody": {"eventList": list(events)}}


def event(kind: str, when: str, **fields) -> dict:
    """An event at local time `when` (China Standard Time) with a fresh uuid4 eventID."""
    return {"type": kind, "eventID": f"urn:uuid:{uuid.uuid4()}", "eventTime": when, "eventTimeZoneOffset": "+08:00",
            **fields}


def kg(epc_class: str, quantity: float) -> dict:
    return {"epcClass": epc_class, "quantity": quantity, "uom": "KGM"}


def t(code: str) -> str:
    return f"{HOST}/t/{code}"


def fresh(code: str) -> str:
    return f"{HOST}/id/batch/{code}/fresh"


def dl(gtin: str, lot: str, serial: Optional[str] = None) -> str:
    return f"{HOST}/01/{gtin}/10/{lot}" + (f"/21/{serial}" if serial else "")


def party(code: str) -> str:
    return f"{HOST}/id/party/{code}"


def plot(plot_id: int) -> dict:
    return {"id": f"{HOST}/id/plot/{plot_id}"}


def planting(cls: str, plot_id: int, when: str = "2025-04-10T09:00:00+08:00") -> dict:
    return event("ObjectEvent", when, action="OBSERVE", bizStep="other", quantityList=[{"epcClass": cls}],
                 readPoint=plot(plot_id), **{"gt:stage": "planting", "gt:cultivar": "宁杞7号"})


def harvest(cls: str, plot_id: int, quantity: float, when: str = "2025-07-01T08:00:00+08:00") -> dict:
    return event("ObjectEvent", when, action="ADD", bizStep="commissioning", disposition="active",
                 quantityList=[kg(cls, quantity)], readPoint=plot(plot_id),
                 ilmd={"gt:cultivar": "宁杞7号", "gt:pickingRound": 3, "gt:productForm": "fresh"})


def drying(code: str, out_class: str, fresh_kg: float, dried_kg: float,
           when: str = "2025-07-12T18:00:00+08:00") -> dict:
    return event("TransformationEvent", when, inputQuantityList=[kg(fresh(code), fresh_kg)],
                 outputQuantityList=[kg(out_class, dried_kg)], bizStep="commissioning", disposition="active",
                 **{"gt:stage": "drying", "gt:method": "hot_air", "gt:temperature_c": 55, "gt:moisture_pct": 11.0})


def lab_test(cls: str, report_no: str = "NX-2025-0715", moisture: float = 11.5, disposition: str = "conformant",
               when: str = "2025-07-15T10:00:00+08:00") -> dict:
    reports = [{"type": "Dimensionless", "chemicalSubstance": WATER, "value": moisture, "uom": "P1"},
               {"type": "Dimensionless", "chemicalSubstance": SULFUR_DIOXIDE, "value": 8.0, "uom": "NA"},
               {"type": "Count", "value": 300, "gt:sampleMassG": 50}]
    return event("ObjectEvent", when, action="OBSERVE", bizStep="inspecting", disposition=disposition,
                 quantityList=[{"epcClass": cls}],
                 sensorElementList=[{"sensorReport": reports, "sensorMetadata": {
                     "gt:sampledOn": "2025-07-14", "gt:lab": "宁夏农产品质量检测中心", "gt:method": "GB/T 18672-2014"}}],
                 bizTransactionList=[{"type": "testres", "bizTransaction": f"{HOST}/id/document/{report_no}"}],
                 **{"gt:sampled_by": "王检", "gt:lab_verdict": "pass"})


def storage(cls: str, when: str = "2025-08-05T10:00:00+08:00", **extra) -> dict:
    return event("ObjectEvent", when, action="OBSERVE", bizStep="storing", disposition="sellable_not_accessible",
                 quantityList=[{"epcClass": cls}], **{"gt:place": "中宁县枸杞交易市场冷库", **extra})


def token(session, user) -> str:
    raw = accounts.create_token(session, user, "erp")[1]
    session.commit()
    return raw


def post(client, raw_token: str, body, *, content_type: str = "application/ld+json", lang: str = "en"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post(f"/api/v1/epcis/capture?lang={lang}", data=data, content_type=content_type,
                       headers={"Authorization": f"Bearer {raw_token}"})


def counts(session) -> dict[str, int]:
    """Rows of every table a capture may write."""
    session.expire_all()
    return {model.__name__: session.exec(select(func.count()).select_from(model)).one() for model in COUNTED}


def refused(response) -> list[dict]:
    """The refused events of a 422 answer (asserting its shape)."""
    assert response.status_code == 422, (response.status_code, response.get_data(True)[:500])
    error = response.get_json()["error"]
    assert error["code"] == "capture_refused" and error["message"] and error["field"], error
    return error["refused"]

"""The identifiers of the EPCIS export (tracing.epcis): host-independent eventIDs, the URIs of classes,
places, parties and documents under PUBLIC_BASE_URL, and the timestamp and quantity formats."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional
from urllib.parse import quote

from sqlalchemy import or_
from sqlmodel import Session, select

from gi_trace.registry.gln import PARTY_AI
from gi_trace.registry.models import Producer
from gi_trace.tracing.models import Batch, Event, ProductLine, Shipment
from gi_trace.tracing.models_capture import CapturedEvent, CapturedName

CONTEXT_URL = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
KGM = "KGM"
PERCENT = "P1"  # UN/CEFACT Rec 20: percent
MG_PER_KG = "NA"  # UN/CEFACT Rec 20: milligram per kilogram
# InChIKeys (identifiers.org) of the substances a goji test measures by name.
WATER = "https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N"
SULFUR_DIOXIDE = "https://identifiers.org/inchikey:RAHZWNYVWXNFOC-UHFFFAOYSA-N"
REGISTER_PATH = "/authorised-users"  # the public register of GI authorisations (authorisation.public_register)
# Fixed namespace of gi-trace eventIDs (uuid5 of "gi-trace epcis"): never change it, ids would change with it.
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:gi-trace:epcis:event")


def event_uuid(name: str) -> str:
    """A host-independent eventID: the name-based UUID of a stored identifier."""
    return f"urn:uuid:{uuid.uuid5(EVENT_NAMESPACE, name)}"


@dataclass(frozen=True)
class Captured:
    """The eventID a party's system gave a record it sent us (tracing.epcis_capture), and when it declared the
    event erroneous, if it did."""

    event_id: str
    declared_at: Optional[datetime] = None


def captured_ids(session: Session, names: Iterable[str]) -> dict[str, Captured]:
    """The captured eventIDs of the records with these export names (see `Ids.named`)."""
    wanted = sorted(set(names))
    found: dict[str, Captured] = {}
    for i in range(0, len(wanted), 500):
        rows = session.exec(select(CapturedName.name, CapturedEvent.event_id, CapturedEvent.declared_at)
                            .join(CapturedEvent, CapturedEvent.id == CapturedName.capture_id)
                            .where(CapturedName.name.in_(wanted[i:i + 500]))).all()
        found.update({name: Captured(event_id, declared) for name, event_id, declared in rows})
    return found


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds")


def offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


class Ids:
    """HTTP URI identifiers under the public base URL."""

    def __init__(self, base_url: str, lines: dict[int, ProductLine]):
        self.base = base_url.rstrip("/")
        self.lines = lines
        self.dried_at: dict[int, int] = {}  # batch id -> seq of its drying event
        self.coordinates: dict[int, tuple[float, float]] = {}  # plot id -> (latitude, longitude)
        # eventID -> the name it was derived from, so captured records get the eventIDs they were sent with
        self.named: dict[str, str] = {}
        self.glns: dict[str, str] = {}  # party code (USCC or registry number) -> its GLN, where it has one

    def named_id(self, name: str) -> str:
        """The eventID of the record this export names `name` (see models_capture)."""
        event_id = event_uuid(name)
        self.named[event_id] = name
        return event_id

    def class_at(self, batch: Batch, seq: Optional[int]) -> str:
        """The batch's class when its event `seq` happened: fresh goji before the batch was dried, a class
        of its own (`/id/batch/<code>/fresh`), so drying turns one class into another."""
        dried = self.dried_at.get(batch.id)
        if dried is not None and seq is not None and seq < dried:
            return self.fresh_class(batch)
        return self.batch_class(batch)

    def fresh_class(self, batch: Batch) -> str:
        return f"{self.base}/id/batch/{batch.code}/fresh"

    def place(self, plot_id) -> str:
        """A plot as a location: its `geo:` URI (RFC 5870) where its coordinates are recorded."""
        at = self.coordinates.get(plot_id)
        if at is not None:
            return f"geo:{at[0]:.6f},{at[1]:.6f}"
        return self.plot(plot_id)

    def vocab(self) -> str:
        return f"{self.base}/voc/"

    def batch_class(self, batch: Batch) -> str:
        line = self.lines.get(batch.product_line_id) if batch.product_line_id else None
        if line is not None and batch.producer_lot:
            return f"{self.base}/01/{line.gtin14}/10/{quote(batch.producer_lot, safe='')}"
        return f"{self.base}/t/{batch.code}"

    def town(self, code: str) -> str:
        return f"{self.base}/id/town/{code}"

    def plot(self, plot_id) -> str:
        return f"{self.base}/id/plot/{plot_id}"

    def event(self, batch: Batch, event: Event) -> str:
        return self.named_id(f"event:{batch.code}:{event.seq}")

    def op(self, op_id: str) -> str:
        return self.named_id(f"op:{op_id}")

    def step(self, name: str) -> str:
        return f"{self.base}/voc/bizstep/{name}"

    def load_glns(self, session: Session, codes: Iterable[str]) -> None:
        """Learn the GLNs of the parties with these codes, so `party` names them by GLN."""
        wanted = sorted({c for c in codes if c} - set(self.glns))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            for p in session.exec(select(Producer).where(Producer.gln.is_not(None), or_(
                    Producer.uscc.in_(chunk), Producer.registry_no.in_(chunk)))).all():
                self.glns[p.code] = p.gln
                if p.registry_no:
                    self.glns[p.registry_no] = p.gln

    def party(self, code: str) -> str:
        """A party: its GS1 Digital Link party URI `/417/<gln>` (AI 417) when it has a GLN, else
        `/id/party/<code>`; both answer on this resolver (tracing.views_ids)."""
        gln = self.glns.get(code)
        if gln:
            return f"{self.base}/{PARTY_AI}/{gln}"
        return f"{self.base}/id/party/{quote(code, safe='')}"

    def shipment(self, shipment: Shipment, what: str) -> str:
        return self.named_id(f"shipment:{shipment.op_id}:{what}")

    def document(self, number: str) -> str:
        return f"{self.base}/id/document/{quote(number, safe='')}"


def qty(epc_class: str, kg: Optional[float]) -> dict:
    element = {"epcClass": epc_class}
    if kg is not None:
        element["quantity"] = kg
        element["uom"] = KGM
    return element

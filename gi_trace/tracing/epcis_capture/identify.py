"""Which batch, party, plot, town or document an identifier of a captured event names.

Only the path matters, whatever the host (another deployment's export names the same batches):
- a batch: `/01/<gtin14>/10/<lot>` (GS1 Digital Link of one of the party's product lines and its lot),
  `/t/<code>`, `/id/batch/<code>` or `/id/batch/<code>/fresh` (the batch before it was dried), or the bare
  trace code itself (`ABCDEFGHJKMNPQ`, any grouping) for systems that keep no URIs;
- a package: `/01/<gtin14>/10/<lot>/21/<unit code>`, `/01/<gtin14>/21/<unit code>` or `/t/<unit code>`;
- a party `/id/party/<USCC or registry number>` or its GS1 Digital Link `/417/<GLN>`, a plot `/id/plot/<id>`
  or its `geo:<lat>,<lon>` (the party's plot at those coordinates), a town `/id/town/<code>`, a document
  `/id/document/<number>`.

A party records only against its own batches and product lines: any other is refused, naming it. A class that
names a batch not registered yet may create it (the caller decides where creating is allowed): with the trace
code it names, when that code is well-formed and unused, so an export captured into an empty database keeps its
codes; the lot and product line of a code that the same document also names by its Digital Link (drying from
`/id/batch/<code>/fresh` to `/01/…/10/<lot>`, packing units `/01/…/10/<lot>/21/…` into parent `/t/<code>`) come
with it, and the other way round.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.errors import Refused, ValidationError
from gi_trace.registry.models import Plot, Producer, Product
from gi_trace.registry.services import producer_by_gln, producer_products
from gi_trace.tracing import codes, transfers
from gi_trace.tracing.epcis_capture.parse import last_segment, listed, vocab
from gi_trace.tracing.models import Batch, ProductLine, UnitCode

_DIGITAL_LINK = re.compile(r"/01/(\d{14})(?:/10/([^/]+))?(?:/21/([^/]+))?/?$")
_TRACE = re.compile(r"/(?:t|id/batch)/([^/]+)(/fresh)?/?$")
_PARTY_GLN = re.compile(r"/417/([^/]*)/?$")
_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)(?:[;,].*)?$")


@dataclass(frozen=True)
class Ref:
    """What an identifier names: a trace code, or a GTIN with a lot; `serial` for a package; `fresh` for the
    `/id/batch/<code>/fresh` class (the batch before drying)."""

    uri: str
    code: Optional[str] = None
    gtin: Optional[str] = None
    lot: Optional[str] = None
    serial: Optional[str] = None
    fresh: bool = False

    @property
    def dl(self) -> Optional[tuple[str, str]]:
        return (self.gtin, self.lot) if self.gtin and self.lot else None


def read_ref(uri: Any) -> Optional[Ref]:
    """The batch or package an identifier names, or None when it is none of the forms above."""
    if not isinstance(uri, str) or not uri.strip():
        return None
    text = uri.strip()
    path = urlsplit(text).path if "://" in text else text
    link = _DIGITAL_LINK.search(path)
    if link:
        lot = unquote(link.group(2)) if link.group(2) else None
        serial = codes.parse(unquote(link.group(3))) if link.group(3) else None
        if link.group(3) and serial is None:
            return None
        return Ref(text, gtin=link.group(1), lot=lot, serial=serial)
    trace = _TRACE.search(path)
    if trace:
        code = codes.parse(unquote(trace.group(1)))
        return Ref(text, code=code, fresh=bool(trace.group(2))) if code else None
    code = codes.parse(text) if ":" not in text and "/" not in text else None
    return Ref(text, code=code) if code else None


def party_of(session: Session, uri: Any, field: str) -> Producer:
    """The registered party `/id/party/<code>` or `/417/<gln>` names."""
    if isinstance(uri, str):
        text = uri.strip()
        by_gln = _PARTY_GLN.search(urlsplit(text).path if "://" in text else text)
        if by_gln:
            return producer_by_gln(session, unquote(by_gln.group(1)), field)
    code = last_segment(uri, "party")
    if code is None:
        raise ValidationError(_("Name the party as …/id/party/<credit code or registry number> or "
                                "…/417/<GLN>."), field=field)
    return transfers.party_by_code(session, code, field)


def parties(event: dict, mine: int, session: Session) -> tuple[Optional[Producer], Optional[Producer]]:
    """The owning parties a hand-over names: (source, destination); None where the event names none."""
    found = []
    for key, name in (("sourceList", "source"), ("destinationList", "destination")):
        entries = listed(event.get(key))
        owners = [(i, e) for i, e in enumerate(entries) if isinstance(e, dict) and vocab(e.get("type")) == "owning_party"]
        found.append(party_of(session, owners[0][1].get(name), f"{key}[{owners[0][0]}].{name}") if owners else None)
    return found[0], found[1]


def document_no(event: dict, kind: str) -> Optional[str]:
    """The number of the event's business document of this type (desadv: waybill or invoice, testres: report)."""
    for entry in listed(event.get("bizTransactionList")):
        if isinstance(entry, dict) and vocab(entry.get("type")) == kind:
            return last_segment(entry.get("bizTransaction"), "document") or entry.get("bizTransaction")
    return None


def town_of(event: dict) -> Optional[str]:
    """The town code of the event's bizLocation `/id/town/<code>`, if it names one."""
    place = event.get("bizLocation")
    return last_segment(place.get("id"), "town") if isinstance(place, dict) else None


def plot_of(session: Session, event: dict, party_id: int) -> Optional[int]:
    """The plot id the readPoint names: `/id/plot/<id>`, or the party's plot at `geo:` coordinates."""
    point = event.get("readPoint")
    uri = point.get("id") if isinstance(point, dict) else None
    if not isinstance(uri, str):
        return None
    geo = _GEO.match(uri.strip())
    if geo:
        lat, lon = float(geo.group(1)), float(geo.group(2))
        for plot in session.exec(select(Plot).where(Plot.producer_id == party_id, Plot.latitude.is_not(None))).all():
            if round(plot.latitude, 6) == round(lat, 6) and round(plot.longitude, 6) == round(lon, 6):
                return plot.id
        raise ValidationError(_("None of your registered plots lies at %(where)s.", where=uri[:60]),
                              field="readPoint.id")
    text = last_segment(uri, "plot")
    if text is None or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


@dataclass
class Hints:
    """What the whole document says about identities: trace code ↔ (GTIN, lot), package → its lot's code."""

    dl_of_code: dict[str, tuple[str, str]] = field(default_factory=dict)
    code_of_dl: dict[tuple[str, str], str] = field(default_factory=dict)
    parent_of_unit: dict[str, str] = field(default_factory=dict)

    def pair(self, code: Optional[str], dl: Optional[tuple[str, str]]) -> None:
        if code and dl:
            self.dl_of_code.setdefault(code, dl)
            self.code_of_dl.setdefault(dl, code)


def hints(events: list) -> Hints:
    """Read the identity pairs a document states (see the module docstring)."""
    found = Hints()
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("type") == "TransformationEvent":
            ins = [read_ref(q.get("epcClass")) for q in listed(event.get("inputQuantityList")) if isinstance(q, dict)]
            outs = [read_ref(q.get("epcClass")) for q in listed(event.get("outputQuantityList")) if isinstance(q, dict)]
            if len(ins) == 1 == len(outs) and ins[0] and outs[0] and ins[0].fresh:
                found.pair(ins[0].code, outs[0].dl)
        elif event.get("type") == "AggregationEvent":
            parent = read_ref(event.get("parentID"))
            for child in listed(event.get("childEPCs")):
                ref = read_ref(child)
                if parent and parent.code and ref and ref.serial:
                    found.parent_of_unit.setdefault(ref.serial, parent.code)
                    found.pair(parent.code, ref.dl)
    return found


class Batches:
    """The capturing party's batches and product lines, as the document's identifiers name them."""

    def __init__(self, session: Session, party_id: int, hints: Hints):
        self.session, self.party_id, self.hints = session, party_id, hints
        self._lines: dict[str, ProductLine] = {}

    def line(self, gtin: str, field: str) -> ProductLine:
        """One of the party's own product lines, by GTIN."""
        if gtin not in self._lines:
            line = self.session.exec(select(ProductLine).where(ProductLine.gtin14 == gtin)).first()
            if line is None:
                raise Refused(_("GTIN %(gtin)s is not a registered product line.", gtin=gtin), field=field,
                              code="unknown_gtin")
            if line.producer_id != self.party_id:
                raise Refused(_("GTIN %(gtin)s is another party's product line: a party records only against its "
                                "own batches.", gtin=gtin), field=field, code="not_yours")
            self._lines[gtin] = line
        return self._lines[gtin]

    def find(self, ref: Optional[Ref], field: str) -> Optional[Batch]:
        """The party's batch the identifier names; None when it names none yet; refused when it names another
        party's batch or is not an identifier of a batch."""
        if ref is None or ref.serial:
            raise ValidationError(_("Name the batch as …/01/<GTIN>/10/<lot> of your product line, …/t/<trace code> or "
                                    "…/id/batch/<trace code>."), field=field)
        if ref.code:
            batch = self.session.exec(select(Batch).where(Batch.code == ref.code)).first()
            if batch is None:
                if self.session.exec(select(UnitCode.id).where(UnitCode.code == ref.code)).first() is not None:
                    raise ValidationError(_("%(code)s is a package's code, not a batch.", code=ref.code), field=field)
                return None
            return self._own(batch, ref, field)
        line = self.line(ref.gtin, field)
        if not ref.lot:
            raise ValidationError(_("Name the lot too: …/01/%(gtin)s/10/<lot>.", gtin=ref.gtin), field=field)
        batch = self.session.exec(select(Batch).where(Batch.producer_id == self.party_id,
                                                      Batch.producer_lot == ref.lot)).first()
        if batch is not None and batch.product_line_id != line.id:
            raise Refused(_("Your lot %(lot)s is not a lot of GTIN %(gtin)s.", lot=ref.lot, gtin=ref.gtin),
                          field=field, code="lot_of_other_line")
        if batch is None:
            code = self.hints.code_of_dl.get(ref.dl)
            known = self.session.exec(select(Batch).where(Batch.code == code)).first() if code else None
            return self._own(known, ref, field) if known is not None else None
        return batch

    def get(self, ref: Optional[Ref], field: str) -> Batch:
        """The party's batch the identifier names; refused when there is none."""
        batch = self.find(ref, field)
        if batch is None:
            raise Refused(_("%(uri)s names no batch of yours yet: capture the event that makes it first.",
                            uri=(ref.uri if ref else "")[:120]), field=field, code="unknown_batch")
        return batch

    def _own(self, batch: Batch, ref: Ref, field: str) -> Batch:
        if batch.producer_id != self.party_id:
            raise Refused(_("Batch %(code)s is not one of your batches: a party records only against its own "
                            "batches.", code=codes.display(batch.code)), field=field, code="not_yours")
        return batch

    def new_identity(self, ref: Ref, field: str) -> tuple[Optional[str], Optional[ProductLine], Optional[str]]:
        """(trace code, product line, lot) of a batch the identifier names that does not exist yet."""
        code, dl = ref.code, ref.dl
        if code and dl is None:
            dl = self.hints.dl_of_code.get(code)
        elif dl and code is None:
            code = self.hints.code_of_dl.get(dl)
        line = self.line(dl[0], field) if dl else None
        return code, line, dl[1] if dl else None

    def product(self, line: Optional[ProductLine], slug: Any, field: str) -> Product:
        """The product of a new harvest batch: its product line's, the one named (`gt:product`), or the party's only one."""
        if line is not None:
            return self.session.get(Product, line.product_id)
        if isinstance(slug, str) and slug:
            product = self.session.exec(select(Product).where(Product.slug == slug)).first()
            if product is None:
                raise ValidationError(_("Unknown product %(slug)s.", slug=slug[:60]), field="gt:product")
            return product
        products = producer_products(self.session, self.party_id)
        if not products:
            products = list(self.session.exec(select(Product)).all())
        if len(products) != 1:
            raise ValidationError(_("Name the product of the new batch (gt:product: the product's slug): your business "
                                    "is registered for several."), field=field)
        return products[0]

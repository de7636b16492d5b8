"""The GS1 Digital Link resolver's rules: reading a request path and finding what it names. Pure reading
and lookups; the web face (status codes, links, linksets) is `scan.views_resolver`.

Paths (GS1 Digital Link URI syntax, key qualifiers of AI 01 in the order 22 → 10 → 21; 22 is not used here):
`/01/<gtin>`, `/01/<gtin>/10/<lot>`, `/01/<gtin>/10/<lot>/21/<serial>`, `/01/<gtin>/21/<serial>`.
A path that is not one of these, a GTIN with a wrong check digit, or a lot or serial outside GS1 set 82
is a syntax error (400, answered before any lookup). A well-formed path names nothing here (404) when
the GTIN is not a registered product line, the lot is not a batch registered UNDER THAT LINE (a batch
without a line answers to no GTIN), or the serial is not a package of that lot (of that line, without
a lot). The serial is the package's own random unit code; (01)+(21) is unique because unit codes are
unique across the system, so a serial names one package whichever lot path it comes with.
A party with a GLN is `/417/<gln>` (AI 417): 400 for a wrong check digit, 404 for a GLN no party here has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.errors import NotFound, ValidationError
from gi_trace.registry.gln import normalise as normalise_gln
from gi_trace.registry.models import Producer, Product
from gi_trace.registry.services import producer_by_gln
from gi_trace.tracing import codes, gs1
from gi_trace.tracing import recall as recalls
from gi_trace.tracing.models import Batch, ProductLine, UnitCode

QUALIFIERS = ("10", "21")  # in the order they must appear


@dataclass(frozen=True)
class Request:
    """A syntactically valid Digital Link request: GTIN-14, and the lot and serial when given."""

    gtin: str
    lot: Optional[str] = None
    serial: Optional[str] = None

    @property
    def path(self) -> str:
        return gs1.digital_link_path(self.gtin, self.lot, self.serial)


class SyntaxProblem(ValidationError):
    """The request path is not a GS1 Digital Link URI this resolver accepts (HTTP 400)."""

    status = 400
    code = "bad_digital_link"


def parse(rest: str) -> Request:
    """Read what follows `/01/`: `<gtin>[/10/<lot>][/21/<serial>]` (a trailing slash is tolerated)."""
    parts = (rest or "").rstrip("/").split("/")
    gtin = parts[0]
    problem = gs1.gtin_problem(gtin)
    if problem:
        raise SyntaxProblem(problem, field="gtin")
    pairs = parts[1:]
    if len(pairs) % 2:
        raise SyntaxProblem(_("A Digital Link path has an application identifier and its value in pairs."),
                            field="path")
    values: dict[str, str] = {}
    order = -1
    for ai, value in zip(pairs[::2], pairs[1::2]):
        if ai not in QUALIFIERS:
            raise SyntaxProblem(_("(%(ai)s) is not a key qualifier of a GTIN here; use (10) lot and (21) serial.",
                                  ai=ai[:8]), field="path")
        if QUALIFIERS.index(ai) <= order:
            raise SyntaxProblem(_("Key qualifiers come in the order (10) then (21), each once."), field="path")
        order = QUALIFIERS.index(ai)
        if not gs1.is_ai82(value):
            field = "lot" if ai == "10" else "serial"
            raise SyntaxProblem(_("(%(ai)s) takes 1 to 20 characters of the GS1 character set.", ai=ai),
                                field=field)
        values[ai] = value
    return Request(gs1.gtin14(gtin), values.get("10"), values.get("21"))


@dataclass
class Resolution:
    """What a request names: the product line, and the batch (and package) when the path has a lot or serial."""

    request: Request
    line: ProductLine
    product: Product
    producer: Producer
    batch: Optional[Batch] = None
    unit: Optional[UnitCode] = None
    recall: Optional[recalls.RecallInfo] = None  # the batch's recall in force (its own or an ancestor's)

    @property
    def code(self) -> Optional[str]:
        """The trace code whose scan page is the default link (the package's own, else the batch's)."""
        if self.unit is not None:
            return self.unit.code
        return self.batch.code if self.batch is not None else None

    @property
    def withdrawn(self) -> bool:
        """Withdrawn, or recalled with a batch it was made from: the lot answers 410."""
        return self.batch is not None and (self.batch.is_withdrawn or self.recall is not None)


def resolve(session: Session, request: Request) -> Resolution:
    """The product line, batch and package a valid request names; NotFound for anything not registered."""
    line = session.exec(select(ProductLine).where(ProductLine.gtin14 == request.gtin)).first()
    if line is None:
        raise NotFound(_("GTIN %(gtin)s is not registered here.", gtin=request.gtin), field="gtin")
    found = Resolution(request, line, session.get(Product, line.product_id), session.get(Producer, line.producer_id))
    if request.lot is not None:
        # Only batches opened under this very line: a line-less batch answers to no GTIN.
        found.batch = session.exec(select(Batch).where(Batch.product_line_id == line.id,
                                                       Batch.producer_lot == request.lot)).first()
        if found.batch is None:
            raise NotFound(_("Lot %(lot)s of GTIN %(gtin)s is not registered here.", lot=request.lot,
                             gtin=line.gtin14), field="lot")
    if request.serial is not None:
        # A running number or any other non-code is refused like an unknown serial, before any lookup:
        # a unit code is the package's secret and cannot be counted through.
        code = codes.parse(request.serial)
        unit = session.exec(select(UnitCode).where(UnitCode.code == code)).first() if code == request.serial else None
        batch = found.batch
        if unit is not None and batch is None:
            batch = session.get(Batch, unit.batch_id)
            if batch.product_line_id != line.id:
                unit = None
        if unit is None or unit.batch_id != batch.id:
            raise NotFound(_("Package %(serial)s of GTIN %(gtin)s is not registered here.", serial=request.serial,
                             gtin=line.gtin14), field="serial")
        found.batch, found.unit = batch, unit
    if found.batch is not None:
        found.recall = recalls.active_recall(session, found.batch)
    return found


def party_by_gln(session: Session, text: str) -> Producer:
    """The registered party a GS1 Digital Link party URI `/417/<gln>` names (registry.services.producer_by_gln):
    400 for a malformed GLN or a wrong check digit, 404 for a GLN no party here has."""
    if text != normalise_gln(text):  # a path has no spaces to forgive
        raise SyntaxProblem(_("A GLN has digits only."), field="gln")
    try:
        return producer_by_gln(session, text)
    except NotFound:
        raise
    except ValidationError as exc:
        raise SyntaxProblem(exc.message, field="gln") from None

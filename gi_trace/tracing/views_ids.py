"""What the identifiers in an EPCIS export that point into this system name, as small public JSON
descriptions (a partner that dereferences one gets an answer, not a 404): towns, plots, parties, documents,
a batch's fresh goji (the input class of its drying) and the `gt:` vocabulary. They say no more than the
export itself: no household's name, no plot owner, no document contents."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from sqlmodel import select

from gi_trace.access import PUBLIC, access
from gi_trace.db import get_session
from gi_trace.errors import NotFound
from gi_trace.registry.models import Plot, Producer, Region
from gi_trace.tracing import resolver
from gi_trace.tracing.models import Batch

bp = Blueprint("epcis_ids", __name__)


def _json(body: dict):
    response = current_app.json.response({"id": request.base_url, **body})
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _base() -> str:
    return request.host_url.rstrip("/")


@bp.get("/id/town/<town_code>")
@access(PUBLIC)
def town(town_code: str):
    """A town (乡镇) by its statistical code."""
    region = get_session().get(Region, town_code)
    if region is None:
        raise NotFound(_("No such town."))
    return _json({"type": "town", "code": region.code, "name": region.name_zh, "nameEn": region.name_en or None,
                  "level": region.level})


@bp.get("/id/plot/<int:plot_id>")
@access(PUBLIC)
def plot(plot_id: int):
    """A planted plot: the town it lies in (its owner and size are not public)."""
    found = get_session().get(Plot, plot_id)
    if found is None:
        raise NotFound(_("No such plot."))
    return _json({"type": "plot", "town": f"{_base()}/id/town/{found.town_code}"})


@bp.get("/id/party/<party_code>")
@access(PUBLIC)
def party(party_code: str):
    """A registered party by its code (USCC or registry number); a household is not named."""
    found = get_session().exec(select(Producer).where((Producer.uscc == party_code)
                                                      | (Producer.registry_no == party_code))).first()
    if found is None:
        raise NotFound(_("No such party."))
    return _json(_party(found))


@bp.get("/417/<gln>")
@access(PUBLIC)
def party_by_gln(gln: str):
    """A registered party by its GLN: the GS1 Digital Link party URI (AI 417) the export names it by; the
    same description as `/id/party/<code>`. 400 for a malformed GLN or wrong check digit, 404 for an unknown
    one."""
    return _json(_party(resolver.party_by_gln(get_session(), gln)))


def _party(found: Producer) -> dict:
    body = {"type": "party", "code": found.code, "kind": found.kind}
    if found.gln:
        body["gln"] = found.gln
    if found.kind != "household":
        body["name"] = found.name
    return body


@bp.get("/id/document/<path:number>")
@access(PUBLIC)
def document(number: str):
    """A business document (waybill, invoice, test report) by the number its issuer gave it."""
    return _json({"type": "document", "number": number})


@bp.get("/id/batch/<code>/fresh")
@access(PUBLIC)
def fresh(code: str):
    """The fresh goji of a batch before it was dried (the input class of its drying)."""
    found = get_session().exec(select(Batch).where(Batch.code == code)).first()
    if found is None:
        raise NotFound(_("No such batch."))
    return _json({"type": "productClass", "productForm": "fresh", "batch": f"{_base()}/t/{found.code}"})


@bp.get("/voc/")
@bp.get("/voc/<term>")
@access(PUBLIC)
def vocabulary(term: str = ""):
    """The gi-trace extension vocabulary of the EPCIS export (prefix `gt:`)."""
    return _json({"type": "vocabulary" if not term else "term", "term": term or None,
                  "description": "gi-trace EPCIS extension vocabulary"})

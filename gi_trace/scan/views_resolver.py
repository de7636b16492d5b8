"""The GS1-Conformant resolver: `/01/<gtin>[/10/<lot>][/21/<serial>]`, `/.well-known/gs1resolver`, and
the public page of a product line (the default link of `/01/<gtin>`).

Answers (GS1-Conformant Resolver standard; linksets per RFC 9264):
- 307 to the default link, gs1:pip — the scan page `/t/<code>` of the package or batch (the same page and
  the same counted scan as a `/t/` QR), or the product line's page for `/01/<gtin>`; the request's other
  query parameters are passed on;
- `?linkType=gs1:traceability` (the public trace JSON; the EPCIS export for a partner's token),
  `gs1:certificationInfo` (the owner's record on the public register of GI authorisations), any other
  available type by its CURIE or full URI; an unavailable type → the default link;
- `?linkType=all` (or `linkset`), or `Accept: application/linkset+json` → 200 with the linkset;
- 400 for a path that is not a Digital Link (bad check digit, AI order or characters), 404 for one that
  names nothing here, 410 for a withdrawn or recalled lot (the scan page's own recall notice, the scan counted).
Every answer carries `Link` (all links of the item and its linkset, or the resolver description on an
error), `Vary: Accept` and `Access-Control-Allow-Origin: *` (GET, HEAD and OPTIONS).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gi_trace import formatting as fmt
from gi_trace.access import PUBLIC, access
from gi_trace.authorisation import rules as auth_rules
from gi_trace.authorisation import services as auth_services
from gi_trace.db import get_session
from gi_trace.errors import NotFound
from gi_trace.extensions import is_loopback, limiter, network_key
from gi_trace.scan.views import NO_STORE, _layout_context, trace_response
from gi_trace.timeutil import local_today
from gi_trace.tracing import codes, gs1, resolver

bp = Blueprint("resolver", __name__)

GS1_VOC = "https://gs1.org/voc/"
LINKSET_TYPE = "application/linkset+json"
DEFAULT_TYPE = "pip"
# Link types offered, with titles in both languages (a Link header's `title` is ASCII; `title*` carries
# the Chinese, RFC 8187). Data about the links, not page text.
TITLES = {
    "pip": ("Product information and trace record", "产品信息与追溯记录"),
    "traceability": ("Trace record (JSON)", "追溯记录（JSON）"),
    "epcis": ("EPCIS 2.0 events (partner token)", "EPCIS 2.0 事件（合作方令牌）"),
    "certificationInfo": ("GI special mark authorisation (public register)", "地理标志专用标志使用授权（公告）"),
    "linkset": ("All links of this item", "全部链接"),
}


@dataclass(frozen=True)
class Link:
    """One link of an item: its GS1 link type (a term of https://gs1.org/voc/), target and metadata."""

    link_type: str
    href: str
    title: str
    title_zh: str
    media_type: str = "text/html"
    hreflang: tuple[str, ...] = ("zh", "en")

    @property
    def rel(self) -> str:
        return GS1_VOC + self.link_type

    def header(self) -> str:
        """The link as an RFC 8288 `Link` header value."""
        langs = "".join(f'; hreflang="{lang}"' for lang in self.hreflang)
        return (f'<{self.href}>; rel="{self.rel}"; type="{self.media_type}"{langs}; title="{self.title}"; '
                f"title*=UTF-8''{quote(self.title_zh, safe='')}")

    def target(self) -> dict:
        """The link as an RFC 9264 target object."""
        return {"href": self.href, "type": self.media_type, "hreflang": list(self.hreflang), "title": self.title,
                "title*": [{"value": self.title_zh, "language": "zh"}]}


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def _link(link_type: str, href: str, media_type: str = "text/html", key: Optional[str] = None) -> Link:
    title, title_zh = TITLES[key or link_type]
    return Link(link_type, href, title, title_zh, media_type)


def links_of(found: resolver.Resolution) -> list[Link]:
    """Every link of an item, the default (gs1:pip) first."""
    base = _base()
    if found.code is None:
        pip = _link("pip", base + url_for("resolver.product_line", gtin=found.line.gtin14))
    else:
        pip = _link("pip", base + url_for("scan.trace_page", code=found.code))
    out = [pip]
    if found.batch is not None:
        out.append(_link("traceability", base + url_for("api.public_trace", code=found.code), "application/json"))
        out.append(_link("traceability", base + url_for("api.batch_epcis", code=found.batch.code),
                         "application/ld+json", key="epcis"))
    register = url_for("authorisation.public_register", product=found.product.slug, producer=found.producer.id)
    out.append(_link("certificationInfo", f"{base}{register}#producer-{found.producer.id}"))
    return out


def linkset(anchor: str, links: list[Link]) -> dict:
    """The RFC 9264 JSON linkset of one anchor: relation types as keys (GS1 terms as full URIs),
    gs1:defaultLink beside the default."""
    context: dict = {"anchor": anchor}
    for link in links:
        context.setdefault(link.rel, []).append(link.target())
    context[GS1_VOC + "defaultLink"] = [links[0].target()]
    return {"linkset": [context]}


def _requested_type(value: str) -> Optional[str]:
    """The GS1 link type a `linkType` value asks for (CURIE `gs1:x` or the full URI), else None."""
    for prefix in ("gs1:", GS1_VOC, "http://gs1.org/voc/"):
        if value.startswith(prefix):
            return value[len(prefix):]
    return None


def _wants_linkset(link_type: str) -> bool:
    if link_type in ("all", "linkset"):
        return True
    accept = request.accept_mimetypes
    best = accept.best_match([LINKSET_TYPE, "text/html"])
    return best == LINKSET_TYPE and accept[LINKSET_TYPE] > accept["text/html"]


def _headers(anchor: str, links: list[Link]) -> dict:
    items = [link.header() for link in links]
    items.append(f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET_TYPE}"; title="{TITLES["linkset"][0]}"')
    return {"Link": ", ".join(items), "Vary": "Accept"}


def _recalled(found: resolver.Resolution):
    """The 410 for a JSON client: the scan page's explanation (who recalled, when, why) as a Gone error."""
    batch, info = found.batch, found.recall
    when = info.recalled_at if info is not None else batch.withdrawn_at
    reason = info.reason if info is not None else batch.withdrawn_reason
    text = _("Lot %(lot)s has been recalled.", lot=batch.producer_lot or codes.display(batch.code))
    text += f" {_('Recalled on')}: {fmt.day(when)}." + (f" {_('Reason')}: {reason}" if reason else "")
    return gs1.recalled(batch, info, text, field="lot")


def _resolver_limit() -> str:
    # Every scan of a Digital Link QR passes here before the scan page: the same budget per network.
    return current_app.config["DIGITAL_LINK_RATE_LIMIT"]


@bp.get("/01/<path:rest>")
@access(PUBLIC)
@limiter.limit(_resolver_limit, key_func=network_key, exempt_when=is_loopback)
def digital_link(rest: str):
    """A GS1 Digital Link: 307 to the requested (else default) link, the linkset, or 400/404/410."""
    request_ = resolver.parse(rest)  # 400 before any lookup
    found = resolver.resolve(get_session(), request_)
    anchor = _base() + request_.path
    links = links_of(found)
    headers = _headers(anchor, links)
    link_type = request.args.get("linkType", "")
    if found.withdrawn:
        if _wants_linkset(link_type) or not _wants_html():
            response = current_app.json.response(_recalled(found).to_dict())
            response.status_code = 410
        else:
            response = current_app.make_response(trace_response(found.code))  # its explanation, its scan
        response.headers.update(headers)
        return response
    if _wants_linkset(link_type):
        response = current_app.json.response(linkset(anchor, links))
        best = request.accept_mimetypes.best_match([LINKSET_TYPE, "application/json"])
        response.mimetype = "application/json" if best == "application/json" else LINKSET_TYPE
        response.headers.update(headers)
        return response
    wanted = _requested_type(link_type)
    target = next((link for link in links if link.link_type == wanted), links[0])
    passed_on = [(k, v) for k, v in request.args.items(multi=True) if k != "linkType"]
    href = target.href
    if passed_on:
        path, _hash, fragment = href.partition("#")
        href = path + ("&" if "?" in path else "?") + urlencode(passed_on) + (f"#{fragment}" if fragment else "")
    response = redirect(href, code=307)
    response.headers.update(headers)
    return response


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best != "application/json" or request.accept_mimetypes["text/html"] >= request.accept_mimetypes[best]


@bp.get("/.well-known/gs1resolver")
@access(PUBLIC)
def description():
    """The resolver description file (GS1-Conformant Resolver standard)."""
    body = {
        "name": "中卫地理标志产品追溯 GS1 Digital Link resolver",
        "resolverRoot": _base(),
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypes": sorted({GS1_VOC + t for t in ("pip", "traceability", "certificationInfo", "defaultLink")}),
        "linkTypeDefaultCanBeAll": False,
        "supportedContextValuesEnumerated": [],
        "keyQualifiers": {"01": ["10", "21"]},
    }
    response = current_app.json.response(body)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/gtin/<gtin>")
@access(PUBLIC)
def product_line(gtin: str):
    """A product line's public page: what the GTIN is, whose, and whether its owner may use the GI mark."""
    problem = gs1.gtin_problem(gtin)
    if problem:
        raise NotFound(problem, field="gtin")
    session = get_session()
    found = resolver.resolve(session, resolver.Request(gs1.gtin14(gtin)))
    line = found.line
    status = auth_rules.status_on(auth_services.history(session, found.producer.id, found.product.id), local_today())
    certification = next(link for link in links_of(found) if link.link_type == "certificationInfo")
    return render_template("scan/product_line.html", line=line, product=found.product, producer=found.producer,
                           status=status, state=auth_services.state_label(status.state),
                           register_url=certification.href, display=codes.display,
                           **_layout_context()), 200, NO_STORE


@bp.after_request
def _cors(response):
    """CORS on every answer (an app on any origin may resolve); a `Link` on every answer."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Accept"
    response.headers["Access-Control-Expose-Headers"] = "Link, Location"
    if "Link" not in response.headers:
        response.headers["Link"] = (f'<{_base()}/.well-known/gs1resolver>; rel="describedby"; '
                                    f'type="application/json"; title="GS1 resolver description"')
    return response

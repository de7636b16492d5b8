"""Every page and export of the app, as people see them: the URL map filled from a seeded world.

Shared by the visible-text test (test client) and the 375 px browser walk (chromium). The world is
the security tests' one (producer A owns a tested harvest split into a stored lot, a unit code, a
product line, a flag, a complaint) plus what makes pages show structured data: a planting event
with inputs, a scan complaint with its scan context, a recorded inspection.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Iterator

from gi_trace.access import PUBLIC, access_rule_of
from tests.security import world as seed

# URL parameter name -> value from the world (as the access matrix does).
PARAMS = {
    "code": lambda w: w.lot.code,
    "producer_id": lambda w: w.producer_a.producer.id,
    "slug": lambda w: "zhongning-goji",
    "token_id": lambda w: w.token_ids["producer_a"],
    "complaint_id": lambda w: w.complaint_id,
    "flag_id": lambda w: w.flag.id,
    "stage": lambda w: "storage",
    "kind": lambda w: "producers",
    "fmt": lambda w: "csv",
    "gtin": lambda w: w.line.gtin14,
    "lot": lambda w: w.lot.producer_lot,
    "serial": lambda w: str(w.unit.serial),
    "filename": lambda w: "css/app.css",
    "reference": lambda w: w.complaint_reference,
    "job_id": lambda w: w.job_id,
    "version_id": lambda w: w.report_version_id,
    "case_id": lambda w: w.case_id,
    "ext": lambda w: "html",
    "shipment_id": lambda w: w.shipment_id,
    "purchase_id": lambda w: w.purchase_id,
    "event_id": lambda w: w.sale_event_id,
    "recall_id": lambda w: w.recall_id,
    "plot_id": lambda w: w.producer_a.plot.id,
    "county_code": lambda w: w.producer_a.producer.county_code,
    "town_code": lambda w: w.producer_a.plot.town_code,
    "party_code": lambda w: w.producer_a.producer.code,
    "gln": lambda w: w.producer_b.producer.gln,
    "number": lambda w: "WB-2025-1",
    "term": lambda w: "stage",
}

# Not pages: machine formats, images, redirects.
SKIP_ENDPOINTS = {"static", "web.favicon", "web.healthz", "tracing.qr_png", "tracing.qr_svg",
                  "oversight_supervision.complaint_photo", "tracing.labels_zip", "oversight_report.annual_zip",
                  "resolver.digital_link", "resolver.description", "registry.producer_search",
                  "chain.shipment_certificate_pdf", "chain.purchase_certificate_pdf", "chain.purchase_import_template",
                  "chain.sale_certificate_pdf", "epcis_ids.town", "epcis_ids.plot", "epcis_ids.party",
                  "epcis_ids.party_by_gln",
                  "epcis_ids.document", "epcis_ids.fresh", "epcis_ids.vocabulary"}

# Exports whose column names are identifiers by design (import templates: the importer reads them).
IDENTIFIER_HEADERS = ("/import/templates/",)
# Being rewritten in another area's issue; to be walked once it lands.
ELSEWHERE: set[str] = set()

STAGES = ("planting", "harvest", "drying", "testing", "storage", "processing", "distribution")


def seeded_world(app):
    """`build_world` in its own session and app context, closed before any request: a request made
    inside a pushed context would share its `g` (and the language chosen first)."""
    from sqlmodel import Session

    from gi_trace.db import get_engine
    from tests import factories

    with app.test_request_context():
        with Session(get_engine(app), expire_on_commit=False) as s:
            factories.bind(s)
            try:
                world = build_world(s)
            finally:
                factories.bind(None)
    world.usernames = [u.username for u in world.users.values()]
    return world


def build_world(session):
    """The security world plus planting inputs, a scan complaint with context, an inspection."""
    from gi_trace.accounts.services import create_token
    from gi_trace.scan.complaints import file_complaint
    from gi_trace.tracing.services import inputs as plot_inputs

    world = seed.build(session)
    world.token_ids = {"producer_a": create_token(session, world.users["producer_a"], "walk")[0].id}
    world.planted = world.producer_a.open(session)
    world.producer_a.event(session, world.planted, "planting", "2025-04-12T08:00:00+08:00", {
        "plot_id": world.producer_a.plot.id, "cultivar": "宁杞7号"})
    plot_inputs.record_input(session, world.producer_a.user, world.producer_a.plot, plot_inputs.InputData(
        kind="fertiliser", product_name="有机肥", dose="2 t/亩", applied_on="2025-04-12", applied_by="张三"))
    complaint = file_complaint(session, source="scan", category="origin", text="产地存疑",
                               bought={"shop": "银川某超市", "city": "银川", "platform": "", "order_no": "A-1"},
                               code=world.lot.code, batch_id=world.lot.id,
                               producer_id=world.producer_a.producer.id,
                               scan_context={"code": world.lot.code, "kind": "batch", "reporter_network": "ab12cd34ef",
                                             "scans": 3, "networks": 2, "first_scanned_at": "2026-04-12T00:10:00+00:00",
                                             "counterfeit_flag": False, "reporter_scanned_it": True})
    # A recall: producer B withdraws a harvest it split, so the recall reaches a descendant.
    from gi_trace.tracing import recall, services as tracing_services

    recalled = world.producer_b.harvested(session)
    tracing_services.split(session, world.producer_b.user, recalled, [{"quantity_kg": 100}],
                           occurred_at="2025-07-20T08:00:00+08:00")
    tracing_services.withdraw(session, world.producer_b.user, recalled, "抽检不合格")
    world.recall_id = recall.recall_for(session, recalled).recall_id
    # A hand-over producer A accepted: its received batch's timeline names the sender (not its code).
    from gi_trace.tracing import transfers

    handed = transfers.ship(session, world.producer_b.user, world.b_batch, to=world.producer_a.producer.code,
                            quantity_kg=1)
    world.received = transfers.receive(session, world.producer_a.user, handed)
    # A producer whose register page shows a decision's documents and a coded reason with its words.
    from datetime import date

    from tests import factories

    decided = factories.ProducerFactory()
    factories.DecisionFactory(producer_id=decided.id, action="approve", effective_date=date(2023, 3, 1),
                              contract_no="许可合同〔2023〕7", notice_no="中宁县市场监管局公告〔2023〕7号")
    factories.DecisionFactory(producer_id=decided.id, action="suspend", effective_date=date(2024, 3, 1),
                              reason_code="other", reason="申请材料不全，缺少种植基地证明")
    world.decided_id = decided.id
    world.scan_complaint_id = complaint.id
    world.complaint_reference = complaint.reference
    session.commit()
    return world


def portal_urls(app, world, role: str) -> Iterator[str]:
    """GET pages of the portal that `role` ("producer", "regulator", or None for the public) may open."""
    seen = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS | ELSEWHERE or rule.rule.startswith("/api/"):
            continue
        declared = access_rule_of(app.view_functions[rule.endpoint])
        if declared is None or (declared != PUBLIC and (role is None or role not in declared)):
            continue
        if any(name not in PARAMS for name in rule.arguments):
            raise AssertionError(f"add the URL parameters of {rule.rule} to tests/ui/walk.py PARAMS")
        if role == "regulator" and rule.endpoint.startswith("tracing.") and "producer" in declared \
                and rule.endpoint not in ("tracing.batch_detail",):
            continue
        stages = STAGES if "stage" in rule.arguments else (None,)
        for stage in stages:
            values = {name: PARAMS[name](world) for name in rule.arguments}
            if stage:
                values["stage"] = stage
                values["code"] = world.harvest.code if stage in ("harvest", "drying", "testing") else values["code"]
            with app.test_request_context():
                url = app.url_map.bind("localhost").build(rule.endpoint, values)
            if url not in seen:
                seen.add(url)
                yield url
    extra = {
        None: ["/report/status?ref=" + world.complaint_reference, "/report/sent?ref=" + world.complaint_reference,
               "/verify?code=" + world.lot.code, "/t/" + world.lot.code, "/t/" + world.unit.code,
               "/report?code=" + world.lot.code,
               # The register filtered to one producer: where a Digital Link's gs1:certificationInfo points.
               f"/authorised-users?product=zhongning-goji&producer={world.producer_a.producer.id}"],
        "producer": ["/batches/" + world.harvest.code, "/batches/" + world.planted.code,
                     "/batches/" + world.received.code],
        "regulator": [f"/producers/{world.decided_id}", "/batches/" + world.planted.code, f"/oversight/complaints/{world.scan_complaint_id}","/oversight/recall?code=" + world.lot.code, "/batches/" + world.harvest.code,
                      "/oversight/recall/" + world.lot.code + ".xlsx", "/import/templates/producers.xlsx"],
    }
    for url in extra.get(role, []):
        if url not in seen:
            seen.add(url)
            yield url


class _Text(HTMLParser):
    """The text a reader sees: text nodes (not script/style/template), placeholders, button values, the
    values of number boxes, alt."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.labels: list[str] = []  # texts of label, legend, th, button: the form's own words
        self._skip = 0
        self._label_depth = 0
        self._label: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("label", "legend", "th", "button"):
            self._label_depth += 1
        if tag in ("script", "style", "template", "textarea", "title"):
            self._skip += 1
        a = dict(attrs)
        for key in ("placeholder", "alt", "aria-label"):
            if a.get(key):
                self.parts.append(a[key])
        if tag == "input" and a.get("type") in ("submit", "button", "number") and a.get("value"):
            self.parts.append(a["value"])  # a number box shows its value as typed: "0.0" is what a person reads

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template", "textarea", "title") and self._skip:
            self._skip -= 1
        if tag in ("label", "legend", "th", "button") and self._label_depth:
            self._label_depth -= 1
            if not self._label_depth:
                self.labels.append(" ".join(self._label).strip())
                self._label = []

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())
            if self._label_depth:
                self._label.append(data.strip())


# Elements of HTML (and inline SVG) the pages use; any other start tag is text a translation or a message wrote
# as "<lot>" or "<token>" without escaping: the browser swallows it as an unknown element.
HTML_ELEMENTS = set("""a abbr article aside b blockquote body datalist kbd mark noscript output progress q s samp br button caption circle code col colgroup dd defs details div dl dt em fieldset
figcaption figure footer form g h1 h2 h3 h4 h5 h6 head header hr html i img input label legend li line link main
meta nav ol optgroup option p path polygon polyline pre rect script section select small span strong style sub
summary sup svg table tbody td template text textarea tfoot th thead time title tr tspan u ul""".split())


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.unknown: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in HTML_ELEMENTS:
            self.unknown.append(tag)


def unknown_elements(html: str) -> list[str]:
    """Start tags that are no HTML element: an angle-bracketed placeholder in a message, shown as nothing."""
    parser = _Tags()
    parser.feed(html)
    return parser.unknown


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


# Words a Chinese form may show in Latin letters (names of formats and standards).
LATIN_OK = {"GTIN", "PNG", "SVG", "PDF", "CSV", "XLSX", "API", "English", "QR", "ID", "SO₂", "URL"}


def untranslated_labels(html: str) -> list[str]:
    """Labels, legends, table heads and buttons of a Chinese page that hold no Chinese (left in English)."""
    parser = _Text()
    parser.feed(html)
    out = []
    for text in parser.labels:
        words = re.findall(r"[A-Za-z]{3,}", text)
        if words and not re.search(r"[\u4e00-\u9fff]", text) and not set(words) <= LATIN_OK:
            out.append(text)
    return out


# Codes that must never reach a Chinese reader, and never anywhere as snake_case or key=value.
CODE_WORDS = ("planting", "harvest", "drying", "testing", "storage", "processing", "distribution", "split",
              "merge", "withdrawal", "untested", "passed", "failed", "investigating", "authorised", "pending",
              "suspended", "revoked", "expired", "rejected", "cleared", "confirmed", "dismissed", "household",
              "enterprise", "cooperative", "upstream", "downstream", "counterfeit", "labelling", "hot_air",
              "family_farm", "lab_verdict", "merged", "processed", "new", "closed", "open", "sun", "shipping",
              "receiving", "delivery", "received", "purchased", "fresh", "dried", "juice", "powder")
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}(:\d{2})?[+-]\d{2}:\d{2}|\(UTC\)|（UTC）")
ISO_DATE = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")
FLOAT_ZERO = re.compile(r"(?<![\d.])\d[\d,]*\.0+(?![\d%])")
ASCII_COLON = re.compile(r"[\u4e00-\u9fff）]:(?=\s|$)", re.M)
ASCII_PAREN = re.compile(r"[\u4e00-\u9fff] ?\((?![A-Za-z])|\([^()\n]*[\u4e00-\u9fff][^()\n]*\)")
FULLWIDTH_COLON = re.compile(r"[A-Za-z0-9.)]：")  # an English label with the Chinese colon
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
KEY_VALUE = re.compile(r"\b[a-z_]+=[\w.]+")


def problems(text: str, lang: str, *, dates_allowed: bool = False, identifiers: bool = False) -> list[str]:
    """What in `text` is a code or raw data rather than words for people."""
    found = []
    checks = [(ISO_TIMESTAMP, "ISO timestamp"), (FLOAT_ZERO, "float with .0"), (KEY_VALUE, "key=value")]
    if not identifiers:
        checks.append((SNAKE, "snake_case code"))
    for pattern, what in checks:
        m = pattern.search(text)
        if m:
            found.append(f"{what}: {_around(text, m)}")
    if not dates_allowed:
        m = ISO_DATE.search(text)
        if m:
            found.append(f"ISO date: {_around(text, m)}")
    for brace in "{}":
        i = text.find(brace)
        if i >= 0:
            found.append(f"JSON brace: {text[max(0, i - 40):i + 40]!r}")
    if lang == "en":
        m = FULLWIDTH_COLON.search(text)
        if m:
            found.append(f"full-width colon after English (use |colon): {_around(text, m)}")
    if lang == "zh":
        m = ASCII_PAREN.search(text)
        if m:
            found.append(f"ASCII parenthesis in Chinese (use （）): {_around(text, m)}")
        m = ASCII_COLON.search(text)
        if m:
            found.append(f"ASCII colon after Chinese (use |colon): {_around(text, m)}")
        for word in CODE_WORDS:
            m = re.search(rf"(?<![A-Za-z_/.-]){word}(?![A-Za-z_/.-])", text)
            if m:
                found.append(f"code {word!r}: {_around(text, m)}")
    return found


def _around(text: str, m) -> str:
    return repr(text[max(0, m.start() - 40):m.end() + 40])

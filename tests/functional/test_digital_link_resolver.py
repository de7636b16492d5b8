"""Issue 13: the GS1-Conformant resolver — status codes, Link headers, RFC 9264 linksets, CORS, the resolver
description, 400/404/410, GTIN-line isolation — and labels of a GTIN line that decode to Digital Link URIs."""
from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import unquote, urlsplit

import pytest
import zxingcpp
from PIL import Image
from sqlmodel import select

from gi_trace.scan.models import ScanCounter
from gi_trace.tracing import gs1, labels, qr, services, units
from tests import factories
from tests.conftest import login
from tests.functional.test_tracing_api import bearer
from tests.tracing_labels_support import passed_batch, pdf_page_image, pdf_text

BASE = "https://trace.example.cn"  # PUBLIC_BASE_URL of the test configuration
GTIN = "09506000134352"
OTHER_GTIN = "0950600013436" + str(gs1.check_digit("0950600013436"))
LOT = "ZN-2026-07"
VOC = "https://gs1.org/voc/"


class World:
    """A producer with two GTIN lines: a lot under the first, a line-less lot, a lot under the second."""

    def __init__(self, session):
        self.producer = factories.authorised_producer()
        factories.gs1_prefix(self.producer, "9506000")
        self.user = factories.producer_user(self.producer, "farmer")
        self.line = gs1.register_product_line(session, self.user, gs1.ProductLineInput("zhongning-goji", GTIN, "礼盒"))
        self.other_line = gs1.register_product_line(session, self.user, gs1.ProductLineInput(
            "zhongning-goji", OTHER_GTIN, "散装"))
        _p, _u, self.batch = passed_batch(session, self.producer, self.user, product_line_id=self.line.id, lot=LOT)
        self.units = units.issue_units(session, self.user, self.batch, 3, 0.5)
        _p, _u, self.lineless = passed_batch(session, self.producer, self.user, lot="ZN-NOLINE")
        _p, _u, self.other = passed_batch(session, self.producer, self.user, product_line_id=self.other_line.id,
                                          lot="ZN-OTHER")
        self.other_units = units.issue_units(session, self.user, self.other, 1, 0.5)
        session.commit()


@pytest.fixture
def world(session):
    return World(session)


def _links(response) -> dict[str, list[str]]:
    """rel → hrefs of a Link header."""
    found: dict[str, list[str]] = {}
    for href, params in re.findall(r'<([^>]*)>((?:;[^,<]*)*)', response.headers.get("Link", "")):
        rel = re.search(r'rel="([^"]+)"', params).group(1)
        found.setdefault(rel, []).append(href)
    return found


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- redirects, link types, Link headers ---------------------------------------------------

def test_a_lot_redirects_307_to_its_scan_page_with_every_link_in_the_link_header(client, world):
    response = client.get(f"/01/{GTIN}/10/{LOT}")
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/t/{world.batch.code}"
    links = _links(response)
    assert links[VOC + "pip"] == [f"{BASE}/t/{world.batch.code}"]
    assert f"{BASE}/api/v1/trace/{world.batch.code}" in links[VOC + "traceability"]
    assert links[VOC + "certificationInfo"][0].startswith(f"{BASE}/authorised-users?")
    assert links["linkset"] == [f"{BASE}/01/{GTIN}/10/{LOT}?linkType=linkset"]
    for item in response.headers["Link"].split(", <"):
        assert 'title="' in item and "rel=" in item  # every link: target, type and a title
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept" in response.headers["Vary"]


def test_each_package_resolves_with_and_without_its_lot(client, world):
    unit = world.units[1]
    for path in (f"/01/{GTIN}/10/{LOT}/21/{unit.code}", f"/01/{GTIN}/21/{unit.code}"):
        response = client.get(path)
        assert response.status_code == 307 and response.headers["Location"] == f"{BASE}/t/{unit.code}"
        assert _links(response)[VOC + "pip"] == [f"{BASE}/t/{unit.code}"]


def test_a_gtin_alone_opens_its_product_lines_page(client, world):
    response = client.get(f"/01/{GTIN}")
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/gtin/{GTIN}"
    assert VOC + "traceability" not in _links(response)  # a line has no single trace record
    page = client.get(f"/gtin/{GTIN}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "礼盒" in html and GTIN in html and world.producer.name in html
    assert client.get(f"/gtin/{GTIN[:-1]}3").status_code == 404


def test_link_types_redirect_to_their_targets_and_an_unknown_type_to_the_default(client, world):
    code = world.batch.code
    trace = client.get(f"/01/{GTIN}/10/{LOT}?linkType=gs1:traceability")
    assert trace.status_code == 307 and trace.headers["Location"] == f"{BASE}/api/v1/trace/{code}"
    assert client.get(_path(trace.headers["Location"])).get_json()["code"] == code
    full_uri = client.get(f"/01/{GTIN}/10/{LOT}", query_string={"linkType": VOC + "traceability"})
    assert full_uri.headers["Location"] == trace.headers["Location"]
    cert = client.get(f"/01/{GTIN}/10/{LOT}?linkType=gs1:certificationInfo")
    assert cert.status_code == 307
    register = client.get(_path(cert.headers["Location"].split("#")[0]))
    assert register.status_code == 200
    html = register.get_data(as_text=True)
    assert f'id="producer-{world.producer.id}"' in html and world.producer.code in html
    other = client.get(f"/01/{GTIN}/10/{LOT}?linkType=gs1:recipeInfo")
    assert other.status_code == 307 and other.headers["Location"] == f"{BASE}/t/{code}"


def test_the_query_string_is_passed_on_when_redirecting(client, world):
    response = client.get(f"/01/{GTIN}/10/{LOT}?utm_source=shelf&linkType=gs1:pip")
    assert response.headers["Location"] == f"{BASE}/t/{world.batch.code}?utm_source=shelf"


def test_a_trailing_slash_is_tolerated_and_head_and_options_answer(client, world):
    plain = client.get(f"/01/{GTIN}/10/{LOT}")
    slash = client.get(f"/01/{GTIN}/10/{LOT}/")
    assert (slash.status_code, slash.headers["Location"]) == (plain.status_code, plain.headers["Location"])
    head = client.head(f"/01/{GTIN}/10/{LOT}")
    assert head.status_code == 307 and head.headers["Link"] == plain.headers["Link"]
    options = client.options(f"/01/{GTIN}/10/{LOT}")
    assert options.status_code == 200
    assert options.headers["Access-Control-Allow-Origin"] == "*"
    assert set(options.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "Link" in options.headers


# --- linksets (RFC 9264) ---------------------------------------------------------------------

def _check_linkset(body: dict, anchor: str) -> dict:
    """The RFC 9264 JSON shape: {"linkset": [context objects]}, each with an anchor and relation types whose
    values are arrays of target objects, each with an href (and here: type, hreflang array, title)."""
    assert set(body) == {"linkset"} and isinstance(body["linkset"], list) and len(body["linkset"]) == 1
    context = body["linkset"][0]
    assert context["anchor"] == anchor
    for rel, targets in context.items():
        if rel == "anchor":
            continue
        assert rel.startswith("https://")  # extension relation types are URIs
        assert isinstance(targets, list) and targets
        for target in targets:
            assert target["href"].startswith(BASE + "/")
            assert isinstance(target["title"], str) and target["title"]
            assert isinstance(target["hreflang"], list)
            assert all(set(t) == {"value", "language"} for t in target["title*"])
    return context


def test_link_type_all_returns_the_linkset(client, world):
    response = client.get(f"/01/{GTIN}/10/{LOT}?linkType=all")
    assert response.status_code == 200 and response.mimetype == "application/linkset+json"
    context = _check_linkset(response.get_json(), f"{BASE}/01/{GTIN}/10/{LOT}")
    assert context[VOC + "defaultLink"] == context[VOC + "pip"]
    assert context[VOC + "pip"][0]["href"] == f"{BASE}/t/{world.batch.code}"
    assert {t["type"] for t in context[VOC + "traceability"]} == {"application/json", "application/ld+json"}
    assert "Link" in response.headers and response.headers["Access-Control-Allow-Origin"] == "*"


def test_accept_linkset_json_returns_the_linkset_and_json_clients_get_json(client, world):
    unit = world.units[0]
    response = client.get(f"/01/{GTIN}/21/{unit.code}", headers={"Accept": "application/linkset+json"})
    assert response.status_code == 200 and response.mimetype == "application/linkset+json"
    _check_linkset(response.get_json(), f"{BASE}/01/{GTIN}/21/{unit.code}")
    as_json = client.get(f"/01/{GTIN}/10/{LOT}?linkType=all", headers={"Accept": "application/json"})
    assert as_json.mimetype == "application/json" and "linkset" in as_json.get_json()
    browser = client.get(f"/01/{GTIN}/10/{LOT}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 307


def test_the_resolver_describes_itself_at_well_known(client):
    response = client.get("/.well-known/gs1resolver")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["resolverRoot"] == BASE and body["supportedPrimaryKeys"] == ["01"]
    assert {"namespace": VOC, "prefix": "gs1:"} in body["supportedLinkType"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    f"/01/{GTIN[:-1]}3/10/{LOT}",          # check digit
    f"/01/95060001343/10/{LOT}",            # 11 digits
    f"/01/{GTIN}/foo",                      # not a pair
    f"/01/{GTIN}/17/260101",                # not a key qualifier of a GTIN here
    f"/01/{GTIN}/21/ABC/10/{LOT}",          # qualifiers out of order
    f"/01/{GTIN}/10/{LOT}/10/{LOT}",        # twice
    f"/01/{GTIN}/10/" + "A" * 21,           # AI 10 is at most 20 characters
    f"/01/{GTIN}/10/批次",                   # outside GS1 set 82
    f"/01/{GTIN}/21/A%20B",                 # a space is not in set 82
])
def test_syntax_errors_are_400_with_a_link_header(client, world, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "describedby" in response.headers["Link"] and response.headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_items_are_404_and_a_gtin_answers_only_for_its_own_lots(client, world):
    unit = world.units[0]
    stranger = world.other_units[0]
    for path in (f"/01/{GTIN}/10/NO-SUCH-LOT",
                 "/01/04006381333931",                          # valid, not registered
                 f"/01/{GTIN}/10/ZN-NOLINE",                    # line-less batch of the same producer
                 f"/01/{GTIN}/10/ZN-OTHER",                     # the producer's other line
                 f"/01/{OTHER_GTIN}/10/{LOT}",                  # this lot under the other GTIN
                 f"/01/{GTIN}/21/{stranger.code}",              # a package of the other line
                 f"/01/{GTIN}/10/{LOT}/21/{stranger.code}",
                 f"/01/{OTHER_GTIN}/21/{unit.code}",
                 f"/01/{GTIN}/10/{LOT}/21/{unit.serial}",       # a running number is no serial
                 f"/01/{GTIN}/21/{unit.code.lower()}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Link" in response.headers
    assert client.get(f"/01/{OTHER_GTIN}/10/ZN-OTHER").status_code == 307


def test_gtin_and_serial_name_one_package(session, world):
    """(01)+(21) is unique: a serial is a unit code, unique across every lot and line (a database constraint)."""
    codes_issued = [u.code for u in world.units] + [u.code for u in world.other_units]
    assert len(set(codes_issued)) == len(codes_issued)
    from sqlalchemy.exc import IntegrityError

    from gi_trace.tracing.models import UnitCode

    session.add(UnitCode(code=world.units[0].code, batch_id=world.other.id, serial=99, package_kg=0.5))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_a_withdrawn_lot_is_410_with_its_scan_pages_explanation_and_the_scan_counted(client, session, world):
    services.withdraw(session, world.user, world.batch, "召回：包装破损")
    session.commit()
    page = client.get(f"/t/{world.batch.code}")
    resolved = client.get(f"/01/{GTIN}/10/{LOT}")
    assert page.status_code == resolved.status_code == 410
    notice = re.compile(r'<section class="verdict bad recalled" role="alert">.*?</section>', re.S)
    explanation = notice.search(page.get_data(as_text=True)).group(0)
    assert notice.search(resolved.get_data(as_text=True)).group(0) == explanation
    assert "召回：包装破损" in explanation
    assert VOC + "pip" in _links(resolved) and resolved.headers["Access-Control-Allow-Origin"] == "*"
    session.expire_all()
    counter = session.exec(select(ScanCounter).where(ScanCounter.code == world.batch.code)).one()
    assert counter.scans == 2  # the /t/ page and the Digital Link: the same scan counted each time
    unit = client.get(f"/01/{GTIN}/21/{world.units[0].code}", headers={"Accept": "application/json"})
    assert unit.status_code == 410
    assert "召回：包装破损" in unit.get_json()["error"]["message"]
    assert client.get(f"/01/{GTIN}/10/{LOT}?linkType=all").status_code == 410


def test_both_qr_forms_open_the_same_scan_page_and_count_the_same_scan(client, session, world):
    unit = world.units[2]
    direct = client.get(f"/t/{unit.code}")
    redirect = client.get(f"/01/{GTIN}/10/{LOT}/21/{unit.code}")
    assert redirect.status_code == 307 and _path(redirect.headers["Location"]) == f"/t/{unit.code}"
    via_link = client.get(_path(redirect.headers["Location"]))
    assert direct.status_code == via_link.status_code == 200
    assert direct.get_data(as_text=True).count(unit.code[:4]) == via_link.get_data(as_text=True).count(unit.code[:4])
    session.expire_all()
    assert session.exec(select(ScanCounter).where(ScanCounter.code == unit.code)).one().scans == 2


# --- labels of a GTIN line -------------------------------------------------------------------

def _decode(png: bytes) -> str:
    image = Image.open(io.BytesIO(png)).convert("L")
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    return found[0].text


def test_unit_labels_of_a_gtin_line_decode_to_digital_links_that_resolve_to_the_package(client, world):
    login(client, "farmer")
    response = client.get(f"/batches/{world.batch.code}/labels.zip?kind=units&start=1&count=3")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        images = [archive.read(name) for name in sorted(archive.namelist())]
    for unit, png in zip(world.units, images):
        text = _decode(png)
        assert text == f"{BASE}/01/{GTIN}/10/{LOT}/21/{unit.code}"
        resolved = client.get(_path(text))
        assert resolved.status_code == 307 and resolved.headers["Location"] == f"{BASE}/t/{unit.code}"
    sheet = client.get(f"/batches/{world.batch.code}/labels?kind=units&start=1&count=3").get_data(as_text=True)
    assert f"(01){GTIN}" in sheet and f"(10){LOT}" in sheet and f"(21){world.units[0].code}" in sheet


def test_a_batch_label_and_the_batch_qr_carry_the_lots_digital_link(client, session, world):
    login(client, "farmer")
    png = client.get(f"/t/{world.batch.code}/qr.png")
    text = _decode(png.data)
    assert text == f"{BASE}/01/{GTIN}/10/{LOT}"
    assert client.get(_path(text)).headers["Location"] == f"{BASE}/t/{world.batch.code}"
    # A batch without a line keeps its /t/ address.
    assert _decode(client.get(f"/t/{world.lineless.code}/qr.png").data) == f"{BASE}/t/{world.lineless.code}"
    sheet = labels.build_sheet(session, world.user, world.batch, BASE, kind="batch", count=1)
    assert sheet.labels[0].human_readable == (f"(01){GTIN}", f"(10){LOT}")


def test_the_vector_pdf_decodes_at_300_dpi_and_its_text_has_the_human_readable_line(client, world, output_dir):
    if labels.pdf_fonts() is None:
        pytest.skip("no Noto Sans CJK font installed (fonts-noto-cjk)")
    login(client, "farmer")
    response = client.get(f"/batches/{world.batch.code}/labels.pdf?kind=units&start=1&count=3")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert b"/Subtype /Image" not in response.data  # drawn in vectors, no page bitmaps
    assert b"/FontFile3" in response.data  # the CJK font is embedded (CFF outlines)
    page = pdf_page_image(response.data, output_dir, 1)
    cell = page.crop((118, 118, 118 + 449, 118 + 449)).convert("L")
    assert [r.text for r in zxingcpp.read_barcodes(cell)] == [f"{BASE}/01/{GTIN}/10/{LOT}/21/{world.units[0].code}"]
    text = pdf_text(response.data, output_dir)
    assert f"(01){GTIN}" in text and f"(10){LOT}" in text and f"(21){world.units[0].code}" in text
    assert "中宁枸杞" in text


@pytest.mark.parametrize("lot", ["ZN-2026-07", "A" * 20, "(L)*+,:;='!" + "B" * 9])
def test_a_2cm_label_with_the_longest_digital_link_decodes_at_300_dpi(lot):
    """The longest URI a label carries: a 20-character lot (worst case: every character percent-encoded)."""
    url = gs1.digital_link_uri("https://trace.zhongwei.gov.cn", GTIN, lot, "ABCDEFGHJKMNP2")
    png = qr.png(url)
    image = Image.open(io.BytesIO(png))
    assert image.size[0] <= round(qr.LABEL_MM / 25.4 * qr.LABEL_DPI)  # 2 cm at 300 dpi
    assert _decode(png) == url
    assert unquote(urlsplit(url).path).endswith(f"/10/{lot}/21/ABCDEFGHJKMNP2")


# --- lot numbers when entered ----------------------------------------------------------------

def test_a_lot_outside_ai_10_is_refused_beside_the_field_on_the_form(client, world):
    from tests.functional.test_tracing_portal_walk import _errors, _post

    login(client, "farmer")
    for lot in ("ZN/2026", "批次1", "A" * 21, "L?1"):
        response = _post(client, "/batches/new", {"product": "zhongning-goji", "cultivar": "宁杞7号",
                                                  "producer_lot": lot})
        assert response.status_code == 200 and any("GS1 AI 10" in e for e in _errors(response)), lot


def test_a_lot_outside_ai_10_is_refused_by_the_api_with_its_field(client, session, world):
    headers = bearer(session, world.user)
    session.commit()
    response = client.post("/api/v1/batches", headers=headers, json={"product": "zhongning-goji",
                                                                     "cultivar": "宁杞7号", "producer_lot": "A&B"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "producer_lot"
    ok = client.post("/api/v1/batches", headers=headers, json={"product": "zhongning-goji", "cultivar": "宁杞7号",
                                                               "producer_lot": "ZN-2026.08_A"})
    assert ok.status_code == 201

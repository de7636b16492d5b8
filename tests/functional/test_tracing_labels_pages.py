"""QR images, the GS1 Digital Link resolver, label sheets and the unit-code API through the test client."""
from __future__ import annotations

import io
import re
import zipfile

import zxingcpp
from markupsafe import escape
from PIL import Image

from gi_trace.tracing import codes, gs1, services, units
from tests import factories
from tests.conftest import login
from tests.tracing_labels_support import failed_batch, passed_batch, pdf_page_image

BASE = "https://trace.example.cn"  # PUBLIC_BASE_URL of the test configuration


def _commit(session):
    session.commit()


def _token(client, session, user) -> dict:
    from gi_trace.accounts import services as accounts

    created = accounts.create_token(session, user, "test")
    session.commit()
    token = created[1] if isinstance(created, tuple) else created
    return {"Authorization": f"Bearer {token}"}


def _decode(data: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)).convert("L"))]


# --- QR images ------------------------------------------------------------------------------

def test_qr_png_of_a_batch_decodes_to_its_trace_url(client, session):
    _p, _u, batch = passed_batch(session)
    _commit(session)
    response = client.get(f"/t/{batch.code}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert "max-age" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    assert _decode(response.data) == [f"{BASE}/t/{batch.code}"]
    again = client.get(f"/t/{batch.code}/qr.png", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_qr_svg_is_a_20mm_svg_of_the_trace_url(client, session):
    _p, _u, batch = passed_batch(session)
    _commit(session)
    response = client.get(f"/t/{batch.code}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    body = response.get_data(as_text=True)
    assert 'width="20mm"' in body and f"{BASE}/t/{batch.code}" in body


def test_qr_of_a_unit_code_decodes_to_the_unit_url(client, session):
    _p, user, batch = passed_batch(session)
    unit = units.issue_units(session, user, batch, 1, 0.5)[0]
    _commit(session)
    assert _decode(client.get(f"/t/{unit.code}/qr.png").data) == [f"{BASE}/t/{unit.code}"]


def test_qr_for_unknown_or_mistyped_codes_is_404(client, session):
    _p, _u, batch = passed_batch(session)
    _commit(session)
    unknown = codes.new_code()
    assert client.get(f"/t/{unknown}/qr.png").status_code == 404
    wrong_check = batch.code[:-1] + ("2" if batch.code[-1] != "2" else "3")
    assert client.get(f"/t/{wrong_check}/qr.png").status_code == 404
    assert client.get("/t/not-a-code/qr.svg").status_code == 404


def test_qr_of_a_withdrawn_batch_is_gone(client, session):
    _p, user, batch = passed_batch(session)
    services.withdraw(session, user, batch, "召回")
    _commit(session)
    assert client.get(f"/t/{batch.code}/qr.png").status_code == 410


# --- GS1 Digital Link ---------------------------------------------------------------------

def _line_batch(session, lot="ZN-2026-07"):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "9506000")
    user = factories.producer_user(producer)
    line = gs1.register_product_line(session, user, gs1.ProductLineInput("zhongning-goji", "09506000134352", "礼盒"))
    return passed_batch(session, producer, user, product_line_id=line.id, lot=lot)


def test_digital_link_redirects_307_to_the_batch_page(client, session):
    _p, user, batch = _line_batch(session)
    unit = units.issue_units(session, user, batch, 2, 0.5)[1]
    _commit(session)
    response = client.get("/01/09506000134352/10/ZN-2026-07")
    assert response.status_code == 307
    assert response.headers["Location"].endswith(f"/t/{batch.code}")
    response = client.get(f"/01/09506000134352/10/ZN-2026-07/21/{unit.code}")
    assert response.status_code == 307 and response.headers["Location"].endswith(f"/t/{unit.code}")


def test_digital_link_unknown_is_404_and_bad_check_digit_is_400_and_says_so(client, session):
    _line_batch(session)
    _commit(session)
    assert client.get("/01/09506000134352/10/NO-SUCH-LOT").status_code == 404
    assert client.get("/01/04006381333931/10/ZN-2026-07").status_code == 404
    # A GS1-conformant resolver reports a syntax error (here the check digit) with 400.
    response = client.get("/01/09506000134353/10/ZN-2026-07")
    assert response.status_code == 400
    assert gs1.gtin_problem("09506000134353") in response.get_data(as_text=True)
    assert client.get("/01/09506000134353/10/ZN-2026-07", headers={"Accept": "application/json"}).json[
        "error"]["field"] == "gtin"


def test_digital_link_of_a_withdrawn_batch_is_410(client, session):
    _p, user, batch = _line_batch(session)
    services.withdraw(session, user, batch, "召回：包装破损")
    _commit(session)
    assert client.get("/01/09506000134352/10/ZN-2026-07").status_code == 410


# --- label sheets ---------------------------------------------------------------------------

def test_print_view_has_one_2cm_qr_per_unit_and_obeys_the_csp(client, session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer, "farmer")
    _p, user, batch = passed_batch(session, producer, user)
    issued = units.issue_units(session, user, batch, 40, 0.5)
    _commit(session)
    login(client, "farmer")
    response = client.get(f"/batches/{batch.code}/labels?kind=units&start=1&count=40")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('class="qr"') == 40
    assert html.count('class="label-page"') == 2  # 35 per A4 page
    assert codes.display(issued[0].code) in html and producer.uscc in html and "中宁枸杞" in html
    assert not re.search(r"<script(?![^>]*\ssrc=)|<style|\sstyle=", html)  # no inline script or style


def test_zip_holds_decodable_pngs_for_each_unit(client, session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer, "farmer")
    _p, user, batch = passed_batch(session, producer, user)
    issued = units.issue_units(session, user, batch, 5, 0.5)
    _commit(session)
    login(client, "farmer")
    response = client.get(f"/batches/{batch.code}/labels.zip?kind=units&start=1&count=5")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert len(names) == 5 and names[0].startswith("00001-")
    assert _decode(archive.read(names[4])) == [f"{BASE}/t/{issued[4].code}"]
    # The human-readable code is printed under the QR, as on the PDF: ink below the symbol, different
    # for different codes.
    from PIL import Image

    strips = []
    for name in names[:2]:
        image = Image.open(io.BytesIO(archive.read(name))).convert("L")
        width, height = image.size
        strip = image.crop((0, round(height * 0.88), width, height))  # the QR's quiet zone ends higher
        assert strip.getextrema()[0] == 0, "no text under the QR"
        strips.append(strip.tobytes())
    assert strips[0] != strips[1]


def test_failed_test_blocks_label_sheets_and_unit_codes_in_the_portal(client, session):
    producer = factories.authorised_producer()
    user = factories.producer_user(producer, "farmer")
    _p, user, batch = failed_batch(session, producer, user)
    _commit(session)
    login(client, "farmer")
    assert client.get(f"/batches/{batch.code}/labels?kind=batch&count=10").status_code == 422
    assert client.get(f"/batches/{batch.code}/labels.zip?kind=batch&count=10").status_code == 422
    reason = services.label_allowed(session, batch).reason
    page = client.get(f"/batches/{batch.code}").get_data(as_text=True)
    assert str(escape(reason)) in page  # the reason may hold "15.5% > 13%": the page escapes it
    from tests.conftest import csrf_token

    token = csrf_token(client, f"/batches/{batch.code}/units")
    response = client.post(f"/batches/{batch.code}/units", data={"csrf_token": token, "count": "10",
                                                                 "package_kg": "0.5"})
    assert response.status_code == 200 and str(escape(reason)) in response.get_data(as_text=True)
    assert batch.units_issued == 0


def test_unit_form_says_the_smallest_count_it_takes_in_words(client, session):
    """0 packages: "数值不能小于 1" (WTForms' own Chinese says 数值必须大于 1, "greater than 1", though 1 is
    taken); letters as a package size: "请填写数字" (not 浮点数, a programmer's word)."""
    from tests.conftest import csrf_token

    _p, user, batch = passed_batch(session)
    _commit(session)
    login(client, user.username)
    token = csrf_token(client, f"/batches/{batch.code}/units")
    response = client.post(f"/batches/{batch.code}/units", data={"csrf_token": token, "count": "0",
                                                                 "package_kg": "abc"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and batch.units_issued == 0
    assert "数值不能小于 1。" in page and "大于" not in page
    assert "请填写数字。" in page and "浮点数" not in page
    assert "数值不能小于 0" not in page  # one message for the size it could not read, not also the range's


def test_another_producers_labels_are_not_found(client, session):
    _p, _u, batch = passed_batch(session)
    factories.producer_user(factories.authorised_producer(), "other")
    _commit(session)
    login(client, "other")
    assert client.get(f"/batches/{batch.code}/labels?kind=batch&count=1").status_code == 404
    assert client.get(f"/batches/{batch.code}/units").status_code == 404


# --- unit-code API --------------------------------------------------------------------------

def test_api_issues_unit_codes_with_their_urls(client, session):
    _p, user, batch = passed_batch(session)
    headers = _token(client, session, user)
    response = client.post(f"/api/v1/batches/{codes.display(batch.code)}/units", json={"count": 3, "package_kg": 0.5},
                           headers=headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert [u["serial"] for u in body["units"]] == [1, 2, 3]
    first = body["units"][0]
    assert first["trace_url"] == f"{BASE}/t/{first['code']}"
    assert first["qr_png_url"] == f"{BASE}/t/{first['code']}/qr.png"
    assert first["qr_svg_url"] == f"{BASE}/t/{first['code']}/qr.svg"
    listed = client.get(f"/api/v1/batches/{batch.code}/units", headers=headers).json
    assert [u["code"] for u in listed["units"]] == [u["code"] for u in body["units"]]


def test_api_refuses_more_units_than_the_batch_holds_across_requests(client, session):
    _p, user, batch = passed_batch(session)  # 250 kg
    headers = _token(client, session, user)
    url = f"/api/v1/batches/{batch.code}/units"
    response = client.post(url, json={"count": 501, "package_kg": 0.5}, headers=headers)
    assert response.status_code == 422 and response.json["error"]["code"] == "units_over_quantity"
    assert client.post(url, json={"count": 400, "package_kg": 0.5}, headers=headers).status_code == 201
    response = client.post(url, json={"count": 200, "package_kg": 0.5}, headers=headers)
    assert response.status_code == 422 and response.json["error"]["code"] == "units_over_quantity"


def test_api_unit_errors_are_json_never_500(client, session):
    _p, user, batch = failed_batch(session)
    headers = _token(client, session, user)
    url = f"/api/v1/batches/{batch.code}/units"
    assert client.post(url, json={"count": 1, "package_kg": 0.5}, headers=headers).json["error"]["code"] == \
        "label_test_failed"
    for body in ({"count": "x", "package_kg": 0.5}, {"count": 1}, {"count": 1, "package_kg": "a"}, [], None):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code in (400, 422) and "error" in response.json
    assert client.post(url, json={"count": 1, "package_kg": 0.5}).status_code == 401
    other = factories.producer_user(factories.authorised_producer())
    assert client.post(url, json={"count": 1, "package_kg": 0.5},
                       headers=_token(client, session, other)).status_code == 404


def test_api_registers_product_lines_and_openapi_describes_it(client, session):
    producer = factories.authorised_producer()
    factories.gs1_prefix(producer, "4006381")
    user = factories.producer_user(producer)
    headers = _token(client, session, user)
    response = client.post("/api/v1/product-lines", json={"gtin": "4006381333931", "name": "礼盒 250 g",
                                                          "package_kg": 0.25}, headers=headers)
    assert response.status_code == 201 and response.json["gtin14"] == "04006381333931"
    bad = client.post("/api/v1/product-lines", json={"gtin": "4006381333932", "name": "x"}, headers=headers)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "gtin"
    again = client.post("/api/v1/product-lines", json={"gtin": "04006381333931", "name": "x"}, headers=headers)
    assert again.status_code == 409
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "post" in paths["/batches/{code}/units"] and "post" in paths["/product-lines"]


def test_pdf_sheet_has_a_page_per_35_labels_and_decodable_codes(client, session, output_dir):
    import pytest

    from gi_trace.tracing import labels

    if labels.pdf_fonts() is None:
        pytest.skip("no Noto Sans CJK font installed (fonts-noto-cjk)")
    producer = factories.authorised_producer()
    user = factories.producer_user(producer, "farmer")
    _p, user, batch = passed_batch(session, producer, user)
    issued = units.issue_units(session, user, batch, 36, 0.5)
    _commit(session)
    login(client, "farmer")
    response = client.get(f"/batches/{batch.code}/labels.pdf?kind=units&start=1&count=36")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    (output_dir / "labels.pdf").write_bytes(response.data)
    assert re.findall(rb"/Count (\d+)", response.data) == [b"2"]
    # Drawn in vectors: rendered at a label printer's 300 dpi, the first label's QR decodes.
    first_page = pdf_page_image(response.data, output_dir, 1)
    assert abs(first_page.size[0] - 2480) <= 1 and abs(first_page.size[1] - 3508) <= 1  # A4 at 300 dpi
    cell = first_page.crop((118, 118, 118 + 449, 118 + 449)).convert("L")
    assert [r.text for r in zxingcpp.read_barcodes(cell)] == [f"{BASE}/t/{issued[0].code}"]


def test_mistyped_code_is_refused_before_any_database_query(app, client):
    from sqlalchemy import event

    from gi_trace.db import get_engine

    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    code = codes.new_code()
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/t/{wrong}/qr.png").status_code == 404
        assert client.get("/01/09506000134353/10/LOT").status_code == 400
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []

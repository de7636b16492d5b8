"""Report a problem (投诉举报) from the scan page: into the regulators' complaint queue."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlmodel import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from gi_trace.scan.models import Complaint
from gi_trace.tracing import codes
from tests.factories_scan import lot_from_tested_harvest, unit_code

TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _form_token(client, query="") -> str:
    html = client.get("/report" + query).get_data(as_text=True)
    match = TOKEN_RE.search(html)
    assert match, html[:300]
    return match.group(1)


def _photo(fmt="JPEG", size=(800, 600)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGB", size, (180, 20, 30)).save(out, format=fmt, exif=exif)
    return out.getvalue()


def _post(client, code, token, **fields):
    data = {"csrf_token": token, "code": code, "category": "counterfeit", "text": "包装上的二维码扫出来是别的产品",
            "contact": "13900000000"}
    data.update(fields)
    # Encoded in memory: the test client would spool a large body to a temporary file it never closes.
    values = MultiDict()
    for key, value in data.items():
        if isinstance(value, tuple):
            stream, filename = value
            values.add(key, FileStorage(stream, filename=filename, content_type="image/jpeg"))
        else:
            values.add(key, value)
    boundary, body = encode_multipart(values)
    return client.post("/report", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       environ_base={"REMOTE_ADDR": "198.51.100.23"})


def test_scan_page_links_each_category_to_the_report_form(client, session):
    _grower, _harvest, lot = lot_from_tested_harvest(session)
    session.commit()
    html = client.get(f"/t/{lot.code}").get_data(as_text=True)
    assert f'href="/report?code={lot.code}&amp;category=origin"' in html
    form = client.get(f"/report?code={lot.code}&category=origin").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="origin"', form) and codes.display(lot.code) in form


def test_valid_report_with_photo_lands_in_the_queue_with_scan_context(client, session):
    grower, _harvest, lot = lot_from_tested_harvest(session)
    unit = unit_code(session, lot)
    session.commit()
    client.get(f"/t/{unit.code}", environ_base={"REMOTE_ADDR": "198.51.100.23"})
    client.get(f"/t/{unit.code}", environ_base={"REMOTE_ADDR": "203.0.113.1"})
    token = _form_token(client, f"?code={unit.code}")
    response = _post(client, unit.code, token, photo=(io.BytesIO(_photo()), "label.jpg"))
    assert response.status_code == 303
    assert "/report/sent" in response.headers["Location"]
    complaint = session.exec(select(Complaint)).one()
    assert (complaint.source, complaint.category, complaint.status) == ("scan", "counterfeit", "new")
    assert (complaint.code, complaint.batch_id, complaint.producer_id) == (unit.code, lot.id, grower.producer.id)
    context = complaint.scan_context
    assert context["kind"] == "unit" and context["scans"] == 2 and context["networks"] == 2
    assert context["reporter_scanned_it"] is True and len(context["reporter_network"]) == 32
    assert complaint.photo_mime == "image/jpeg" and b"PhoneMaker" not in complaint.photo
    with Image.open(io.BytesIO(complaint.photo)) as image:
        assert image.size == (800, 600) and not image.getexif()
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "您的举报已提交给市场监管部门" in thanks


def test_report_about_an_unregistered_code_keeps_what_was_typed(client, session):
    token = _form_token(client, "?code=abcd-efgh")
    response = _post(client, "abcd-efgh", token, text="路边摊的标签")
    assert response.status_code == 303
    complaint = session.exec(select(Complaint)).one()
    assert (complaint.code, complaint.batch_id, complaint.scan_context["kind"]) == ("ABCDEFGH", None, "unknown")


@pytest.mark.parametrize("fields, field, message", [
    ({"text": "   "}, "text", "请描述问题"),
    ({"category": "spam"}, "category", ""),
    ({"contact": "1" * 201}, "contact", ""),
])
def test_invalid_report_is_refused_beside_the_field(client, session, fields, field, message):
    token = _form_token(client)
    response = _post(client, "", token, **fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="field-error"' in html and message in html
    assert session.exec(select(Complaint)).all() == []


def test_photo_that_is_not_an_image_is_refused(client, session):
    token = _form_token(client)
    response = _post(client, "", token, photo=(io.BytesIO(b"<svg onload=alert(1)>"), "x.jpg"))
    assert response.status_code == 422
    assert "无法识别该照片" in response.get_data(as_text=True)
    assert session.exec(select(Complaint)).all() == []


def test_oversized_photo_is_refused(client, session):
    token = _form_token(client)
    big = _photo() + b"\0" * (5 * 1024 * 1024)
    response = _post(client, "", token, photo=(io.BytesIO(big), "big.jpg"))
    assert response.status_code == 422
    assert "照片超过5 MB" in response.get_data(as_text=True)
    assert session.exec(select(Complaint)).all() == []


def test_upload_beyond_the_request_limit_is_413(client, session, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    body = b"--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\r\n"
    body += b"\0" * (2 * 1024 * 1024) + b"\r\n--x--\r\n"
    response = client.post("/report", data=body, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert session.exec(select(Complaint)).all() == []


def test_report_without_csrf_token_is_refused(client, session):
    response = client.post("/report", data={"category": "quality", "text": "有虫"})
    assert response.status_code == 400
    assert session.exec(select(Complaint)).all() == []


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "SCAN_REPORT_RATE_LIMIT": "2 per minute"}

    def test_reports_are_rate_limited_per_network(self, client, session):
        token = _form_token(client)
        for _ in range(2):
            assert _post(client, "", token).status_code == 303
        response = _post(client, "", token)
        assert response.status_code == 429
        assert len(session.exec(select(Complaint)).all()) == 2
        assert client.get("/report").status_code == 200  # reading the form is not limited

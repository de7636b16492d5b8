"""The regulators' upload page: who may use it, CSRF, row errors, counts, size and type checks."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func
from sqlmodel import select

from gi_trace.registry.models import OutputRecord, Producer
from tests import factories
from tests.conftest import csrf_token, login

HEADER = "uscc,registry_no,name,kind,county_code,town_code,products\r\n"
GOOD = HEADER + "912301847345944427,,中宁红宝枸杞有限公司,enterprise,640521,640521100,zhongning-goji\r\n" \
                ",ZN-HH-1,张三,household,640521,640521200,zhongning-goji\r\n"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en", "IMPORT_MAX_BYTES": 20000}


def producers_in_db(session) -> int:
    session.rollback()  # read what the app committed
    return session.exec(select(func.count()).select_from(Producer)).one()


def upload(client, kind, body: bytes, filename: str, token=None, **extra):
    data = {"csrf_token": token if token is not None else csrf_token(client, "/import"), "kind": kind,
            "file": (io.BytesIO(body), filename)}
    data.update({k: "y" for k, v in extra.items() if v})
    return client.post("/import", data=data, content_type="multipart/form-data")


@pytest.fixture
def regulator(session):
    user = factories.UserFactory(username="city", role="regulator")
    session.commit()
    return user


def test_regulator_imports_a_file_and_sees_the_counts(client, session, regulator):
    login(client, "city")
    page = client.get("/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    response = upload(client, "producers", GOOD.encode("utf-8-sig"), "producers.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert '<td class="count-inserted">2</td>' in html and "Imported." in html
    assert producers_in_db(session) == 2
    again = upload(client, "producers", GOOD.encode("utf-8"), "producers.csv").get_data(as_text=True)
    assert '<td class="count-unchanged">2</td>' in again and '<td class="count-inserted">0</td>' in again
    assert producers_in_db(session) == 2


def test_bad_rows_are_listed_and_nothing_is_imported(client, session, regulator):
    login(client, "city")
    body = GOOD + ",,李四,household,640521,640521200,zhongning-goji\r\n" \
                  "123,,王五,enterprise,640521,640521100,zhongning-goji\r\n"
    response = upload(client, "producers", body.encode(), "producers.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported: 2 problems" in html
    assert "<tr><td>4</td><td><code>registry_no</code></td>" in html
    assert "<tr><td>5</td><td><code>uscc</code></td>" in html
    assert producers_in_db(session) == 0


def test_xlsx_upload_works(client, session, regulator):
    producer = factories.ProducerFactory()
    session.commit()
    workbook = openpyxl.Workbook()
    workbook.active.append(["producer", "product", "year", "output_kg", "output_value_yuan"])
    workbook.active.append([producer.uscc, "zhongning-goji", 2024, 5000, 250000])
    out = io.BytesIO()
    workbook.save(out)
    login(client, "city")
    response = upload(client, "output", out.getvalue(), "output.xlsx")
    assert response.status_code == 200
    assert '<td class="count-inserted">1</td>' in response.get_data(as_text=True)
    session.rollback()
    assert session.exec(select(OutputRecord)).one().output_kg == 5000.0


def test_warning_needs_the_box_ticked(client, session, regulator):
    body = (HEADER + "912301847345944428,,校验码不符,enterprise,640521,640521100,zhongning-goji\r\n").encode()
    login(client, "city")
    response = upload(client, "producers", body, "p.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "row-warnings" in html and producers_in_db(session) == 0
    response = upload(client, "producers", body, "p.csv", accept_warnings=True)
    assert response.status_code == 200 and producers_in_db(session) == 1


def test_dry_run_writes_nothing(client, session, regulator):
    login(client, "city")
    response = upload(client, "producers", GOOD.encode(), "p.csv", dry_run=True)
    assert response.status_code == 200
    assert '<td class="count-inserted">2</td>' in response.get_data(as_text=True)
    assert producers_in_db(session) == 0


def test_upload_without_csrf_token_is_refused(client, session, regulator):
    login(client, "city")
    response = upload(client, "producers", GOOD.encode(), "p.csv", token="")
    assert response.status_code == 400 and producers_in_db(session) == 0


def test_producer_account_gets_403_and_anonymous_is_sent_to_login(client, session):
    producer = factories.ProducerFactory()
    factories.producer_user(producer, username="grower")
    session.commit()
    response = client.get("/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/import/templates/producers.csv").status_code == 302
    login(client, "grower")
    assert client.get("/import").status_code == 403
    token = csrf_token(client, "/")
    assert upload(client, "producers", GOOD.encode(), "p.csv", token=token).status_code == 403
    assert producers_in_db(session) == 1


def test_county_regulator_rows_outside_its_county_are_row_errors(client, session):
    factories.UserFactory(username="haiyuan", role="regulator", county_code="640522")
    session.commit()
    login(client, "haiyuan")
    assert "only rows of your county (Haiyuan County 640522)" in client.get("/import").get_data(as_text=True)
    response = upload(client, "producers", GOOD.encode(), "p.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<tr><td>2</td><td><code>county_code</code></td>" in html
    assert "<tr><td>3</td><td><code>county_code</code></td>" in html
    assert producers_in_db(session) == 0


@pytest.mark.parametrize("body,filename,message", [
    (b"x" * 20001, "big.csv", "larger than"),
    (GOOD.encode(), "producers.pdf", "Only .csv and .xlsx"),
    (b"%PDF-1.4 \x00\x01 not a sheet", "producers.csv", "not a text file"),
    (GOOD.encode(), "producers.xlsx", "not an Excel workbook"),
    (b"PK\x03\x04 broken zip", "producers.xlsx", "cannot be read"),
    (GOOD.encode("utf-16"), "producers.csv", "not a text file"),
    ("uscc,名称\r\n".encode("gbk"), "producers.csv", "not UTF-8"),
])
def test_oversize_or_wrong_type_upload_gives_a_clear_error(client, session, regulator, body, filename,
                                                           message):
    login(client, "city")
    response = upload(client, "producers", body, filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:300]
    assert message in html and 'class="field has-error"' in html
    assert producers_in_db(session) == 0


def test_request_over_the_app_limit_is_413_not_500(app, client, session, regulator):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    login(client, "city")
    response = upload(client, "producers", b"x" * 5000, "big.csv")
    assert response.status_code == 413


def test_missing_file_or_unknown_kind_is_a_form_error(client, session, regulator):
    login(client, "city")
    token = csrf_token(client, "/import")
    response = client.post("/import", data={"csrf_token": token, "kind": "producers"},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a file" in response.get_data(as_text=True)
    response = upload(client, "harvests", GOOD.encode(), "p.csv")
    assert response.status_code == 400 and producers_in_db(session) == 0


@pytest.mark.parametrize("kind", ["producers", "output", "sector-totals", "authorisations"])
def test_template_files_have_the_header_row(client, session, regulator, kind):
    from gi_trace.registry.imports import template_header

    login(client, "city")
    response = client.get(f"/import/templates/{kind}.csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert response.data.decode("utf-8-sig").strip() == ",".join(template_header(kind))
    response = client.get(f"/import/templates/{kind}.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in next(sheet.iter_rows())] == template_header(kind)
    assert client.get(f"/import/templates/{kind}.pdf").status_code == 404


def test_page_is_chinese_by_default(client, session, regulator):
    client.set_cookie("lang", "zh")
    login(client, "city")
    html = client.get("/import?lang=zh").get_data(as_text=True)
    assert "导入" in html

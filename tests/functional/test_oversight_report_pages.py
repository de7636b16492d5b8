"""The annual report from the regulator pages: ZIP download, printable view, who may get it."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date

import pytest

from tests.conftest import login
from tests.factories import DecisionFactory, OutputFactory, ProducerFactory, UserFactory, producer_user


@pytest.fixture
def register(session):
    producers = [ProducerFactory() for _ in range(4)]
    for p in producers[:3]:
        DecisionFactory(producer_id=p.id, effective_date=date(2024, 3, 1))
        OutputFactory(producer_id=p.id, year=2025, output_value_yuan=100.0)
    DecisionFactory(producer_id=producers[2].id, action="suspend", effective_date=date(2025, 5, 1), reason="抽检不合格")
    hy = ProducerFactory(county_code="640522", town_code="640522100")
    UserFactory(username="city")
    UserFactory(username="hy", county_code="640522")
    producer_user(producers[0], "grower")
    session.commit()
    return producers, hy


def test_zip_holds_report_json_tables_and_html(client, register):
    login(client, "city")
    assert client.get("/oversight/reports").status_code == 200
    response = client.get("/oversight/reports/annual.zip?product=zhongning-goji&year=2025")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as zf:
        names = set(zf.namelist())
        folder = "gi-report-zhongning-goji-2025/"
        assert {folder + n for n in ("report.html", "report.json", "tables.xlsx", "tables/producers.csv",
                                     "tables/decisions.csv")} <= names
        report = json.loads(zf.read(folder + "report.json"))
    comp = report["summary"]["compliance"]
    assert (comp["producers_total"], comp["producers_authorised"]) == (4, 2)
    users = report["authorised_users"]
    assert users["totals"]["suspended"] == 1 and users["count"] == 2
    api = client.get("/oversight/?product=zhongning-goji&year=2025")
    assert api.status_code == 200


def test_printable_view_has_its_own_strict_csp(client, register):
    login(client, "city")
    response = client.get("/oversight/reports/annual.html?product=zhongning-goji&year=2025")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    html = response.get_data(as_text=True)
    assert "地理标志保护监管年度报告" in html
    assert "专用标志使用者</th>" in html and "授权使用者名录" not in html  # a count, not the public list


def test_county_regulator_gets_its_county_report_only(client, register):
    login(client, "hy")
    assert client.get("/oversight/reports/annual.zip?product=zhongning-goji&year=2025&county=640521"
                      ).status_code == 403
    response = client.get("/oversight/reports/annual.zip?product=zhongning-goji&year=2025")
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as zf:
        report = json.loads(zf.read("gi-report-zhongning-goji-2025/report.json"))
    assert report["county_code"] == "640522"
    assert report["summary"]["compliance"]["producers_authorised"] == 0


def test_bad_year_is_a_clear_error(client, register):
    login(client, "city")
    assert client.get("/oversight/reports/annual.zip?product=zhongning-goji&year=abc").status_code == 422


@pytest.mark.parametrize("path", ["/oversight/reports", "/oversight/reports/annual.zip?year=2025",
                                  "/oversight/reports/annual.html?year=2025"])
def test_producers_and_anonymous_users_are_kept_out(client, register, path):
    assert client.get(path).status_code == 302
    login(client, "grower")
    assert client.get(path).status_code == 403


def test_draft_written_saved_issued_and_served_as_stored(client, register, session):
    from tests.conftest import csrf_token

    login(client, "city")
    token = csrf_token(client, "/oversight/reports")
    response = client.post("/oversight/reports/drafts", data={"csrf_token": token, "product": "zhongning-goji",
                                                              "year": "2025", "county": "",
                                                              "authority": "中卫市市场监督管理局（知识产权局）"})
    assert response.status_code == 302
    page = response.headers["Location"]
    # issuing without a document number is refused with the reason, nothing changes
    issue = client.post(page + "/issue", data={"csrf_token": token})
    assert issue.status_code == 302
    assert "印发前请填写文号" in client.get(page).get_data(as_text=True)
    bad = client.post(page, data={"csrf_token": token, "authority": "", "document_no": "x",
                                  "problems_text": ""})
    assert bad.status_code == 422
    saved = client.post(page, data={"csrf_token": token, "authority": "中卫市市场监督管理局（知识产权局）",
                                    "document_no": "中市监发〔2026〕2号", "dated": "2026-01-20",
                                    "problems_text": "溯源覆盖面仍然不足。"})
    assert saved.status_code == 302
    draft_html = client.get(page + "/report.html").get_data(as_text=True)
    assert "草稿" in draft_html and "溯源覆盖面仍然不足。" in draft_html and "2026年1月20日" in draft_html
    # issuing is a background job: the page answers at once with the job's progress page
    queued = client.post(page + "/issue", data={"csrf_token": token})
    assert queued.status_code == 302 and "/jobs/" in queued.headers["Location"]
    progress = queued.headers["Location"]
    waiting = client.get(progress).get_data(as_text=True)
    assert "印发年度报告" in waiting and progress + "/result" not in waiting
    assert "草稿" in client.get(page).get_data(as_text=True)  # nothing is issued before the job runs
    from gi_trace import jobs

    jobs.drain()
    ready = client.get(progress).get_data(as_text=True)
    assert progress + "/result" in ready and f'href="{page}"' in ready  # the download and the way back
    pdf = client.get(progress + "/result")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    issued = client.get(page + "/report.pdf")
    assert pdf.data == issued.data
    assert issued.status_code == 200 and issued.data.startswith(b"%PDF") and issued.headers["X-Report-SHA256"]
    english = client.get(page + "/report.html?lang=en").get_data(as_text=True)
    assert "Overall situation" in english and "Issued" in english
    # new data: the stored version does not move
    DecisionFactory(producer_id=register[0][3].id, effective_date=date(2025, 6, 1))
    session.commit()
    assert client.get(page + "/report.pdf").data == issued.data
    assert client.get(page + "/report.json").status_code == 200
    # an issued version cannot be edited
    assert client.post(page, data={"csrf_token": token, "authority": "x", "document_no": "y",
                                   "problems_text": ""}).status_code == 422
    listing = client.get("/oversight/reports").get_data(as_text=True)
    assert "中市监发〔2026〕2号" in listing and "已印发" in listing


def test_enforcement_case_opened_and_closed_once(client, register):
    from tests.conftest import csrf_token

    login(client, "city")
    token = csrf_token(client, "/oversight/cases")
    producer = register[0][0]
    response = client.post("/oversight/cases", data={
        "case-csrf_token": token, "case-case_no": "中市监处罚〔2025〕3号", "case-producer_code": producer.uscc,
        "case-party": "", "case-county_code": "", "case-finding": "超范围使用专用标志", "case-opened_on": "2025-05-01"})
    assert response.status_code == 302
    html = client.get("/oversight/cases").get_data(as_text=True)
    assert "中市监处罚〔2025〕3号" in html and producer.name in html
    duplicate = client.post("/oversight/cases", data={
        "case-csrf_token": token, "case-case_no": "中市监处罚〔2025〕3号", "case-party": "某商行",
        "case-finding": "x", "case-opened_on": "2025-05-02"})
    assert duplicate.status_code == 422 and "该案件编号已登记" in duplicate.get_data(as_text=True)
    # The county is chosen by its name (the counties the regulator may see), never typed as a code.
    form = client.get("/oversight/cases").get_data(as_text=True)
    assert re.search(r'<select id="case-county_code"[^>]*>.*<option value="640522">海原县</option>', form, re.S)
    assert "代码（留空" not in form
    response = client.post("/oversight/cases", data={
        "case-csrf_token": token, "case-case_no": "中市监处罚〔2025〕4号", "case-party": "某商行",
        "case-county_code": "640522", "case-finding": "超范围使用专用标志", "case-opened_on": "2025-05-02"})
    assert response.status_code == 302
    from gi_trace.oversight.models import EnforcementCase
    from sqlmodel import Session, select
    from gi_trace.db import get_engine

    with Session(get_engine(client.application)) as s:
        case = s.exec(select(EnforcementCase).where(EnforcementCase.case_no == "中市监处罚〔2025〕3号")).one()
    close = {"close-csrf_token": token, "close-closed_on": "2025-07-01", "close-fine_yuan": "20000",
             "close-confiscated": "标签 500 张", "close-confiscated_value_yuan": "0", "close-transferred_to_police": "y"}
    assert client.post(f"/oversight/cases/{case.id}/close", data=close).status_code == 302
    assert "20,000" in client.get("/oversight/cases").get_data(as_text=True)
    again = client.post(f"/oversight/cases/{case.id}/close", data=close, follow_redirects=True)
    assert "该案件已结案" in again.get_data(as_text=True)

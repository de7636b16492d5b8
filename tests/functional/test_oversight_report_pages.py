"""The annual report from the regulator pages: ZIP download, printable view, who may get it."""
from __future__ import annotations

import io
import json
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
    assert "地理标志保护监管年度报告" in response.get_data(as_text=True)


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

"""The 2025 annual report of the demo as a government document (issue 15's "done when").

Every section is present; each number of 一、 equals the compliance service's result; the county rows
add up to the city (or a line says what is in no county); an issued version is byte-identical when
fetched again after new data arrives; the PDF (WeasyPrint, read back with pdftotext) holds both shares;
its first page is saved as a PNG in test-output/.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import pytest

from gi_trace import formatting as fmt
from gi_trace.oversight import compliance as c
from gi_trace.oversight import enforcement as enf
from gi_trace.oversight import report as rep
from gi_trace.oversight import report_document as doc
from gi_trace.demo.registry_data import load_demo_data
from gi_trace.registry.services import get_product
from tests.factories import DecisionFactory, OutputFactory, PlotFactory, ProducerFactory, UserFactory

TODAY = date(2026, 1, 15)
SECTIONS = ("一、总体情况", "二、专用标志使用管理", "三、监督检查与执法", "四、追溯体系运行", "五、存在问题和下一步工作",
            "附件1：核准使用者名单", "附件2：数据表及指标说明")


@pytest.fixture
def demo(session):
    load_demo_data(session, seed=7, producers=120)
    officer = UserFactory(username="city_officer", role="regulator")
    case = enf.open_case(session, officer, enf.CaseInput(
        case_no="中市监处罚〔2025〕7号", party="某枸杞商行", finding="将外省枸杞标注为中宁枸杞销售",
        opened_on=date(2025, 4, 2), county_code="640521"), today=TODAY)
    enf.close_case(session, officer, case, enf.ClosingInput(
        closed_on=date(2025, 6, 30), fine_yuan=50000, confiscated="枸杞干果 320 公斤", confiscated_value_yuan=19200,
        transferred_to_police=True), today=TODAY)
    session.flush()
    return get_product(session, "zhongning-goji"), officer


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert match, name
    return match.group(1).strip()


def _county_rows(html: str) -> dict[str, list[str]]:
    table = html[html.index('id="by-county"'):]
    table = table[:table.index("</table>")]
    rows = {}
    for key, body in re.findall(r'<tr[^>]*data-county="([^"]*)">(.*?)</tr>', table, re.S):
        rows[key] = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
    return rows


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_2025_report_has_every_section_and_its_figures_are_the_compliance_result(session, demo, app):
    goji, _officer = demo
    data = rep.build_report(session, goji, 2025, as_of=date(2025, 12, 31), today=TODAY)
    comp = c.compliance(session, goji, 2025, as_of=date(2025, 12, 31))
    last = c.compliance(session, goji, 2024, as_of=date(2024, 12, 31))
    assert data["report"]["summary"]["compliance"] == comp
    html = doc.render_html(data, doc.Cover(doc.DEFAULT_AUTHORITY, "中市监发〔2026〕1号", TODAY), "", "zh")
    for heading in SECTIONS:
        assert heading in html, heading
    assert "中卫市市场监督管理局（知识产权局）" in html and "2026年1月15日" in html and "草稿" in html
    # 一、: each number is the compliance JSON's, formatted by the one formatter (shares truncated)
    assert _figure(html, "producers_authorised") == fmt.integer(comp["producers_authorised"])
    assert _figure(html, "producers_total") == fmt.integer(comp["producers_total"])
    assert _figure(html, "user_share") == fmt.percent(comp["user_share"])
    assert _figure(html, "output_value_authorised") == fmt.number(comp["output_value_authorised"], 0)
    assert _figure(html, "output_value_total") == fmt.number(comp["output_value_total"], 0)
    assert _figure(html, "output_share") == fmt.percent(comp["output_share"])
    assert _figure(html, "producers_authorised_in_year") == fmt.integer(comp["producers_authorised_in_year"])
    assert _figure(html, "output_share_in_year") == fmt.percent(comp["output_share_in_year"])
    overview = " ".join(doc.overview(data["report"], "zh"))
    assert f"核准使用者{comp['producers_authorised']}家" in overview
    assert f"的{fmt.percent(comp['user_share'])}" in overview and fmt.percent(comp["output_share"]) in overview
    assert fmt.percent(last["user_share"]) in html  # last year beside it
    # every county appears, and the county rows add up to the city line
    rows = _county_rows(html)
    assert {"640502", "640521", "640522", "city"} <= set(rows)
    counties = [v for k, v in rows.items() if k != "city"]
    for column in (1, 2):  # producers (register), authorised users
        assert sum(_int(r[column]) for r in counties) == _int(rows["city"][column])
    assert _int(rows["city"][1]) == comp["producers_registered"]
    assert "各县（区）合计与总计行一致" in html
    # the official denominator differs from the register's count: a line says so
    if comp["denominator_source"]["producers"]["kind"] == "official":
        assert f"官方统计的生产者{fmt.integer(comp['producers_total'])}家" in html
    # 三、 counts the enforcement case with its penalties
    assert "中市监处罚〔2025〕7号" in html and "50,000" in html
    english = doc.render_html(data, doc.Cover(doc.DEFAULT_AUTHORITY), "", "en")
    assert "Overall situation" in english and '<html lang="en">' in english


def test_an_issued_version_never_changes_and_its_pdf_holds_both_shares(session, demo, app, output_dir):
    goji, officer = demo
    version = doc.new_draft(session, officer, goji, 2025, None, document_no="中市监发〔2026〕1号",
                            problems_text="部分农户未登记种植地块。\n下一步：开展地块普查。")
    with pytest.raises(Exception):
        doc.update_draft(session, UserFactory(role="producer"), version, authority="x", document_no="",
                         dated=None, problems_text="")
    doc.issue(session, officer, version, today=TODAY)
    session.flush()
    first = doc.stored_files(version, "zh")
    comp = c.compliance(session, goji, 2025, as_of=date(2025, 12, 31))
    # new data arrives: a producer approved in 2025 with output
    newcomer = ProducerFactory(registered_on=date(2025, 2, 1))
    PlotFactory(producer_id=newcomer.id)
    DecisionFactory(producer_id=newcomer.id, effective_date=date(2025, 3, 1))
    OutputFactory(producer_id=newcomer.id, year=2025, output_value_yuan=1e6)
    session.flush()
    assert c.compliance(session, goji, 2025, as_of=date(2025, 12, 31))["producers_authorised"] == \
        comp["producers_authorised"] + 1
    session.expire_all()
    again = doc.stored_files(doc.get_version(session, officer, version.id), "zh")
    assert again["report.pdf"] == first["report.pdf"] and again["report.html"] == first["report.html"]
    assert again["report.json"] == first["report.json"]
    assert version.sha256 == doc.content_hash(version.figures_json, version.html_zh, version.html_en,
                                              version.pdf_zh, version.pdf_en)
    with pytest.raises(Exception):
        doc.update_draft(session, officer, version, authority="x", document_no="", dated=None, problems_text="")
    # generating again makes a new draft with the new figures
    draft = doc.new_draft(session, officer, goji, 2025, None)
    assert draft.version == version.version + 1 and draft.status == "draft"
    html = first["report.html"].decode()
    assert "已印发" in html and "部分农户未登记种植地块。" in html and "中市监发〔2026〕1号" in html
    # the PDF: vector text (pdftotext reads it) with both shares, and an embedded CJK font
    pdftotext, pdftoppm, pdffonts = (shutil.which(t) for t in ("pdftotext", "pdftoppm", "pdffonts"))
    assert pdftotext and pdftoppm and pdffonts, "poppler-utils is needed (scripts/test.sh installs it)"
    pdf = output_dir / "report.pdf"
    pdf.write_bytes(first["report.pdf"])
    text = subprocess.run([pdftotext, "-raw", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    flat = re.sub(r"\s+", "", text)
    assert fmt.percent(comp["user_share"]) in flat and fmt.percent(comp["output_share"]) in flat
    assert fmt.percent(comp["output_share_in_year"]) in flat and "年内曾获准使用者" in flat
    assert "一、总体情况" in flat and "五、存在问题和下一步工作" in flat
    fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, check=True).stdout.decode()
    assert "CJK" in fonts and all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:] if line.strip())
    subprocess.run([pdftoppm, "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(output_dir / "report-first-page")], check=True)
    assert (output_dir / "report-first-page.png").stat().st_size > 10_000


def test_a_share_of_59_95_percent_shows_59_9_and_not_met(session, app):
    """0.5995 is below the 60% target: the report shows 59.9% and says so, in the table and the sentence."""
    user, other = ProducerFactory(registered_on=date(2020, 1, 1)), ProducerFactory(registered_on=date(2020, 1, 1))
    DecisionFactory(producer_id=user.id, effective_date=date(2023, 1, 1))
    OutputFactory(producer_id=user.id, year=2025, output_value_yuan=5995.0)
    OutputFactory(producer_id=other.id, year=2025, output_value_yuan=4005.0)
    session.flush()
    goji = get_product(session, "zhongning-goji")
    data = rep.build_report(session, goji, 2025, as_of=date(2025, 12, 31), today=TODAY)
    assert data["report"]["summary"]["compliance"]["output_share"] == 0.5995
    html = doc.render_html(data, doc.Cover(doc.DEFAULT_AUTHORITY), "", "zh")
    assert _figure(html, "output_share") == "59.9%"
    row = re.search(r'data-figure="output_share">59\.9%</td>.*?</tr>', html, re.S).group(0)
    assert "未达标" in row and "达标</span>" not in row.replace("未达标</span>", "")
    sentence = doc.overview(data["report"], "zh")[0]
    assert "占区域内相关产业产值的59.9%" in sentence and "距60.0%目标差0.1个百分点" in sentence
    assert "60.0%" not in html.split('data-figure="output_share">')[1][:10]


def test_cli_writes_every_output_and_issue_freezes_a_version(session, runner, tmp_path):
    from sqlmodel import select

    from gi_trace.oversight.models import AnnualReport

    grower = ProducerFactory(registered_on=date(2020, 1, 1))
    DecisionFactory(producer_id=grower.id, effective_date=date(2023, 1, 1))
    OutputFactory(producer_id=grower.id, year=2025, output_value_yuan=1000.0)
    UserFactory(username="root", role="admin")
    session.commit()
    draft = runner.invoke(args=["report", "annual", "--product", "zhongning-goji", "--year", "2025", "--lang", "en",
                                "--out", str(tmp_path / "draft")])
    assert draft.exit_code == 0, draft.output
    names = {p.relative_to(tmp_path / "draft").as_posix() for p in (tmp_path / "draft").rglob("*") if p.is_file()}
    assert {"report.html", "report.pdf", "report.json", "tables.xlsx", "tables/producers.csv"} <= names
    assert "Overall situation" in (tmp_path / "draft" / "report.html").read_text(encoding="utf-8")
    problems = tmp_path / "five.txt"
    problems.write_text("地块登记仍不完整。\n", encoding="utf-8")
    issued = runner.invoke(args=["report", "annual", "--product", "zhongning-goji", "--year", "2025", "--issue",
                                 "--document-no", "中市监发〔2026〕3号", "--problems", str(problems),
                                 "--out", str(tmp_path / "issued")])
    assert issued.exit_code == 0, issued.output
    session.expire_all()
    version = session.exec(select(AnnualReport)).one()
    assert version.status == "issued" and version.problems_text == "地块登记仍不完整。"
    assert (tmp_path / "issued" / "report.pdf").read_bytes() == version.pdf_zh
    missing_no = runner.invoke(args=["report", "annual", "--product", "zhongning-goji", "--year", "2025", "--issue",
                                     "--out", str(tmp_path / "x")])
    assert missing_no.exit_code != 0 and "document_no" in missing_no.output

"""The annual report for the demo data: figures equal the compliance JSON, no external links, a screenshot."""
from __future__ import annotations

import json
import re

import pytest
from gi_trace import formatting as fmt
from tests.e2e.conftest import launch_chromium

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_report(runner, tmp_path):
    result = runner.invoke(args=["demo-data", "--producers", "120", "--seed", "7"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    result = runner.invoke(args=["report", "annual", "--product", "zhongning-goji", "--year", "2025",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    compliance = runner.invoke(args=["compliance", "--product", "zhongning-goji", "--year", "2025", "--json"])
    assert compliance.exit_code == 0, compliance.output
    return out, json.loads(compliance.output)


def test_report_figures_match_the_compliance_json(demo_report):
    out, compliance = demo_report
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["compliance"] == compliance
    assert compliance["producers_total"] > 0 and compliance["producers_authorised"] > 0
    html = (out / "report.html").read_text(encoding="utf-8")

    def figure(name):
        match = re.search(rf'data-figure="{name}">([^<]+)<', html)
        assert match, name
        return match.group(1).strip()

    assert figure("user_share") == fmt.percent(compliance["user_share"])  # one decimal, truncated
    assert figure("output_share") == fmt.percent(compliance["output_share"])
    assert figure("producers_total") == f"{compliance['producers_total']:,}"
    assert figure("producers_authorised") == f"{compliance['producers_authorised']:,}"
    assert figure("output_value_total") == f"{compliance['output_value_total']:,.0f}"
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    # The drill-down table behind the figures adds up to them.
    producers = (out / "tables" / "producers.csv").read_text(encoding="utf-8-sig").splitlines()
    header = producers[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in producers[1:]]
    assert sum(r["counts_as_authorised"] == "1" for r in rows) == compliance["producers_authorised"]
    assert sum(r["counts_as_producer"] == "1" for r in rows) == compliance["producers_registered"]
    assert (out / "tables.xlsx").stat().st_size > 0


def test_report_html_is_self_contained_chinese_a4(demo_report):
    out, _compliance = demo_report
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "地理标志保护监管年度报告" in html and "size: A4" in html
    assert "<svg" in html and "<script" not in html.lower()
    assert not re.search(r"""(?:href|src|action)\s*=\s*["']?(?:https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//|@import""", html, re.I)
    assert "<link" not in html.lower() and "<img" not in html.lower()


def test_report_first_page_screenshot(demo_report, output_dir):
    from playwright.sync_api import sync_playwright

    out, compliance = demo_report
    requests = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
            page.on("request", lambda req: requests.append(req.url))
            page.goto((out / "report.html").as_uri())
            assert fmt.percent(compliance["user_share"]) in page.locator("#summary-table").inner_text()
            shot = output_dir / "report-first-page.png"
            page.screenshot(path=str(shot))
            page.pdf(path=str(output_dir / "report.pdf"), format="A4")
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    assert all(url.startswith("file://") for url in requests), requests

"""The annual report counts what the year's recalls reached — member batches, kilograms once each, unit codes,
parties, lifts — from the recalls' member rows, in its figures, its page and its PDF (read back with pdftotext)."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import pytest

from gi_trace import formatting as fmt
from gi_trace.oversight import report as rep
from gi_trace.oversight import report_document as doc
from gi_trace.tracing import codes, services, transfers, units
from tests.factories import UserFactory, authorised_producer, goji
from tests.integration.test_tracing_recall import family

TODAY = date(2026, 1, 15)
REASON = "二氧化硫超标，主动召回"


@pytest.fixture
def recalled(session, grower, dealer):
    """The family of tests.integration.test_tracing_recall (a → a1, a2; a2 + b → m → powder p; a1 → r at a
    dealer), three packages under a1, 10 kg of a1 in transit to a second dealer, a withdrawn and r lifted."""
    f = family(session, grower, dealer)
    units.issue_units(session, grower.user, f["a1"], 3, 1.0)
    other = authorised_producer(kind="trader", name="中宁县红宝枸杞商行")
    transfers.ship(session, grower.user, f["a1"], to=other.code, quantity_kg=10, shipped_at="2025-08-20T10:00:00+08:00")
    services.withdraw(session, grower.user, f["a"], REASON, occurred_at="2025-09-01T10:00:00+08:00")
    regulator = UserFactory(username="city-reg", role="regulator", county_code=None)
    services.lift_recall(session, regulator, f["r"], "经核查不含召回批次原料")
    # A second recall of the year, of a batch nothing was made from.
    old = grower.tested(session)
    services.withdraw(session, grower.user, old, "包装破损", occurred_at="2025-10-01T08:00:00+08:00")
    session.flush()
    return f, old


def test_the_year_s_recalls_count_what_their_member_rows_reached(session, recalled):
    f, old = recalled
    rc = rep.build_report(session, goji(session), 2025, as_of=date(2025, 12, 31), today=TODAY)["report"]["tracing"]["recalls"]
    this = rc["this"]
    assert (this["batches"], this["reached_batches"], this["units"], this["lifted"]) == (2, 5, 3, 1)
    # Kilograms once each: what the recalled batches hold (a kept 40 of 240, a1 30 of 100 after 60 went to r,
    # a2 nothing: all went into m, …) and what left them for no recalled batch (the 10 kg on the road).
    members = [f[k] for k in ("a", "a1", "a2", "m", "p", "r")] + [old]
    assert f["a"].available_kg == 40 and f["a1"].available_kg == 30 and f["a2"].available_kg == 0
    assert this["reached_kg"] == round(sum(b.available_kg for b in members) + 10, 3)
    # Parties: the grower, the dealer who holds r, and the second dealer whose 10 kg are on the road.
    assert this["parties"] == 3
    rows = {row["code"]: row for row in this["list"]}
    assert rows[f["a"].code]["reached_batches"] == 5 and rows[f["a"].code]["parties"] == 3
    assert rows[old.code]["reached_batches"] == 0 and rows[old.code]["reached_kg"] == 240
    assert rc["last"]["batches"] == 0 and rc["last"]["reached_batches"] == 0
    # A county's report counts the recalls of its owners' batches only.
    elsewhere = rep.build_report(session, goji(session), 2025, "640522", as_of=date(2025, 12, 31), today=TODAY)
    assert elsewhere["report"]["tracing"]["recalls"]["this"]["reached_batches"] == 0


def test_the_report_page_and_pdf_say_what_the_recalls_reached(session, recalled, tmp_path):
    f, old = recalled
    data = rep.build_report(session, goji(session), 2025, as_of=date(2025, 12, 31), today=TODAY)
    this = data["report"]["tracing"]["recalls"]["this"]
    assert data["report"]["tables"]["recalls"] == 2
    assert [row[0] for row in data["tables"]["recalls"]] == [f["a"].code, old.code]  # by date
    html = doc.render_html(data, doc.Cover(doc.DEFAULT_AUTHORITY, "中市监发〔2026〕1号", TODAY), "", "zh")
    for name, value in (("recall_reached_batches", "5"), ("recall_units", "3"), ("recall_parties", "3"),
                        ("recall_reached_kg", fmt.kg(this["reached_kg"], "zh"))):
        assert re.search(rf'data-figure="{name}">{re.escape(value)}<', html), name
    assert "召回波及由被撤回批次制成的下游批次5个" in html and codes.display(f["a"].code) in html
    assert f["a"].code not in re.sub(r"<[^>]+>", "", html).replace(codes.display(f["a"].code), "")  # grouped only
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is needed (scripts/test.sh installs it)"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(doc.render_pdf(html))
    # -raw: the text in the order it is drawn, so a table cell's wrapped lines stay together (-layout interleaves
    # a cell's second line with the row's other columns: the reason below wraps, by how wide its code is drawn).
    text = subprocess.run([pdftotext, "-raw", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    flat = re.sub(r"\s+", "", text)
    assert "召回波及的下游批次（由被撤回批次制成）5" in flat
    assert "召回涉及一物一码（包装）3" in flat and "召回涉及经营主体3" in flat
    assert f"召回涉及数量（不重复计）{fmt.kg(this['reached_kg'], 'zh')}".replace(" ", "") in flat
    assert "年内召回及其波及范围" in flat and REASON in flat and codes.display(f["a"].code) in flat
    english = doc.render_html(data, doc.Cover(doc.DEFAULT_AUTHORITY), "", "en")
    assert "The recalls reached 5 batches made from the withdrawn ones" in english

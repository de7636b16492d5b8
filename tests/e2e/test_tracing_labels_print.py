"""The A4 label sheet in a real browser (Debian chromium): 2 cm QR codes that decode, A4 pages, a PDF."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from gi_trace.tracing import units
from tests import factories
from tests.tracing_labels_support import passed_batch
from tests.e2e.conftest import launch_chromium

pytestmark = pytest.mark.e2e
CSS_PX_PER_MM = 96 / 25.4


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser.new_page()
        browser.close()


def test_printed_label_sheet_has_2cm_qr_codes_that_decode(session, live_url, page, output_dir):
    producer = factories.authorised_producer()
    _p, user, batch = passed_batch(session, producer, factories.producer_user(producer, "farmer"))
    issued = units.issue_units(session, user, batch, 40, 0.5)
    session.commit()

    page.goto(f"{live_url}/login")
    page.fill("input[name=username]", "farmer")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.goto(f"{live_url}/batches/{batch.code}/labels?kind=units&start=1&count=40")
    page.emulate_media(media="print")

    sizes = page.eval_on_selector_all("svg.qr", "els => els.map(e => [e.getBoundingClientRect().width, "
                                                "e.getBoundingClientRect().height])")
    assert len(sizes) == 40
    for width, height in sizes:
        assert abs(width / CSS_PX_PER_MM - 20) < 0.1 and abs(height / CSS_PX_PER_MM - 20) < 0.1
    sheet_width = page.eval_on_selector(".label-page", "e => e.getBoundingClientRect().width")
    assert abs(sheet_width / CSS_PX_PER_MM - 190) < 0.5

    # What the browser draws decodes to the unit's URL.
    first = page.query_selector(".label svg.qr")
    shot = Image.open(io.BytesIO(first.screenshot())).convert("L")
    shot.save(output_dir / "first-label-qr.png")
    assert [r.text for r in zxingcpp.read_barcodes(shot)] == [f"https://trace.example.cn/t/{issued[0].code}"]

    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    (output_dir / "labels.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/Count (\d+)", pdf) == [b"2"]  # 40 labels: 35 on the first A4 page, 5 on the second
    page.screenshot(path=str(output_dir / "label-sheet.png"), full_page=True)

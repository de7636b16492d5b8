"""The chain in a real browser (Debian chromium) at phone size: a dealer records a purchase at the market on a
375 px screen, ships the blend to a processor who receives it and packs it with unit codes, and the package's
page shows the chain back to the household's town."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gi_trace.tracing import services, transfers, units
from tests.e2e.conftest import launch_chromium
from tests.factories import authorised_producer, producer_user
from tests.factories_tracing import Grower

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True, locale="zh-CN")
        yield context.new_page()
        context.close()
        browser.close()


def test_dealer_records_a_purchase_on_a_phone_and_the_package_shows_the_household_town(
        session, live_url, phone, output_dir):
    grower = Grower.make(session, kind="household", name="张大山", town_code="640521104")
    grower.producer.town_code = "640521104"  # 恩和镇
    batch = grower.tested(session)
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    dealer_user = producer_user(dealer, "dealer_phone")
    processor = authorised_producer(kind="processor", name="中宁杞韵食品有限公司", town_code="640521102")
    processor_user = producer_user(processor)
    grower_code, batch_code = grower.producer.code, batch.code
    session.commit()

    phone.goto(f"{live_url}/login", wait_until="networkidle")
    phone.fill("input[name=username]", "dealer_phone")
    phone.fill("input[name=password]", "password123")
    phone.click("button[type=submit]")
    phone.goto(f"{live_url}/purchases/new", wait_until="networkidle")
    phone.fill("#q", "张大山")
    phone.click("form.search button")
    phone.click(f"a[href*='seller={grower_code}']")
    phone.fill("#source_batch", batch_code)
    phone.fill("#quantity_kg", "60")
    phone.select_option("#grade", "特级")
    phone.fill("#price_yuan_per_kg", "68")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # usable on the phone
    phone.screenshot(path=str(output_dir / "chain-purchase-375.png"), full_page=True)
    phone.click("#purchase-form button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert "已记录收购" in phone.inner_text("body")

    # The dealer's batch goes to the processor, who packs it.
    session.expire_all()
    from sqlmodel import select

    from gi_trace.tracing.models import Purchase
    bought = session.get(type(batch), session.exec(select(Purchase)).one().batch_id)
    # The purchase was recorded "now" on the phone: what follows happens now too.
    shipment = transfers.ship(session, dealer_user, bought, to=processor.code, quantity_kg=60)
    received = transfers.receive(session, processor_user, shipment)
    packed = services.transform(session, processor_user, [(received, None)],
                                [{"quantity_kg": 58, "product_form": "dried"}]).children[0]
    services.record_event(session, processor_user, packed, services.EventInput(
        stage="testing", occurred_at=datetime.now(timezone.utc).isoformat(),
        data={"lab": "宁夏农产品质量检测中心", "report_no": "NX-E2E-1", "sampled_by": "王检", "method": "GB/T 18672-2014",
              "moisture_pct": 11.0, "grains_per_50g": 300, "so2_mg_per_kg": 8.0, "residues": [], "lab_verdict": "pass",
              "sampled_at": datetime.now(timezone.utc).date().isoformat()}))
    package = units.issue_units(session, processor_user, packed, 1, 0.25)[0].code
    session.commit()

    phone.goto(f"{live_url}/t/{package}", wait_until="networkidle")
    custody = phone.inner_text("ol.custody")
    assert custody.index("农户 · 恩和镇") < custody.index("宁夏杞乡枸杞商行") < custody.index("中宁杞韵食品有限公司")
    main = phone.inner_text("main")
    assert "正品：地理标志产品，全程可追溯" in main and "张大山" not in main
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot(path=str(output_dir / "chain-package-375.png"), full_page=True)

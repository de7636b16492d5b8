"""A shopper's scan in a real browser (Debian chromium) at phone size: facts, no outside requests, < 60 KB."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.factories_scan import lot_from_tested_harvest, unit_code
from tests.e2e.conftest import launch_chromium

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True, locale="zh-CN",
                                      user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                                                 "AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.50")
        yield context.new_page()
        context.close()
        browser.close()


def test_phone_scan_shows_the_facts_offline_and_light(session, live_url, phone, output_dir):
    grower, _harvest, lot = lot_from_tested_harvest(session, trademark_name="红宝牌")
    unit = unit_code(session, lot, serial=3)
    session.commit()
    requests, responses, console_errors = [], [], []
    phone.on("request", lambda r: requests.append(r.url))
    phone.on("response", lambda r: responses.append(r))
    phone.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    phone.on("pageerror", lambda e: console_errors.append(str(e)))

    reply = phone.goto(f"{live_url}/t/{unit.code}", wait_until="networkidle")
    assert reply.status == 200
    main = phone.inner_text("main")
    for fact in ("正品：地理标志产品，全程可追溯", "自2023年1月1日起获准使用地理标志专用标志", "第3号包装", "中宁枸杞",
                 "地理标志", "红宝牌", grower.producer.name, "宁安镇", "种植", "采摘", "制干", "检测", "判定结果：合格",
                 "等级：特级", "原料来源", "记录校验通过", "这是此码的首次扫描。", "投诉举报"):
        assert fact in main, fact
    assert phone.is_visible("svg.gi-mark")
    # Laid out for the phone: nothing wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375

    weight = sum(len(r.body()) for r in responses if r.status == 200)
    assert weight < 60 * 1024, weight
    assert requests and all(urlsplit(u).hostname == "127.0.0.1" for u in requests), requests
    assert console_errors == []
    phone.screenshot(path=str(output_dir / "scan-page-375.png"), full_page=True)

    # A second scan of the same package from the same network is counted, without a caution.
    phone.goto(f"{live_url}/t/{unit.code}", wait_until="networkidle")
    assert "已被扫描2次" in phone.inner_text("body") and phone.locator(".caution").count() == 0
    phone.screenshot(path=str(output_dir / "scan-page-repeat.png"), full_page=True)
    assert console_errors == []

"""Plots and inputs on a phone (375×812, chromium): the producer's plots page, a plot's inputs with its form,
a refusal beside its field, and the scan page's inputs section: nothing wider than the screen, no control
covered, tap targets of at least 44 px. Screenshots under test-output/<test name>/."""
from __future__ import annotations

import pytest

from tests.e2e.test_ui_phone import CHECK, _phone, browser  # noqa: F401  (the browser fixture)
from tests.ui import walk

pytestmark = pytest.mark.e2e


def _fits(page, url: str) -> list[str]:
    found = page.evaluate(CHECK)
    problems = [f"{url}: {found['overflow']} px wide: {found['wide']}"] if found["overflow"] else []
    return problems + [f"{url}: {what}: {item}" for what in ("covered", "small") for item in found[what]]


def test_plots_inputs_and_the_scan_section_fit_a_phone(app, live_url, browser, output_dir):  # noqa: F811
    world = walk.seeded_world(app)
    plot = world.producer_a.plot.id
    context = _phone(browser)
    page = context.new_page()
    page.goto(f"{live_url}/login")
    page.fill("#username", world.users["producer_a"].username)
    page.fill("#password", "password123")
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    failures = []
    page.goto(f"{live_url}/my/plots")
    assert "我的地块" in page.content()
    failures += _fits(page, "/my/plots")
    page.screenshot(path=str(output_dir / "plots.png"), full_page=True)
    page.goto(f"{live_url}/my/plots/{plot}/inputs")
    failures += _fits(page, f"/my/plots/{plot}/inputs")
    # A pesticide without its registration number: the refusal stands beside the field, in Chinese.
    page.select_option("#kind", "pesticide")
    page.fill("#product_name", "吡虫啉可湿性粉剂")
    page.fill("#active_ingredient", "吡虫啉")
    page.fill("#dose", "1500倍液")
    page.fill("#applied_on", "2025-06-24")
    page.fill("#safety_interval_days", "14")
    page.click("#record button[type=submit]")
    page.wait_for_load_state()
    beside = page.locator("#registration_no ~ .field-error")
    assert beside.count() == 1 and "农药登记证号" in beside.inner_text()
    failures += _fits(page, "refused form")
    page.screenshot(path=str(output_dir / "refused.png"), full_page=True)
    page.fill("#registration_no", "PD20080001")
    page.click("#record button[type=submit]")
    page.wait_for_load_state()
    assert "吡虫啉可湿性粉剂" in page.locator("#records").inner_text()
    failures += _fits(page, "recorded")
    page.screenshot(path=str(output_dir / "inputs.png"), full_page=True)
    context.close()
    public = _phone(browser).new_page()
    public.goto(f"{live_url}/t/{world.harvest.code}")
    failures += _fits(public, f"/t/{world.harvest.code}")
    public.screenshot(path=str(output_dir / "scan.png"), full_page=True)
    assert not failures, "\n".join(failures)

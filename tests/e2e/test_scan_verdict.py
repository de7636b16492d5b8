"""One verdict per scan page, in a real browser at 375 px (issue 12): a failed batch, a recalled descendant, a copied
code, a cleared re-test and a sellable one each show exactly one headline, and under a headline that is not green no element is
green — judged on the colours the browser computed (text, background, borders, SVG fill and stroke, ::before
and ::after), not on class names."""
from __future__ import annotations

import pytest

from gi_trace.tracing import codes
from tests.e2e.conftest import launch_chromium
from tests.factories_verdict import cleared, failed, recalled, sellable

pytestmark = pytest.mark.e2e

# Every colour the browser computed for every visible element (and its ::before/::after), with a path to name it.
COLOURS_JS = """
() => {
  const props = ['color', 'background-color', 'border-top-color', 'border-right-color', 'border-bottom-color',
                 'border-left-color', 'outline-color', 'fill', 'stroke', 'text-decoration-color'];
  const widths = {'border-top-color': 'border-top-width', 'border-right-color': 'border-right-width',
                  'border-bottom-color': 'border-bottom-width', 'border-left-color': 'border-left-width',
                  'outline-color': 'outline-width'};
  const name = el => el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined && el.className
                     ? '.' + String(el.className).trim().split(/\\s+/).join('.') : '');
  const out = [];
  for (const el of document.querySelectorAll('body, body *')) {
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden' || style.display === 'none'
        || el.closest('[hidden]')) continue;
    for (const pseudo of [null, '::before', '::after']) {
      const s = pseudo ? getComputedStyle(el, pseudo) : style;
      if (pseudo && (s.content === 'none' || s.content === 'normal')) continue;
      for (const p of props) {
        if (widths[p] && parseFloat(s.getPropertyValue(widths[p])) === 0) continue;
        if (p === 'outline-color' && s.outlineStyle === 'none') continue;
        if ((p === 'fill' || p === 'stroke') && !(el instanceof SVGElement)) continue;
        if (p === 'text-decoration-color' && !s.textDecorationLine.includes('line')) continue;
        const value = s.getPropertyValue(p);
        if (value) out.push([name(el) + (pseudo || ''), p, value]);
      }
    }
  }
  return out;
}
"""


def rgba(value: str):
    """(r, g, b, a) of a computed colour ('rgb(1, 2, 3)', 'rgba(1, 2, 3, 0.5)'), None for 'none' or a url."""
    if not value.startswith("rgb"):
        return None
    parts = [float(x) for x in value[value.index("(") + 1:value.index(")")].replace("/", ",").split(",")]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def is_green(value: str) -> bool:
    """Green to a shopper's eye: hue 70°–170°, HSL saturation ≥ 20 %, not white or black, not transparent."""
    colour = rgba(value)
    if colour is None or colour[3] < 0.05:
        return False
    r, g, b = (c / 255 for c in colour[:3])
    high, low = max(r, g, b), min(r, g, b)
    lightness = (high + low) / 2
    if high == low or lightness <= 0.08 or lightness >= 0.985:
        return False
    saturation = (high - low) / (1 - abs(2 * lightness - 1))
    if high == r:
        hue = 60 * (((g - b) / (high - low)) % 6)
    elif high == g:
        hue = 60 * ((b - r) / (high - low) + 2)
    else:
        hue = 60 * ((r - g) / (high - low) + 4)
    return 70 <= hue <= 170 and saturation >= 0.2


def hue_of(value: str) -> float:
    r, g, b = (c / 255 for c in rgba(value)[:3])
    high, low = max(r, g, b), min(r, g, b)
    if high == r:
        return 60 * (((g - b) / (high - low)) % 6)
    return 60 * ((b - r) / (high - low) + 2) if high == g else 60 * ((r - g) / (high - low) + 4)


def test_green_is_told_by_hue_and_saturation():
    assert is_green("rgb(27, 110, 58)") and is_green("rgb(238, 248, 241)") and is_green("rgba(143, 209, 158, 1)")
    assert not is_green("rgb(179, 38, 30)") and not is_green("rgb(95, 99, 104)") and not is_green("rgb(255, 255, 255)")
    assert not is_green("rgba(27, 110, 58, 0)") and not is_green("rgb(11, 87, 208)") and not is_green("none")


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


def _look(phone, url: str, status: int):
    """(headline text, headline colour, [(element, property, colour)] of every visible element) of one page."""
    reply = phone.goto(url, wait_until="networkidle")
    assert reply.status == status, url
    headlines = phone.locator("h1")
    assert headlines.count() == 1 and phone.locator("section.verdict").count() == 1, url
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, url  # fits the phone
    colour = headlines.first.evaluate("el => getComputedStyle(el).color")
    return headlines.first.inner_text(), colour, phone.evaluate(COLOURS_JS)


def _no_green(url: str, colours) -> None:
    green = [c for c in colours if is_green(c[2])]
    assert green == [], f"{url}: green under a headline that is not green: {green}"


def test_failed_recalled_and_copied_codes_show_one_verdict_and_nothing_green(client, session, live_url, phone,
                                                                             output_dir):
    good_harvest, good_lot, good_unit = sellable(session)
    bad_harvest, bad_lot, bad_unit = failed(session)
    gone_harvest, gone_lot, gone_unit = recalled(session)  # the harvest withdrawn: the lot is a descendant
    _harvest, _lot, copied = sellable(session)
    session.commit()
    for address in ("198.51.100.7", "203.0.113.5", "192.0.2.1"):  # the same package seen on three networks
        client.get(f"/t/{copied.code}", environ_base={"REMOTE_ADDR": address})

    # The detector sees green where there is green: the sellable page's headline, its GI mark and statuses.
    for code in (good_harvest.code, good_lot.code, good_unit.code):
        text, colour, colours = _look(phone, f"{live_url}/t/{code}", 200)
        assert text.startswith("✔ 正品") and is_green(colour)
        assert any(is_green(c[2]) for c in colours if c[0].startswith("dd.s-authorised"))
        assert any(is_green(c[2]) for c in colours if c[0].startswith("circle") and c[1] == "fill")
    phone.screenshot(path=str(output_dir / "verdict-sellable-375.png"), full_page=True)

    red = [(bad_harvest.code, 200, "✘ 不得作为地理标志产品销售", "failed-batch"),
           (bad_lot.code, 200, "✘ 不得作为地理标志产品销售", "failed-lot"),
           (bad_unit.code, 200, "✘ 不得作为地理标志产品销售", "failed-unit"),
           (gone_harvest.code, 410, "已召回", "recalled-batch"),
           (gone_lot.code, 410, "已召回", "recalled-descendant"),
           (gone_unit.code, 410, "已召回", "recalled-unit")]
    for code, status, headline, shot in red:
        url = f"{live_url}/t/{code}"
        text, colour, colours = _look(phone, url, status)
        assert headline in text, (url, text)
        hue = hue_of(colour)
        assert hue < 20 or hue > 340, (url, colour)  # the headline is red
        _no_green(url, colours)
        phone.screenshot(path=str(output_dir / f"verdict-{shot}-375.png"), full_page=True)
    for lang_url in (f"{live_url}/t/{bad_lot.code}?lang=en", f"{live_url}/t/{bad_unit.code}?lang=en"):
        text, _colour, colours = _look(phone, lang_url, 200)
        assert text == "✘ Not to be sold as a GI product"
        _no_green(lang_url, colours)

    url = f"{live_url}/t/{copied.code}?lang=zh"
    text, colour, colours = _look(phone, url, 200)
    assert text == "⚠ 请先核实此包装" and 20 <= hue_of(colour) <= 60, colour  # amber
    _no_green(url, colours)
    phone.screenshot(path=str(output_dir / "verdict-copied-unit-375.png"), full_page=True)

    url = f"{live_url}/t/{codes.new_code()}"  # well formed, never registered
    text, colour, colours = _look(phone, url, 404)
    assert text == "⚠ 不是已登记的追溯码" and 20 <= hue_of(colour) <= 60, colour
    _no_green(url, colours)


def test_a_cleared_re_test_shows_one_green_verdict_with_what_happened(session, live_url, phone, output_dir):
    harvest, lot, unit = cleared(session)
    session.commit()
    for code in (harvest.code, lot.code, unit.code):
        url = f"{live_url}/t/{code}"
        text, colour, _colours = _look(phone, url, 200)
        assert text == "✔ 正品：地理标志产品，全程可追溯" and is_green(colour), url
        lines = phone.locator("section.verdict p.test-line").all_inner_texts()
        assert lines[0].startswith("复检合格（首次检测不合格：") and lines[0].endswith("含水率 14.6% > 13%）"), lines
        assert lines[1] == "复检报告 NX-2025-0720；首次检测报告 NX-2025-0716", lines
        # The line is read as a fact, not as an alarm: neither red nor green.
        line_colour = phone.locator("p.test-line").first.evaluate("el => getComputedStyle(el).color")
        assert not is_green(line_colour) and rgba(line_colour)[:3] == (29, 29, 31), line_colour
    phone.screenshot(path=str(output_dir / "verdict-cleared-unit-375.png"), full_page=True)

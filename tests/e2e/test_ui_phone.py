"""Every portal page at 375×812 in chromium, as a producer and as a regulator, plus the scan pages:
no horizontal scroll, no control covered by another element, tap targets of at least 44 px, no value
squeezed into a column a few characters wide, required marks without an underline.

Pages come from the URL map (tests/ui/walk.py, as the access matrix does). Five representative
phone screenshots are saved under test-output/<test name>/.
"""
from __future__ import annotations

import pytest

from tests.e2e.conftest import launch_chromium
from tests.ui import walk

pytestmark = pytest.mark.e2e

# What a phone user taps: buttons, inputs, selects, the header's links.
CHECK = """() => {
  const desc = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '')
    + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + (e.textContent ? ' "' + e.textContent.trim().slice(0, 20) + '"' : '');
  const se = document.scrollingElement;
  const out = {overflow: se.scrollWidth > window.innerWidth ? se.scrollWidth : 0, wide: [], covered: [],
               small: [], squeezed: [], marks: []};
  if (out.overflow) {
    for (const e of document.querySelectorAll('body *')) {
      const r = e.getBoundingClientRect();
      if (r.width && r.right > window.innerWidth + 0.5) out.wide.push(desc(e) + ' right=' + Math.round(r.right));
      if (out.wide.length > 4) break;
    }
  }
  // A value squeezed into a column a few characters wide (one character a line) beside a long label.
  for (const e of document.querySelectorAll('dd, td')) {
    const text = e.textContent.trim();
    const r = e.getBoundingClientRect();
    if (text.length >= 4 && r.width && r.width < 3 * parseFloat(getComputedStyle(e).fontSize))
      out.squeezed.push(desc(e) + ' w=' + r.width.toFixed(1));
  }
  // The required mark is a red asterisk: an abbr's default dotted underline draws it as "..*" under the label.
  for (const e of document.querySelectorAll('.required-mark'))
    if (getComputedStyle(e).textDecorationLine !== 'none') out.marks.push(desc(e) + ' underlined');
  const controls = document.querySelectorAll(
    'button, .button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea, .nav a, .bar a');
  for (const b of controls) {
    const style = getComputedStyle(b);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    let r = b.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if (r.height < 43.5) out.small.push(desc(b) + ' h=' + r.height.toFixed(1));
    b.scrollIntoView({block: 'center', inline: 'nearest'});
    r = b.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (top && top !== b && !b.contains(top) && !(top.tagName === 'LABEL' && top.control === b))
      out.covered.push(desc(b) + ' under ' + desc(top));
  }
  window.scrollTo(0, 0);
  return out;
}"""

SCREENSHOTS = {  # what to look at: (role, url suffix) -> file name
    ("producer", "batch"): "1-producer-batch.png",
    ("producer", "record/drying"): "2-producer-drying-form.png",
    ("producer", "split"): "3-producer-split-form.png",
    ("regulator", "/oversight/complaints"): "4-regulator-complaints.png",
    (None, "/t/"): "5-scan-page.png",
}


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def _phone(browser):
    return browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                               has_touch=True, locale="zh-CN")


def _screenshot_name(role, url, world) -> str | None:
    if role == "producer" and url == f"/batches/{world.lot.code}":
        return SCREENSHOTS[("producer", "batch")]
    if role == "producer" and url == f"/batches/{world.harvest.code}/record/drying":
        return SCREENSHOTS[("producer", "record/drying")]
    if role == "producer" and url == f"/batches/{world.lot.code}/split":
        return SCREENSHOTS[("producer", "split")]
    if role == "regulator" and url == "/oversight/complaints":
        return SCREENSHOTS[("regulator", "/oversight/complaints")]
    if role is None and url == f"/t/{world.lot.code}":
        return SCREENSHOTS[(None, "/t/")]
    return None


def test_every_page_fits_a_phone(app, live_url, browser, output_dir):
    world = walk.seeded_world(app)
    failures, pages, shots, public = [], 0, [], set()
    for role, username in ((None, None), ("producer", world.users["producer_a"].username),
                           ("regulator", world.users["regulator_city"].username)):
        context = _phone(browser)
        page = context.new_page()
        if username:
            page.goto(f"{live_url}/login")
            page.fill("#username", username)
            page.fill("#password", "password123")
            page.click("form button[type=submit], form input[type=submit]")
            page.wait_for_load_state()
        for url in walk.portal_urls(app, world, role):
            if url.endswith((".pdf", ".zip", ".csv", ".xlsx")) or "/templates/" in url or url in public:
                continue  # files, not pages; public pages are walked once
            if role is None:
                public.add(url)
            try:
                reply = page.goto(live_url + url)
            except Exception as exc:  # a file served as an attachment is not a page
                if "Download is starting" in str(exc):
                    continue
                raise
            if reply is None or "html" not in (reply.headers.get("content-type") or ""):
                continue
            pages += 1
            found = page.evaluate(CHECK)
            if found["overflow"]:
                failures.append(f"{url} as {role or 'public'}: {found['overflow']} px wide: {found['wide']}")
            for what in ("covered", "small", "squeezed", "marks"):
                for item in found[what]:
                    failures.append(f"{url} as {role or 'public'}: {what}: {item}")
            name = _screenshot_name(role, url, world)
            if name:
                page.screenshot(path=str(output_dir / name), full_page=True)
                shots.append(str(output_dir / name))
        context.close()
    print(f"\nphone walk: {pages} pages at 375x812; screenshots:\n  " + "\n  ".join(shots))
    assert pages > 30 and len(shots) == 5, shots
    assert not failures, "\n".join(failures)

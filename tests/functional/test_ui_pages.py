"""What producers and regulators see on the portal pages (issue 16)."""
from __future__ import annotations

import re

from tests.conftest import login
from tests.ui import walk


def test_the_header_name_leads_home_not_to_the_api_tokens(app):
    world = walk.seeded_world(app)
    for user, home in (("producer_a", "/batches"), ("regulator_city", "/oversight/")):
        client = app.test_client()
        login(client, world.users[user].username)
        html = client.get("/authorised-users").get_data(as_text=True)
        header = html[html.index("<header"):html.index("</header>")]
        name_link = re.search(r'<a class="who" href="([^"]+)"', header)
        assert name_link and name_link.group(1) == home
        assert "/account/tokens" not in header


def test_a_page_not_found_still_shows_who_is_logged_in(app):
    """A mistyped or stale link (404, or 405 for a wrong method): the header keeps the user's name and
    "log out", not a "log in" link that suggests the session was lost."""
    world = walk.seeded_world(app)
    client = app.test_client()
    login(client, world.users["producer_a"].username)
    for response in (client.get("/batches/no/such/page"), client.put("/batches")):
        assert response.status_code in (404, 405)
        html = response.get_data(as_text=True)
        header = html[html.index("<header"):html.index("</header>")]
        assert 'class="who"' in header and 'action="/logout"' in header and 'href="/login"' not in header


def test_purchase_form_names_the_grades_in_the_pages_language(app):
    """English: Premium, Special… (the grade scale's English names), not 特优, 特级 in the choice list."""
    world = walk.seeded_world(app)
    client = app.test_client()
    login(client, world.users["producer_a"].username)
    english = client.get("/purchases/new?lang=en").get_data(as_text=True)
    assert '<option value="特优">Premium</option>' in english and ">特优<" not in english
    chinese = client.get("/purchases/new?lang=zh").get_data(as_text=True)
    assert '<option value="特优">特优</option>' in chinese


def test_town_choices_are_named_in_the_pages_language(app):
    """A regulator's forms on the English page list "Zhongning County Ning'an", not 中宁县 宁安镇."""
    world = walk.seeded_world(app)
    client = app.test_client()
    login(client, world.users["regulator_city"].username)
    english = client.get("/products/new?lang=en").get_data(as_text=True)
    assert "Ning&#39;an" in english and "宁安镇" not in english
    assert "中宁县 宁安镇" in client.get("/products/new?lang=zh").get_data(as_text=True)


def _producer_client(app, world):
    client = app.test_client()
    login(client, world.users["producer_a"].username)
    return client


def test_stage_forms_prefill_what_the_record_knows(app):
    world = walk.seeded_world(app)
    client = _producer_client(app, world)
    plot = world.producer_a.plot
    # drying of a harvest that has no drying yet: a fresh batch harvested by producer A
    from sqlmodel import Session

    from gi_trace.db import get_engine
    from tests import factories

    with app.test_request_context(), Session(get_engine(app), expire_on_commit=False) as s:
        factories.bind(s)
        try:
            harvested = world.producer_a.harvested(s, fresh_kg=1234.5)
            s.commit()
        finally:
            factories.bind(None)
    html = client.get(f"/batches/{harvested.code}/record/drying").get_data(as_text=True)
    assert re.search(r'id="f_fresh_kg_in"[^>]*value="1234.5"', html), "fresh weight in from the harvest"
    assert re.search(rf'<option selected value="{plot.town_code}">', html), "the plot's town"
    # the last event was in 2025: the form starts from its date, not from now
    assert 'value="2025-07-01T08:00"' in html
    # required fields are marked
    assert re.search(r'<label for="f_dried_kg_out">[^<]*<abbr class="required-mark"', html)
    harvest_form = client.get(f"/batches/{harvested.code}/record/harvest").get_data(as_text=True)
    assert re.search(rf'<option selected value="{plot.id}">', harvest_form), "the plot of the planting"


def test_batch_page_offers_only_valid_stages_with_the_next_one_first_and_withdraw_apart(app):
    world = walk.seeded_world(app)
    client = _producer_client(app, world)
    lot = client.get(f"/batches/{world.lot.code}").get_data(as_text=True)
    actions = lot[lot.index("记录环节"):lot.index("danger-zone")]
    assert "/record/planting" not in actions and "/record/harvest" not in actions  # a packing lot was not planted
    assert "/record/distribution" in actions
    primary = re.search(r'<a class="button" href="([^"]+)">', actions)
    assert primary and primary.group(1).endswith("/record/processing")
    assert re.search(r'class="danger-zone">.*class="button danger" href="/batches/\w+/withdraw"', lot, re.S)
    planted = client.get(f"/batches/{world.planted.code}").get_data(as_text=True)
    primary = re.search(r'<a class="button" href="([^"]+)">', planted[planted.index("记录环节"):])
    assert primary and primary.group(1).endswith("/record/harvest")
    withdraw = client.get(f"/batches/{world.lot.code}/withdraw").get_data(as_text=True)
    assert 'class="button danger-solid"' in withdraw and "data-confirm=" in withdraw


def test_a_report_gives_a_reference_that_opens_its_status_and_the_queue_shows_it(app):
    world = walk.seeded_world(app)
    client = app.test_client()
    form = client.get(f"/report?code={world.lot.code}").get_data(as_text=True)
    assert "12315" in form and "工作日内" in form and 'name="order_no"' in form
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    reply = client.post(f"/report?code={world.lot.code}", data={
        "csrf_token": token, "code": world.lot.code, "category": "quality", "text": "枸杞发霉",
        "bought_shop": "中宁枸杞市场某店", "bought_city": "中宁", "bought_platform": "淘宝", "order_no": "TB-889"})
    assert reply.status_code == 303, reply.get_data(as_text=True)[:300]
    sent = client.get(reply.headers["Location"]).get_data(as_text=True)
    reference = re.search(r'<b class="code">(TS\d{8}-\w{5})</b>', sent).group(1)
    assert "12315" in sent
    status = client.get(f"/report/status?ref={reference.lower()}")
    text = walk.visible_text(status.get_data(as_text=True))
    assert status.status_code == 200 and "待处理" in text and "质量问题" in text and "受理决定期限" in text
    assert "枸杞发霉" not in text  # the status page shows no content of the complaint
    assert client.get("/report/status?ref=TS20990101-XXXXX").status_code == 404
    regulator = app.test_client()
    login(regulator, world.users["regulator_city"].username)
    queue = walk.visible_text(regulator.get("/oversight/complaints").get_data(as_text=True))
    assert reference in queue and "中宁枸杞市场某店 · 中宁 · 淘宝 · 订单号 TB-889" in queue


def test_english_pages_name_products_counties_and_grades_in_english(app):
    world = walk.seeded_world(app)
    regulator = app.test_client()
    login(regulator, world.users["regulator_city"].username)
    dashboard = walk.visible_text(regulator.get("/oversight/?lang=en").get_data(as_text=True))
    assert "专栏" not in dashboard and "Zhongning goji" in dashboard and "Zhongning County" in dashboard
    batch = walk.visible_text(regulator.get(f"/batches/{world.harvest.code}?lang=en").get_data(as_text=True))
    assert "Zhongning goji" in batch and "中宁枸杞" not in batch
    assert "Grade" in batch and "特级" not in batch and "特优" not in batch

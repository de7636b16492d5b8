"""A batch's own page after hand-overs, as its owner reads it: the timeline names shipping, receiving,
delivery, refusal and market purchase in words, says who the goods went to or came from, and links only
batches the reader may open; a test after a merge shows its computed verdict; product forms read as words."""
from __future__ import annotations

import re

from tests.conftest import login
from tests.factories_tracing import ARRIVED, PASSING_TEST, SHIPPED, Grower, dealer_with_account
from gi_trace.tracing import services, transfers

MERGED = "2025-08-12T10:00:00+08:00"
BLEND_TESTED = "2025-08-13T10:00:00+08:00"
PROCESSED = "2025-08-14T10:00:00+08:00"
BLEND_TEST = {**PASSING_TEST, "report_no": "NX-2025-0813", "sampled_at": "2025-08-12"}


def _chain(session):
    """A grower ships to a dealer twice (one received, one refused); the dealer buys from a farmer not on
    the register, merges both, tests the blend and processes part of it into juice."""
    grower = Grower.make(session, name="宁夏红枸杞种植有限公司")
    grower.user.username = "grower_t"
    batch = grower.tested(session)
    dealer, dealer_user = dealer_with_account()
    dealer_user.username = "dealer_t"
    kept = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=100, shipped_at=SHIPPED)
    refused = transfers.ship(session, grower.user, batch, to=dealer.code, quantity_kg=20, shipped_at=SHIPPED)
    received = transfers.receive(session, dealer_user, kept, received_at=ARRIVED)
    transfers.reject(session, dealer_user, refused, reason="霉变", rejected_at=ARRIVED)
    bought = transfers.purchase(session, dealer_user, transfers.PurchaseInput(
        quantity_kg=25, seller_name="王五", town_code="640521104", purchased_at=ARRIVED)).batch
    blend = services.merge(session, dealer_user, [(received, None), (bought, None)], occurred_at=MERGED).children[0]
    services.record_event(session, dealer_user, blend, services.EventInput(
        stage="testing", occurred_at=BLEND_TESTED, data=BLEND_TEST))
    juice = services.transform(session, dealer_user, [(blend, 50)], [{"quantity_kg": 40, "product_form": "juice"}],
                               occurred_at=PROCESSED, extra={"product_form": "juice", "process": "榨汁"}).children[0]
    session.commit()
    return grower, batch, dealer, received, bought, blend, juice


def _timeline(html: str) -> str:
    return html[html.index('class="timeline"'):]


def _single_character_links(html: str) -> list[str]:
    return re.findall(r'href="/batches/[^"/?]{1,2}"', html)


def test_the_senders_page_names_the_hand_overs_and_the_receiver(client, session):
    grower, batch, dealer, received, *_rest = _chain(session)
    login(client, "grower_t")
    html = client.get(f"/batches/{batch.code}").get_data(as_text=True)
    timeline = _timeline(html)
    for code_word in ("shipping", "delivery", "return", "receiving"):
        assert f"<strong>{code_word}</strong>" not in timeline, code_word
    assert "<strong>发货</strong>" in timeline and "<strong>买方已收货</strong>" in timeline
    assert "<strong>买方拒收，退回库存</strong>" in timeline and "霉变" in timeline
    assert "宁夏杞乡枸杞商行" in timeline  # who the goods went to, by name (not its credit code spelt out as links)
    assert not _single_character_links(html), _single_character_links(html)
    # The dealer's batch is not the grower's to open: its code is shown, not linked to a page that says 404.
    assert f'href="/batches/{received.code}"' not in html
    assert client.get(f"/batches/{received.code}").status_code == 404


def test_the_receivers_pages_name_the_sender_and_link_only_their_own_batches(client, session):
    grower, batch, dealer, received, bought, blend, _juice = _chain(session)
    login(client, "dealer_t")
    got = client.get(f"/batches/{received.code}").get_data(as_text=True)
    timeline = _timeline(got)
    assert "<strong>收货（自上一经营主体）</strong>" in timeline and "宁夏红枸杞种植有限公司" in timeline
    assert not _single_character_links(got), _single_character_links(got)
    assert f'href="/batches/{batch.code}"' not in got and "code-text" in got  # the grower's batch: text only
    assert f'href="/batches/{blend.code}"' in got  # its own blend: a link

    farm = _timeline(client.get(f"/batches/{bought.code}").get_data(as_text=True))
    assert "<strong>市场收购</strong>" in farm and "未登记种植户" in farm and "恩和镇" in farm


def test_a_test_right_after_a_merge_shows_its_computed_verdict(client, session):
    *_rest, blend, _juice = _chain(session)
    login(client, "dealer_t")
    mixed = _timeline(client.get(f"/batches/{blend.code}").get_data(as_text=True))
    assert "计算结论" in mixed and "合格" in mixed


def test_product_forms_read_as_words_on_the_batch_page_the_scan_page_and_the_merge_form(client, session):
    *_rest, juice = _chain(session)
    login(client, "dealer_t")
    made = client.get(f"/batches/{juice.code}").get_data(as_text=True)
    assert "原浆" in _timeline(made) and "juice" not in _timeline(made)
    scan = client.get(f"/t/{juice.code}").get_data(as_text=True)  # the consumer's page says it the same way
    assert "产品形态：原浆" in scan and "juice" not in scan
    form = client.get("/batches/merge").get_data(as_text=True)
    options = " ".join(re.findall(r"<option[^>]*>([^<]*)</option>", form))
    assert "原浆" in options and "juice" not in options and "dried" not in options

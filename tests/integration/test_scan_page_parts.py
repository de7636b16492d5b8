"""Stored pages built together share their parts (scan.page_parts): the pages are byte for byte those built
one at a time, and those a scan builds live."""
from __future__ import annotations

from sqlmodel import select

from gi_trace.db import get_engine
from gi_trace.scan import page_parts, read_path, stored_pages
from gi_trace.tracing import services, transfers
from gi_trace.tracing.models import Event
from tests.factories import authorised_producer, producer_user
from tests.factories_tracing import PLANTED, SHIPPED, STORED, Grower

ARRIVE = "2025-08-11T09:00:00+08:00"
LATER = "2025-08-20T09:00:00+08:00"


def _family(session) -> dict:
    """Two harvests (one corrected) split into lots with events of their own (one corrected), a merge of a lot
    with the other harvest, a lot shipped to a dealer and received, a recalled lot: every kind of part."""
    grower = Grower.make(session)
    first, second = grower.tested(session), grower.tested(session, fresh_kg=800.0)
    planting = session.exec(select(Event).where(Event.batch_id == first.id, Event.stage == "planting")).one()
    grower.event(session, first, "planting", PLANTED, {"plot_id": grower.plot.id, "cultivar": "宁杞10号"},
                 corrects_event_id=planting.id, correction_reason="品种录错")
    lots = services.split(session, grower.user, first, [{"quantity_kg": 30.0, "producer_lot": f"L-{n}"}
                                                        for n in range(4)], occurred_at=STORED).children
    for n, lot in enumerate(lots):
        grower.event(session, lot, "storage", SHIPPED, {"place": f"冷库 {n}", "conditions": "阴凉干燥"})
    wrong = session.exec(select(Event).where(Event.batch_id == lots[0].id, Event.stage == "storage")).one()
    grower.event(session, lots[0], "storage", SHIPPED, {"place": "二号冷库", "conditions": "阴凉干燥"},
                 corrects_event_id=wrong.id, correction_reason="库号写错")
    merged = services.merge(session, grower.user, [(lots[1], 10.0), (second, 100.0)], occurred_at=LATER).children[0]
    dealer = authorised_producer(kind="trader", name="宁夏杞乡枸杞商行")
    shipment = transfers.ship(session, grower.user, lots[2], to=dealer.code, quantity_kg=20, shipped_at=LATER)
    received = transfers.receive(session, producer_user(dealer), shipment, received_at=LATER)
    services.withdraw(session, grower.user, lots[3], "霉变")
    session.commit()
    return {"first": first, "second": second, "lots": lots, "merged": merged, "received": received}


def test_pages_built_with_shared_parts_are_those_built_one_at_a_time_and_live(app, session):
    made = _family(session)
    ids = sorted({made["first"].id, made["second"].id, made["merged"].id, made["received"].id,
                  *(lot.id for lot in made["lots"])})
    engine = get_engine(app)
    with engine.connect() as conn:
        ref = read_path.ReferenceCache().get(conn)
        parts = page_parts.Parts()
        together = {page["batch_id"]: page for page, _inputs in stored_pages._build(conn, ids, ref, parts)}
        assert sorted(together) == ids
        for batch_id in ids:
            alone = stored_pages.build_many(conn, [batch_id], ref)[0]  # its own parts, made for it alone
            product_id = conn.exec_driver_sql(f"SELECT product_id FROM batch WHERE id = {batch_id}").scalar_one()
            row = stored_pages._ProductPart(product_id, *ref.products[product_id][2:5])
            record = read_path.read_record(conn, batch_id)  # as a scan reads it, one batch
            for lang in stored_pages.LANGUAGES:
                body = together[batch_id][f"body_{lang}"]
                assert body == alone[f"body_{lang}"], (batch_id, lang)
                assert body == str(page_parts.history_html(row, record, ref, lang)), (batch_id, lang)
    # The pages did share parts: fewer lines were made than the pages print.
    printed = sum(page[f"body_{lang}"].count("<li><span") for page in together.values() for lang in ("zh", "en"))
    assert 0 < len(parts.lines) < printed / 2
    lot_page = together[made["lots"][0].id]["body_zh"]
    assert "品种录错" in lot_page and "库号写错" in lot_page and "宁杞10号" in lot_page
    assert "库号写错" not in together[made["lots"][1].id]["body_zh"]  # a sibling's own correction is its own
    assert "品种录错" in together[made["merged"].id]["body_zh"] and "宁夏杞乡枸杞商行" in together[
        made["received"].id]["body_zh"]
    assert "Corrects the entry of" in together[made["received"].id]["body_en"]


def test_parts_are_made_again_when_the_reference_data_is_read_again(app, session):
    made = _family(session)
    lot = made["lots"][1]
    engine = get_engine(app)
    with engine.connect() as conn:
        ref = read_path.ReferenceCache(ttl=0)  # read again at every get
        parts = page_parts.Parts()
        ref.get(conn)
        before = stored_pages._build(conn, [lot.id], ref, parts)[0][0]["body_zh"]
        conn.exec_driver_sql(f"UPDATE region SET name_zh = '新宁安镇' WHERE code = '{made['first'].origin_town_code}'")
        ref.get(conn)
        after = stored_pages._build(conn, [lot.id], ref, parts)[0][0]["body_zh"]
        conn.rollback()
    assert "新宁安镇" not in before and "新宁安镇" in after

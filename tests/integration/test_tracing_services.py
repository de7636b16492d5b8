"""Tracing services against a real database: each refusal, quality gate and plausibility flag,
lineage mass balance, withdrawal, and the chain under a lost race."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gi_trace.errors import Conflict, Forbidden, NotFound, Refused, ValidationError
from gi_trace.tracing import chain, lineage, services
from gi_trace.tracing.models import Event, PlausibilityFlag
from gi_trace.types import utcnow
from tests.factories import DecisionFactory, PlotFactory, ProducerFactory, UserFactory, goji, producer_user
from tests.factories_tracing import DRIED, PASSING_TEST, PICKED, PICKED_2, Grower


# --- who may open a batch ------------------------------------------------------------------

def _refusal(session, producer) -> Refused:
    user = producer_user(producer)
    with pytest.raises(Refused) as exc:
        services.open_batch(session, user, goji(session), services.BatchInput())
    return exc.value


def test_producer_without_authorisation_cannot_open_a_batch(session):
    refusal = _refusal(session, ProducerFactory())
    assert refusal.code == "authorisation_none" and "尚未申请" in refusal.message


def test_pending_application_cannot_open_a_batch(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id, action="apply", reference_no="")
    assert _refusal(session, producer).code == "authorisation_pending"


def test_suspended_producer_cannot_open_a_batch_and_is_told_since_when_and_why(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    DecisionFactory(producer_id=producer.id, action="suspend", effective_date=date(2025, 5, 1), reason="标签不规范")
    refusal = _refusal(session, producer)
    assert refusal.code == "authorisation_suspended"
    assert "2025年5月1日" in refusal.message and "标签不规范" in refusal.message


def test_revoked_producer_cannot_open_a_batch(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id)
    DecisionFactory(producer_id=producer.id, action="revoke", effective_date=date(2025, 6, 1), reason="外地果冒充")
    assert _refusal(session, producer).code == "authorisation_revoked"


def test_expired_authorisation_cannot_open_a_batch(session):
    producer = ProducerFactory()
    DecisionFactory(producer_id=producer.id, valid_until=date(2024, 12, 31))
    refusal = _refusal(session, producer)
    assert refusal.code == "authorisation_expired" and "2024年12月31日" in refusal.message


def test_regulator_cannot_open_a_batch(session):
    with pytest.raises(Forbidden):
        services.open_batch(session, UserFactory(role="regulator"), goji(session), services.BatchInput())


def test_a_new_batch_cannot_start_with_a_quantity(session, grower):
    with pytest.raises(Refused) as exc:
        grower.open(session, quantity_kg=500)
    assert exc.value.code == "quantity_from_nothing"


def test_trademark_must_be_the_producers_own(session, grower):
    other = Grower.make(session)
    with pytest.raises(ValidationError):
        services.open_batch(session, grower.user, goji(session),
                            services.BatchInput(trademark_id=other.trademark_id))


def test_duplicate_lot_number_is_a_conflict(session, grower):
    grower.open(session, producer_lot="L-1")
    with pytest.raises(Conflict):
        grower.open(session, producer_lot="L-1")


# --- refusals while recording ---------------------------------------------------------------

def test_harvest_plot_outside_the_protected_towns_is_refused(session, grower):
    outside = PlotFactory(producer_id=grower.producer.id, town_code="640521206")  # 太阳梁乡
    batch = grower.open(session)
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "harvest", PICKED, {"plot_id": outside.id, "fresh_kg": 100})
    assert exc.value.code == "outside_protected_area"
    assert batch.event_count == 0


def test_another_producers_plot_is_invalid(session, grower):
    other = Grower.make(session)
    batch = grower.open(session)
    with pytest.raises(ValidationError):
        grower.event(session, batch, "harvest", PICKED, {"plot_id": other.plot.id, "fresh_kg": 100})


def test_dried_weight_not_less_than_fresh_is_refused(session, grower):
    batch = grower.harvested(session, 500)
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "drying", DRIED, {"method": "sun", "dried_kg_out": 500})
    assert exc.value.code == "dried_not_less"


def test_wrong_stage_order_is_refused(session, grower):
    batch = grower.open(session)
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "drying", DRIED, {"method": "sun", "dried_kg_out": 10})
    assert exc.value.code == "stage_order"
    dried = grower.dried(session)
    with pytest.raises(Refused) as exc:
        grower.event(session, dried, "harvest", "2025-07-20T08:00:00+08:00", {"plot_id": grower.plot.id,
                                                                            "fresh_kg": 10})
    assert exc.value.code == "stage_order"


def test_event_in_the_future_is_refused(session, grower):
    batch = grower.open(session)
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "harvest", tomorrow, {"plot_id": grower.plot.id, "fresh_kg": 10})
    assert exc.value.code == "future"


def test_event_before_its_predecessor_is_refused(session, grower):
    batch = grower.harvested(session)
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "drying", "2025-06-01T08:00:00+08:00", {"method": "sun", "dried_kg_out": 200})
    assert exc.value.code == "before_previous"


def test_split_beyond_what_a_batch_holds_is_refused(session, grower):
    batch = grower.dried(session, 1000, 240)
    with pytest.raises(Refused) as exc:
        services.split(session, grower.user, batch, [{"quantity_kg": 200}, {"quantity_kg": 41}],
                       occurred_at="2025-07-13T08:00:00+08:00")
    assert exc.value.code == "quantity_from_nothing"
    assert batch.out_kg == 0


def test_processing_cannot_make_more_than_goes_in(session, grower):
    batch = grower.dried(session, 1000, 240)
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "processing", "2025-07-20T08:00:00+08:00",
                     {"product_form": "powder", "outputs": [{"quantity_kg": 241}]})
    assert exc.value.code == "quantity_from_nothing"


def test_distribution_beyond_the_batch_is_refused(session, grower):
    batch = grower.dried(session, 1000, 240)
    grower.event(session, batch, "distribution", "2025-08-01T08:00:00+08:00", {"recipient": "甲", "kg": 200})
    with pytest.raises(Refused) as exc:
        grower.event(session, batch, "distribution", "2025-08-02T08:00:00+08:00", {"recipient": "乙", "kg": 41})
    assert exc.value.code == "quantity_from_nothing"


def test_another_producers_batch_is_not_found_for_every_change(session, grower):
    batch = grower.dried(session)
    other = Grower.make(session)
    mine = other.dried(session)
    with pytest.raises(NotFound):
        services.own_batch(session, other.user, batch.code)
    with pytest.raises(NotFound):
        other.event(session, batch, "storage", "2025-08-01T08:00:00+08:00", {"place": "x"})
    with pytest.raises(NotFound):
        services.merge(session, other.user, [(mine, None), (batch, None)])
    with pytest.raises(NotFound):
        services.split(session, other.user, batch, [{"quantity_kg": 1}])


def test_malformed_code_is_refused_before_any_lookup(session):
    with pytest.raises(NotFound):
        services.batch_by_code(session, "ABCD-EFGH-JKMN-P2")


def test_merging_fresh_with_dried_is_refused(session, grower):
    fresh = grower.harvested(session, 100)
    dried = grower.dried(session, 1000, 240)
    with pytest.raises(Refused):
        services.merge(session, grower.user, [(fresh, None), (dried, None)],
                       occurred_at="2025-07-20T08:00:00+08:00")


# --- quality gates ---------------------------------------------------------------------------

def test_failed_test_is_recorded_and_blocks_the_label_until_a_later_pass(session, grower):
    batch = grower.tested(session, test={**PASSING_TEST, "moisture_pct": 14.2})
    assert batch.test_state == "failed"
    assert batch.event_count == 4  # the failed test is recorded as the fact it is
    permission = services.label_allowed(session, batch)
    assert not permission.allowed and permission.code == "test_failed"
    with pytest.raises(Refused):
        services.require_label_allowed(session, batch)
    grower.event(session, batch, "testing", "2025-07-20T10:00:00+08:00", PASSING_TEST)
    assert services.label_allowed(session, batch).allowed


def test_so2_or_residue_failure_fails_the_test(session, grower):
    so2 = grower.tested(session, test={**PASSING_TEST, "so2_mg_per_kg": 600.0})
    residue = grower.tested(session, test={**PASSING_TEST, "residues": [{"substance": "吡虫啉", "mg_per_kg": 3.0}]})
    assert so2.test_state == residue.test_state == "failed"


def test_untested_batch_may_not_carry_the_label(session, grower):
    assert services.label_allowed(session, grower.dried(session)).code == "untested"


def test_suspension_after_the_test_blocks_the_label(session, grower):
    batch = grower.tested(session)
    assert services.label_allowed(session, batch).allowed
    DecisionFactory(producer_id=grower.producer.id, action="suspend", effective_date=date(2025, 9, 1), reason="x")
    assert services.label_allowed(session, batch).code == "not_authorised"


def test_grade_is_derived_from_the_grain_count(session, grower):
    batch = grower.tested(session, test={**PASSING_TEST, "grains_per_50g": 560})
    assert (batch.grade, batch.grains_per_50g) == ("甲级", 560)
    with pytest.raises(ValidationError):
        grower.event(session, batch, "testing", "2025-07-21T10:00:00+08:00", {**PASSING_TEST, "grade": "特优"})


def test_merged_batch_inherits_the_weaker_test_and_grade(session, grower):
    good = grower.tested(session, test={**PASSING_TEST, "grains_per_50g": 270})
    fair = grower.tested(session, test={**PASSING_TEST, "grains_per_50g": 500})
    merged = services.merge(session, grower.user, [(good, None), (fair, None)],
                            occurred_at="2025-07-20T08:00:00+08:00").children[0]
    assert (merged.test_state, merged.grade, merged.quantity_kg) == ("passed", "甲级", 480)
    failed = grower.tested(session, test={**PASSING_TEST, "so2_mg_per_kg": 600.0})
    bad_mix = services.merge(session, grower.user, [(merged, 10), (failed, 10)],
                             occurred_at="2025-07-21T08:00:00+08:00").children[0]
    assert bad_mix.test_state == "failed"


# --- plausibility flags -----------------------------------------------------------------------

def _flags(session, batch):
    return [f.kind for f in session.exec(select(PlausibilityFlag).where(PlausibilityFlag.batch_id == batch.id))]


def test_harvest_above_plot_area_times_max_yield_raises_a_flag(session):
    small = Grower.make(session, area_mu=1.0)  # 1 亩 × 400 kg dried = 400 kg; 5:1 → 2000 kg fresh
    within = small.harvested(session, 2000)
    assert _flags(session, within) == [] and not within.under_review
    over = small.harvested(session, 10)
    assert _flags(session, over) == ["yield_over_cap"]
    assert over.under_review and over.open_flags == 1
    assert over.event_count == 2  # recorded all the same


def test_drying_ratio_outside_the_band_raises_a_flag(session, grower):
    batch = grower.dried(session, 1000, 150)  # 6.7 : 1
    assert _flags(session, batch) == ["drying_ratio"]


def test_picking_outside_the_season_raises_a_flag(session, grower):
    batch = grower.open(session)
    grower.event(session, batch, "harvest", "2025-03-01T08:00:00+08:00", {"plot_id": grower.plot.id, "fresh_kg": 50})
    assert _flags(session, batch) == ["out_of_season"]


def test_labels_beyond_the_batch_quantity_raise_a_flag(session, grower):
    batch = grower.tested(session, 1000, 240)
    assert services.check_label_quantity(session, batch, 480, 0.5) is None
    flag = services.check_label_quantity(session, batch, 481, 0.5)
    assert flag.kind == "labels_over_quantity" and batch.under_review


def test_regulator_review_closes_the_flag(session, grower):
    batch = grower.dried(session, 1000, 150)
    flag = session.exec(select(PlausibilityFlag).where(PlausibilityFlag.batch_id == batch.id)).one()
    regulator = UserFactory(role="regulator", county_code="640521")
    services.review_flag(session, regulator, flag.id, "cleared", "烘干设备记录核实无误")
    assert flag.status == "cleared" and not batch.under_review
    with pytest.raises(Conflict):
        services.review_flag(session, regulator, flag.id, "confirmed")
    elsewhere = UserFactory(role="regulator", county_code="640522")
    other = grower.dried(session, 1000, 150)
    other_flag = session.exec(select(PlausibilityFlag).where(PlausibilityFlag.batch_id == other.id)).one()
    with pytest.raises(Forbidden):
        services.review_flag(session, elsewhere, other_flag.id, "cleared")


# --- corrections, withdrawal, lineage, chain ----------------------------------------------

def test_a_correction_is_a_new_event_and_the_chain_still_verifies(session, grower):
    batch = grower.open(session)
    first = grower.event(session, batch, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 500})
    grower.event(session, batch, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 400},
                 corrects_event_id=first.id, correction_reason="重复录入")
    assert batch.quantity_kg == 400 and batch.event_count == 2
    assert session.get(Event, first.id).quantity_kg == 500
    assert chain.verify_batch(session, batch).ok


def test_a_correction_cannot_break_the_mass_balance(session, grower):
    batch = grower.open(session)
    first = grower.event(session, batch, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 500})
    services.split(session, grower.user, batch, [{"quantity_kg": 300}], occurred_at=PICKED_2)
    with pytest.raises(Refused):
        grower.event(session, batch, "harvest", PICKED, {"plot_id": grower.plot.id, "fresh_kg": 200},
                     corrects_event_id=first.id, correction_reason="称重错误")


def test_withdrawal_is_an_event_and_blocks_further_records(session, grower):
    batch = grower.tested(session)
    regulator = UserFactory(role="regulator", county_code="640521")
    event = services.withdraw(session, regulator, batch, "抽检发现非产区原料")
    assert event.stage == "withdrawal" and batch.is_withdrawn and batch.withdrawn_by == regulator.id
    assert services.label_allowed(session, batch).code == "withdrawn"
    with pytest.raises(Refused):
        grower.event(session, batch, "storage", "2025-08-01T08:00:00+08:00", {"place": "x"})
    with pytest.raises(Conflict):
        services.withdraw(session, grower.user, batch, "again")
    assert chain.verify_batch(session, batch).ok


def test_regulator_of_another_county_cannot_withdraw(session, grower):
    batch = grower.tested(session)
    with pytest.raises(NotFound):
        services.withdraw(session, UserFactory(role="regulator", county_code="640522"), batch, "x")


def test_backward_and_forward_traces_return_exactly_the_related_batches(session, grower):
    a = grower.tested(session, 1000, 240)
    b = grower.tested(session, 1000, 240)
    unrelated = grower.tested(session, 1000, 240)
    a1, a2 = services.split(session, grower.user, a, [{"quantity_kg": 100}, {"quantity_kg": 100}],
                            occurred_at="2025-07-16T08:00:00+08:00").children
    m = services.merge(session, grower.user, [(a2, None), (b, 100)],
                       occurred_at="2025-07-17T08:00:00+08:00").children[0]
    p = grower.event(session, m, "processing", "2025-07-18T08:00:00+08:00",
                     {"product_form": "powder", "outputs": [{"quantity_kg": 150}]})
    powder = services.batch_by_code(session, p.data["to"][0])
    assert lineage.trace(session, powder, "backward").codes == {m.code, a2.code, a.code, b.code}
    assert [n.code for n in lineage.trace(session, powder, "backward").harvest_batches()] == [a.code, b.code]
    assert lineage.trace(session, a, "forward").codes == {a1.code, a2.code, m.code, powder.code}
    assert lineage.trace(session, b, "forward").codes == {m.code, powder.code}
    assert lineage.trace(session, unrelated, "forward").codes == set()
    assert (a.out_kg, b.out_kg, b.available_kg, m.available_kg) == (200, 100, 140, 0)
    for batch in (a, b, a1, a2, m, powder):
        assert chain.verify_batch(session, batch).ok


def test_two_writers_cannot_fork_a_chain(session, grower):
    batch = grower.harvested(session)
    session.commit()
    last = session.exec(select(Event).where(Event.batch_id == batch.id, Event.seq == batch.event_count)).one()
    session.add(Event(batch_id=batch.id, seq=last.seq, stage="storage", occurred_at=last.occurred_at,
                      data={"place": "x"}, hash="0" * 64))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_a_product_without_its_own_template_gets_the_generic_chain(session):
    from gi_trace.registry.models import Product, ProductTown

    potato = Product(slug="haiyuan-potato", name_zh="海原马铃薯", max_moisture_pct=None,
                     season_start_mmdd="08-01", season_end_mmdd="10-31")
    session.add(potato)
    session.flush()
    session.add(ProductTown(product_id=potato.id, town_code="640522100"))
    producer = ProducerFactory(county_code="640522", town_code="640522100", products=[])
    DecisionFactory(producer_id=producer.id, product_id=potato.id)
    user = producer_user(producer)
    plot = PlotFactory(producer_id=producer.id, town_code="640522100", area_mu=10)
    batch = services.open_batch(session, user, potato, services.BatchInput())

    def record(stage, when, data):
        return services.record_event(session, user, batch, services.EventInput(stage=stage, occurred_at=when,
                                                                                data=data))

    record("harvest", "2025-09-20T08:00:00+08:00", {"plot_id": plot.id, "fresh_kg": 3000})
    with pytest.raises(ValidationError):
        record("drying", "2025-09-21T08:00:00+08:00", {"method": "sun", "dried_kg_out": 10})
    record("testing", "2025-09-22T08:00:00+08:00", {"lab": "L", "report_no": "R", "sampled_at": "2025-09-21",
                                                    "sampled_by": "S", "method": "GB 2763", "residues": []})
    assert (batch.test_state, batch.grade, batch.quantity_kg) == ("passed", None, 3000)
    assert services.label_allowed(session, batch).allowed

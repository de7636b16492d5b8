"""Deciding on authorisations against a real database: who may decide, the protected area, history."""
from datetime import date

import pytest
from sqlmodel import select

from gi_trace.authorisation import rules, services
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import DecisionInput
from gi_trace.errors import Forbidden, NotFound, Refused, ValidationError
from tests import factories


@pytest.fixture
def regulator(session):
    return factories.UserFactory(role="regulator")


def test_approval_then_suspension_is_recorded_with_who_and_when(session, regulator):
    producer = factories.grower()
    goji = factories.goji()
    services.decide(session, regulator, producer, goji,
                    DecisionInput("approve", date(2024, 1, 10), reference_no="中宁地标许字〔2024〕1号"))
    services.decide(session, regulator, producer, goji,
                    DecisionInput("suspend", date(2024, 6, 1), reason="抽检水分超标"))
    rows = services.history(session, producer.id, goji.id)
    assert [r.action for r in rows] == ["approve", "suspend"]
    assert all(r.decided_by == regulator.id and r.recorded_at is not None for r in rows)
    assert services.status(session, producer.id, goji.id, date(2024, 5, 31)).in_force
    assert services.status(session, producer.id, goji.id, date(2024, 6, 1)).state == rules.SUSPENDED


def test_producer_outside_protected_towns_cannot_be_approved(session, regulator):
    producer = factories.ProducerFactory(town_code="640521206")  # 太阳梁乡: in 中宁县, not protected
    with pytest.raises(Refused) as exc:
        services.decide(session, regulator, producer, factories.goji(),
                        DecisionInput("approve", date(2024, 1, 1), reference_no="X-1"))
    assert exc.value.field == "producer" and "640521206" in exc.value.message and "太阳梁乡" in exc.value.message
    assert session.exec(select(AuthorisationDecision)).all() == []


def test_producer_may_apply_for_itself_but_not_decide(session):
    producer = factories.grower()
    user = factories.producer_user(producer)
    services.decide(session, user, producer, factories.goji(), DecisionInput("apply", date(2024, 1, 1)))
    with pytest.raises(Forbidden):
        services.decide(session, user, producer, factories.goji(),
                        DecisionInput("approve", date(2024, 1, 2), reference_no="X"))


def test_producer_cannot_apply_for_another_producer(session):
    mine, other = factories.grower(), factories.grower()
    user = factories.producer_user(mine)
    with pytest.raises(NotFound):
        services.decide(session, user, other, factories.goji(), DecisionInput("apply", date(2024, 1, 1)))


def test_county_regulator_cannot_decide_in_another_county(session):
    haiyuan_regulator = factories.UserFactory(role="regulator", county_code="640522")
    producer = factories.grower()  # 中宁县
    with pytest.raises(NotFound):
        services.decide(session, haiyuan_regulator, producer, factories.goji(),
                        DecisionInput("approve", date(2024, 1, 1), reference_no="X"))


def test_decision_cannot_be_backdated_before_the_latest(session, regulator):
    producer = factories.grower()
    goji = factories.goji()
    services.decide(session, regulator, producer, goji, DecisionInput("approve", date(2024, 3, 1), reference_no="A"))
    with pytest.raises(Refused) as exc:
        services.decide(session, regulator, producer, goji,
                        DecisionInput("suspend", date(2024, 2, 1), reason="late"))
    assert exc.value.field == "effective_date"


@pytest.mark.parametrize("data,field", [
    (DecisionInput("approve", date(2024, 1, 1)), "reference_no"),
    (DecisionInput("reject", date(2024, 1, 1)), "reason"),
    (DecisionInput("approve", date(2024, 1, 1), reference_no="A", valid_until=date(2023, 1, 1)), "valid_until"),
    (DecisionInput("dance", date(2024, 1, 1)), "action"),
])
def test_incomplete_decisions_name_the_field(session, regulator, data, field):
    producer = factories.grower()
    if data.action == "reject":
        services.decide(session, regulator, producer, factories.goji(), DecisionInput("apply", date(2023, 12, 1)))
    with pytest.raises(ValidationError) as exc:
        services.decide(session, regulator, producer, factories.goji(), data)
    assert exc.value.field == field


def test_impossible_transition_is_refused_with_the_state(session, regulator):
    producer = factories.grower()
    with pytest.raises(Refused) as exc:
        services.decide(session, regulator, producer, factories.goji(),
                        DecisionInput("reinstate", date(2024, 1, 1)))
    assert exc.value.field == "action"


def test_statuses_for_many_producers_in_one_query(session, regulator):
    goji = factories.goji()
    a, b, c = factories.grower(), factories.grower(), factories.grower()
    services.decide(session, regulator, a, goji, DecisionInput("approve", date(2022, 1, 1), reference_no="A"))
    services.decide(session, regulator, b, goji, DecisionInput("approve", date(2022, 1, 1), reference_no="B"))
    services.decide(session, regulator, b, goji, DecisionInput("revoke", date(2023, 1, 1), reason="r"))
    result = services.statuses(session, goji.id, date(2023, 6, 1))
    assert result[a.id].in_force and result[b.id].state == rules.REVOKED and c.id not in result

"""A recall reaches everything made from the withdrawn batch, across owners, through the services."""
from __future__ import annotations

import pytest
from sqlmodel import select

from gi_trace.errors import Conflict, Forbidden, NotFound, Refused, ValidationError
from gi_trace.tracing import certificate, chain, recall, services, transfers, units
from gi_trace.tracing.models_recall import Recall, RecallLift, RecallMember
from tests.factories import UserFactory
from tests.factories_tracing import ARRIVED, SHIPPED

SPLIT = "2025-07-16T08:00:00+08:00"
MERGE = "2025-07-17T08:00:00+08:00"
PROCESS = "2025-07-18T08:00:00+08:00"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_LOCALE": "en"}


def family(session, grower, dealer):
    """harvest a → split a1, a2; a2 + b → merged m → powder p; a1 shipped to the dealer → received r."""
    a = grower.tested(session, 1000, 240)
    b = grower.tested(session, 1000, 240)
    a1, a2 = services.split(session, grower.user, a, [{"quantity_kg": 100}, {"quantity_kg": 100}],
                            occurred_at=SPLIT).children
    m = services.merge(session, grower.user, [(a2, None), (b, 100)], occurred_at=MERGE).children[0]
    event = grower.event(session, m, "processing", PROCESS, {"product_form": "powder", "outputs": [{"quantity_kg": 150}]})
    p = services.batch_by_code(session, event.data["to"][0])
    shipment = transfers.ship(session, grower.user, a1, to=dealer[0].code, quantity_kg=60, shipped_at=SHIPPED)
    r = transfers.receive(session, dealer[1], shipment, received_at=ARRIVED)
    return {"a": a, "b": b, "a1": a1, "a2": a2, "m": m, "p": p, "r": r}


def test_withdrawing_a_batch_recalls_exactly_it_and_everything_made_from_it(session, grower, dealer):
    f = family(session, grower, dealer)
    before = recall.reach(session, f["a"])
    assert (before.batches, before.descendants, before.owners) == (6, 5, 2)
    services.withdraw(session, grower.user, f["a"], "霉变：黄曲霉毒素超标")
    recalled = {k for k, batch in f.items() if recall.active_recall(session, batch) is not None}
    assert recalled == {"a", "a1", "a2", "m", "p", "r"}
    info = recall.recall_for(session, f["r"])
    assert info.reason == "霉变：黄曲霉毒素超标" and info.source_code == f["a"].code
    assert not info.source and not info.lifted
    assert recall.recall_for(session, f["a"]).source
    assert recall.recall_for(session, f["b"]) is None
    row = session.exec(select(Recall)).one()
    assert (row.batches, row.owners, row.by_role) == (6, 2, "producer")
    assert recall.recalled_ids(session, [b.id for b in f.values()]) == {f[k].id for k in recalled}


def test_every_recalled_batch_refuses_labels_units_shipments_certificates_and_lineage(session, grower, dealer):
    f = family(session, grower, dealer)
    shipment_before = transfers.ship(session, grower.user, f["a1"], to=dealer[0].code, quantity_kg=10,
                                     shipped_at="2025-08-12T10:00:00+08:00")
    services.withdraw(session, grower.user, f["a"], "抽检不合格")
    for key in ("a1", "a2", "m", "p"):
        batch = f[key]
        assert services.label_allowed(session, batch).code == "recalled", key
        with pytest.raises(Refused) as refused:
            units.issue_units(session, grower.user, batch, 1, 1.0)
        assert refused.value.code == "label_recalled"
    with pytest.raises(Refused):
        transfers.ship(session, grower.user, f["p"], to=dealer[0].code, quantity_kg=1, shipped_at=ARRIVED)
    with pytest.raises(Refused):
        services.split(session, dealer[1], f["r"], [{"quantity_kg": 10}], occurred_at=ARRIVED)
    with pytest.raises(Refused):
        certificate.for_shipment(session, grower.user, shipment_before.id, "https://t.example")
    with pytest.raises(Refused):
        grower.event(session, f["p"], "storage", "2025-08-20T08:00:00+08:00", {"place": "冷库"})
    assert services.label_allowed(session, f["b"]).allowed
    for batch in f.values():
        assert chain.verify_batch(session, batch).ok


def test_goods_in_transit_when_the_recall_commits_arrive_recalled(session, grower, dealer):
    a = grower.tested(session)
    shipment = transfers.ship(session, grower.user, a, to=dealer[0].code, quantity_kg=50, shipped_at=SHIPPED)
    services.withdraw(session, grower.user, a, "召回")
    arrived = transfers.receive(session, dealer[1], shipment, received_at=ARRIVED)
    assert recall.active_recall(session, arrived).source_code == a.code
    assert services.label_allowed(session, arrived).code == "recalled"


def test_a_regulator_lifts_a_recall_from_a_descendant_with_a_recorded_reason(session, grower, dealer):
    f = family(session, grower, dealer)
    services.withdraw(session, grower.user, f["a"], "抽检不合格")
    regulator = UserFactory(role="regulator", county_code="640521")
    with pytest.raises(Forbidden):
        services.lift_recall(session, grower.user, f["m"], "不含")
    with pytest.raises(NotFound):
        services.lift_recall(session, UserFactory(role="regulator", county_code="640522"), f["m"], "不含")
    with pytest.raises(ValidationError):
        services.lift_recall(session, regulator, f["m"], "  ")
    with pytest.raises(Refused):
        services.lift_recall(session, regulator, f["a"], "撤回不能解除")
    lifts = services.lift_recall(session, regulator, f["m"], "检测证明不含召回批次原料")
    assert [x.reason for x in lifts] == ["检测证明不含召回批次原料"]
    info = recall.recall_for(session, f["m"])
    assert info.lifted and info.lift_reason == "检测证明不含召回批次原料"
    assert recall.active_recall(session, f["m"]) is None
    assert services.label_allowed(session, f["m"]).allowed
    assert recall.active_recall(session, f["p"]) is not None  # made from m: lifted only on its own evidence
    with pytest.raises(Conflict):
        services.lift_recall(session, regulator, f["m"], "again")
    # Nothing was edited or deleted: the membership is still there, the lift is a new row.
    assert session.exec(select(RecallMember).where(RecallMember.batch_id == f["m"].id)).one()
    assert session.exec(select(RecallLift)).one().lifted_by == regulator.id


def test_a_regulator_withdrawal_recalls_across_owners(session, grower, dealer):
    f = family(session, grower, dealer)
    regulator = UserFactory(role="regulator", county_code="640521")
    services.withdraw(session, regulator, f["a1"], "抽检不合格")
    assert recall.active_recall(session, f["r"]) is not None
    assert recall.active_recall(session, f["a"]) is None and recall.active_recall(session, f["m"]) is None

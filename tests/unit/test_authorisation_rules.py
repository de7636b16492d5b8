from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gi_trace.authorisation import rules


@dataclass
class D:
    action: str
    effective_date: date
    valid_until: Optional[date] = None
    reference_no: str = ""
    reason: str = ""
    id: int = 0


def seq(*items):
    return [D(a, d, id=i + 1, **kw) for i, (a, d, kw) in enumerate(items)]


def test_no_decisions_means_not_applied():
    assert rules.status_on([], date(2024, 1, 1)).state == rules.NONE


def test_approval_applies_from_its_effective_date_that_day_included():
    history = seq(("approve", date(2024, 3, 1), {}))
    assert rules.status_on(history, date(2024, 2, 29)).state == rules.NONE
    assert rules.status_on(history, date(2024, 3, 1)).state == rules.AUTHORISED


def test_approval_with_expiry_is_in_force_through_that_date():
    history = seq(("approve", date(2024, 1, 1), {"valid_until": date(2024, 12, 31)}))
    assert rules.status_on(history, date(2024, 12, 31)).in_force
    status = rules.status_on(history, date(2025, 1, 1))
    assert status.state == rules.EXPIRED and status.since == date(2025, 1, 1)


def test_suspended_then_reinstated():
    history = seq(("apply", date(2022, 1, 1), {}), ("approve", date(2022, 2, 1), {}),
                  ("suspend", date(2023, 5, 1), {"reason": "failed test"}), ("reinstate", date(2023, 8, 1), {}))
    assert rules.status_on(history, date(2023, 5, 1)).state == rules.SUSPENDED
    assert rules.status_on(history, date(2023, 7, 31)).reason == "failed test"
    back = rules.status_on(history, date(2023, 8, 1))
    assert back.in_force and back.authorised_since == date(2022, 2, 1)


def test_revoked_is_final_until_a_new_application():
    history = seq(("approve", date(2022, 1, 1), {}), ("revoke", date(2023, 1, 1), {"reason": "fraud"}))
    assert rules.status_on(history, date(2030, 1, 1)).state == rules.REVOKED
    with pytest.raises(rules.InvalidTransition):
        rules.next_status(rules.status_on(history, date(2023, 2, 1)), D("approve", date(2023, 2, 1)))


def test_suspension_keeps_the_expiry_and_expires_while_suspended():
    history = seq(("approve", date(2022, 1, 1), {"valid_until": date(2023, 12, 31)}),
                  ("suspend", date(2023, 6, 1), {}))
    assert rules.status_on(history, date(2024, 1, 1)).state == rules.EXPIRED


@pytest.mark.parametrize("state,action", [
    (rules.NONE, "suspend"), (rules.NONE, "reinstate"), (rules.NONE, "revoke"), (rules.PENDING, "suspend"),
    (rules.AUTHORISED, "reinstate"), (rules.SUSPENDED, "suspend"), (rules.REVOKED, "reinstate"),
    (rules.REJECTED, "suspend"),
])
def test_impossible_transitions_are_refused(state, action):
    with pytest.raises(rules.InvalidTransition):
        rules.next_status(rules.Status(state), D(action, date(2024, 1, 1)))


def _valid_histories():
    """Random sequences of decisions that the rules accept, as (decisions, states after each)."""

    @st.composite
    def build(draw):
        status = rules.Status(rules.NONE)
        day = date(2021, 1, 1)
        history, states = [], []
        for i in range(draw(st.integers(0, 12))):
            day = day + timedelta(days=draw(st.integers(0, 200)))
            allowed = rules.ALLOWED[rules.status_on(history, day).state]
            action = draw(st.sampled_from(allowed))
            valid_until = None
            if action == "approve" and draw(st.booleans()):
                valid_until = day + timedelta(days=draw(st.integers(0, 800)))
            d = D(action, day, valid_until=valid_until, id=i + 1)
            status = rules.next_status(rules.status_on(history, day), d)
            history.append(d)
            states.append(status.state)
        return history, states

    return build()


@given(_valid_histories(), st.integers(0, 4000))
def test_status_is_always_a_known_state_and_matches_the_last_decision(pair, offset):
    history, states = pair
    on = date(2021, 1, 1) + timedelta(days=offset)
    status = rules.status_on(history, on)
    assert status.state in rules.STATES
    applied = [d for d in history if d.effective_date <= on]
    if not applied:
        assert status.state == rules.NONE
    else:
        last_state = states[len(applied) - 1]
        expired = (status.state == rules.EXPIRED and status.valid_until is not None and on > status.valid_until)
        assert status.state == last_state or expired
    # in force exactly when authorised: never while suspended, revoked or past the expiry
    if status.in_force and status.valid_until is not None:
        assert on <= status.valid_until


@given(_valid_histories(), st.integers(0, 4000))
def test_status_after_last_decision_matches_the_whole_history(pair, offset):
    """The bulk drill-down's shortcut (last decision + latest approval's expiry) agrees with status_on."""
    history, _states = pair
    on = date(2021, 1, 1) + timedelta(days=offset)
    applied = sorted((d for d in history if d.effective_date <= on), key=rules.sort_key)
    approvals = [d for d in applied if d.action == "approve"]
    last = applied[-1] if applied else None
    valid_until = approvals[-1].valid_until if approvals else None
    state = rules.state_after_last(last.action if last else None, valid_until, on)
    since = rules.expired_since(valid_until) if state == rules.EXPIRED else (last.effective_date if last else None)
    full = rules.status_on(history, on)
    assert (state, since) == (full.state, full.since)


# --- properties added with the security work (issue 6) --------------------------------------

@given(_valid_histories(), st.integers(0, 4000), st.randoms(use_true_random=False))
def test_status_does_not_depend_on_the_order_decisions_are_listed(pair, offset, rnd):
    history, _states = pair
    on = date(2021, 1, 1) + timedelta(days=offset)
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert rules.status_on(shuffled, on) == rules.status_on(history, on)


@given(_valid_histories(), st.integers(0, 4000))
def test_later_decisions_never_change_the_status_on_an_earlier_date(pair, offset):
    history, _states = pair
    on = date(2021, 1, 1) + timedelta(days=offset)
    assert rules.status_on(history, on) == rules.status_on([d for d in history if d.effective_date <= on], on)


@given(_valid_histories(), st.integers(0, 4000))
def test_in_force_only_after_an_approval_and_within_its_run(pair, offset):
    history, _states = pair
    on = date(2021, 1, 1) + timedelta(days=offset)
    status = rules.status_on(history, on)
    if status.in_force:
        approvals = [d for d in history if d.action == "approve" and d.effective_date <= on]
        assert approvals
        assert status.authorised_since is not None and status.authorised_since <= status.since <= on
        assert status.valid_until is None or on <= status.valid_until

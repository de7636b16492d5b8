"""Status of an authorisation on a date, derived from its decision history (pure, no database).

A decision applies from its effective date, that day included; an approval with a `valid_until`
date is in force through that date and expired from the day after.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Optional, Protocol

ACTIONS = ("apply", "approve", "reject", "suspend", "reinstate", "revoke")

# Coded reasons for rejecting, suspending or revoking (as commonly coded in GI supervision).
REASON_CODES = ("product_standard", "outside_area", "unused_two_years", "refused_inspection",
                "unauthorised_transfer", "other")
REASONED_ACTIONS = ("reject", "suspend", "revoke")
# Kinds of producer that grow: their evidence is a plot inside the protected towns.
GROWER_KINDS = ("household", "family_farm", "cooperative")
RENEWAL_NOTICE_DAYS = 60

# States
NONE = "none"
PENDING = "pending"
AUTHORISED = "authorised"
REJECTED = "rejected"
SUSPENDED = "suspended"
REVOKED = "revoked"
EXPIRED = "expired"
STATES = (NONE, PENDING, AUTHORISED, REJECTED, SUSPENDED, REVOKED, EXPIRED)

# Which action may follow which state. Revoked, rejected and expired users may apply again.
ALLOWED: dict[str, tuple[str, ...]] = {
    NONE: ("apply", "approve"),
    PENDING: ("approve", "reject"),
    AUTHORISED: ("suspend", "revoke", "approve"),  # approve again = renewal of an expiry
    SUSPENDED: ("reinstate", "revoke"),
    REJECTED: ("apply", "approve"),
    REVOKED: ("apply",),
    EXPIRED: ("apply", "approve"),
}

_RESULT = {
    "apply": PENDING,
    "approve": AUTHORISED,
    "reject": REJECTED,
    "suspend": SUSPENDED,
    "reinstate": AUTHORISED,
    "revoke": REVOKED,
}


class DecisionLike(Protocol):
    action: str
    effective_date: date
    valid_until: Optional[date]
    reference_no: str
    reason: str


@dataclass(frozen=True)
class Status:
    """Where an authorisation stands on a date."""

    state: str
    since: Optional[date] = None  # effective date of the decision that set the state
    valid_until: Optional[date] = None
    reference_no: str = ""
    reason: str = ""
    authorised_since: Optional[date] = None  # start of the current run of authorisation

    @property
    def in_force(self) -> bool:
        """True when the producer may use the GI mark."""
        return self.state == AUTHORISED


class InvalidTransition(ValueError):
    """A decision that cannot follow the current state."""

    def __init__(self, state: str, action: str):
        super().__init__(f"{action} is not allowed when the authorisation is {state}")
        self.state = state
        self.action = action


def _expires(state: str, valid_until: Optional[date], on: date) -> bool:
    """An authorisation (in force or suspended) expires the day after its valid-until date."""
    return valid_until is not None and on > valid_until and state in (AUTHORISED, SUSPENDED)


def expired_since(valid_until: date) -> date:
    return valid_until + timedelta(days=1)


def _expire(status: Status, on: date) -> Status:
    if _expires(status.state, status.valid_until, on):
        return Status(EXPIRED, since=expired_since(status.valid_until), valid_until=status.valid_until,
                      reference_no=status.reference_no)
    return status


def next_status(current: Status, decision: DecisionLike) -> Status:
    """Apply one decision to a status, or raise InvalidTransition."""
    current = _expire(current, decision.effective_date)
    if decision.action not in ACTIONS:
        raise ValueError(f"unknown action {decision.action!r}")
    if decision.action not in ALLOWED[current.state]:
        raise InvalidTransition(current.state, decision.action)
    state = _RESULT[decision.action]
    if decision.action == "approve":
        return Status(AUTHORISED, since=decision.effective_date, valid_until=decision.valid_until,
                      reference_no=decision.reference_no, reason=decision.reason,
                      authorised_since=decision.effective_date)
    if decision.action in ("suspend", "reinstate"):
        return Status(state, since=decision.effective_date, valid_until=current.valid_until,
                      reference_no=current.reference_no, reason=decision.reason,
                      authorised_since=current.authorised_since)
    return Status(state, since=decision.effective_date, reason=decision.reason,
                  reference_no=decision.reference_no or current.reference_no)


def sort_key(decision) -> tuple:
    """Decisions apply in effective-date order; same-day decisions in the order recorded."""
    return (decision.effective_date, getattr(decision, "id", 0) or 0)


def state_after_last(last_action: Optional[str], valid_until: Optional[date], on: date) -> str:
    """The state on `on` from the last decision up to it and the latest approval's expiry, without
    folding the whole history: for a valid history (every decision passed next_status when it was
    recorded) it is status_on(...).state; since is the last decision's date, or expired_since(valid_until)
    when expired. The bulk drill-down reads these facts in SQL (a plain function: it runs per producer)."""
    if last_action is None:
        return NONE
    state = _RESULT[last_action]
    return EXPIRED if _expires(state, valid_until, on) else state


def status_on(decisions: Iterable[DecisionLike], on: date) -> Status:
    """The status on `on`, from decisions in effective-date order (later records win ties)."""
    status = Status(NONE)
    for decision in sorted(decisions, key=sort_key):
        if decision.effective_date > on:
            break
        status = next_status(status, decision)
    return _expire(status, on)

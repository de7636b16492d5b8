"""Enforcement cases (执法案件): opened with the party and the finding, closed once with the penalties.

Plain functions over a session; the request or command commits. A case is evidence: it is opened once,
and closing fills the closing date, fine, confiscations and transfer to the police once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import Conflict, Forbidden, NotFound, ValidationError
from gi_trace.oversight.models import EnforcementCase
from gi_trace.registry.models import Producer, Region

MAX_FINE_YUAN = 1e9


@dataclass
class CaseInput:
    case_no: str
    party: str
    finding: str
    opened_on: Optional[date]
    county_code: str = ""
    producer_code: str = ""  # credit code or registry number when the party is on the register
    product_id: Optional[int] = None


@dataclass
class ClosingInput:
    closed_on: Optional[date]
    fine_yuan: float = 0.0
    confiscated: str = ""
    confiscated_value_yuan: float = 0.0
    transferred_to_police: bool = False


def _require_regulator(user: User, county_code: Optional[str]) -> None:
    if user.role not in ("admin", "regulator"):
        raise Forbidden(_("Only regulators can do this."))
    if user.role == "regulator" and user.county_code and county_code != user.county_code:
        raise Forbidden(_("You can only see your own county."), field="county_code")


def open_case(session: Session, user: User, data: CaseInput, *, today: date) -> EnforcementCase:
    """Open (立案) a case; the party may be a registered producer (found by code) or a name only."""
    case_no = (data.case_no or "").strip()
    if not case_no or len(case_no) > 64:
        raise ValidationError(_("Give the case number (at most 64 characters)."), field="case_no")
    producer = None
    code = (data.producer_code or "").strip().upper()
    if code:
        producer = session.exec(select(Producer).where(
            (Producer.uscc == code) | (Producer.registry_no == (data.producer_code or "").strip()))).first()
        if producer is None:
            raise ValidationError(_("No producer has the code %(code)s.", code=code), field="producer_code")
    party = (data.party or "").strip() or (producer.name if producer else "")
    if not party or len(party) > 200:
        raise ValidationError(_("Name the party (at most 200 characters)."), field="party")
    finding = (data.finding or "").strip()
    if not finding or len(finding) > 4000:
        raise ValidationError(_("Say what was found (at most 4000 characters)."), field="finding")
    if data.opened_on is None:
        raise ValidationError(_("A date is required (YYYY-MM-DD)."), field="opened_on")
    if data.opened_on > today:
        raise ValidationError(_("The date is in the future."), field="opened_on")
    county = (data.county_code or "").strip() or (producer.county_code if producer else None)
    if county is not None:
        region = session.get(Region, county)
        if region is None or region.level != "county":
            raise ValidationError(_("Unknown county code %(code)s.", code=county), field="county_code")
    _require_regulator(user, county)
    if session.exec(select(EnforcementCase.id).where(EnforcementCase.case_no == case_no)).first() is not None:
        raise ValidationError(_("A case with this number is already recorded."), field="case_no")
    case = EnforcementCase(case_no=case_no, party=party, finding=finding, opened_on=data.opened_on,
                           county_code=county, producer_id=producer.id if producer else None,
                           product_id=data.product_id, recorded_by=user.id)
    session.add(case)
    session.flush()
    return case


def close_case(session: Session, user: User, case: EnforcementCase, data: ClosingInput, *,
               today: date) -> EnforcementCase:
    """Close (结案) a case once, with its penalties."""
    _require_regulator(user, case.county_code)
    if case.closed_on is not None:
        raise Conflict(_("This case is already closed."))
    if data.closed_on is None:
        raise ValidationError(_("A date is required (YYYY-MM-DD)."), field="closed_on")
    if data.closed_on < case.opened_on:
        raise ValidationError(_("A case cannot close before it was opened."), field="closed_on")
    if data.closed_on > today:
        raise ValidationError(_("The date is in the future."), field="closed_on")
    for name, value in (("fine_yuan", data.fine_yuan), ("confiscated_value_yuan", data.confiscated_value_yuan)):
        if value is None or not 0 <= value <= MAX_FINE_YUAN:
            raise ValidationError(_("Give an amount in yuan, zero or more."), field=name)
    if len(data.confiscated or "") > 500:
        raise ValidationError(_("Longer than %(n)s characters.", n=500), field="confiscated")
    case.closed_on = data.closed_on
    case.fine_yuan = float(data.fine_yuan or 0)
    case.confiscated = (data.confiscated or "").strip()
    case.confiscated_value_yuan = float(data.confiscated_value_yuan or 0)
    case.transferred_to_police = bool(data.transferred_to_police)
    case.closed_by = user.id
    session.add(case)
    session.flush()
    return case


def get_case(session: Session, user: User, case_id: int) -> EnforcementCase:
    case = session.get(EnforcementCase, case_id)
    if case is None or (user.role == "regulator" and user.county_code and case.county_code != user.county_code):
        raise NotFound(_("No such case."))
    return case


def list_cases(session: Session, user: User) -> list[EnforcementCase]:
    """Cases newest first; a county regulator sees its county's."""
    query = select(EnforcementCase).order_by(EnforcementCase.opened_on.desc(), EnforcementCase.id.desc())
    if user.role == "regulator" and user.county_code:
        query = query.where(EnforcementCase.county_code == user.county_code)
    return list(session.exec(query).all())

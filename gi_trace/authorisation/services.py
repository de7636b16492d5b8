"""Deciding on authorisations and reading their status. Services never commit."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Optional

from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from gi_trace import formatting as fmt
from gi_trace.accounts.models import User
from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.errors import Conflict, Forbidden, Refused, ValidationError
from gi_trace.registry.models import Plot, Producer, Product
from gi_trace.registry.services import (protected_towns, region_name, require_producer_visible,
                                        require_regulator_scope)
from gi_trace.timeutil import local_today

REGULATOR_ACTIONS = ("approve", "reject", "suspend", "reinstate", "revoke")


@dataclass
class DecisionInput:
    action: str
    effective_date: date
    reference_no: str = ""
    valid_until: Optional[date] = None
    reason: str = ""
    reason_code: str = ""
    contract_no: str = ""
    notice_no: str = ""
    standard: str = ""
    test_report_no: str = ""
    sources: str = ""


def history(session: Session, producer_id: int, product_id: int) -> list[AuthorisationDecision]:
    """Every decision on one producer's authorisation for one product, in the order they apply."""
    rows = session.exec(select(AuthorisationDecision)
                        .where(AuthorisationDecision.producer_id == producer_id,
                               AuthorisationDecision.product_id == product_id)
                        .order_by(AuthorisationDecision.effective_date, AuthorisationDecision.id)).all()
    return list(rows)


def status(session: Session, producer_id: int, product_id: int, on: Optional[date] = None) -> rules.Status:
    """The status on a date (today, in local time, by default)."""
    return rules.status_on(history(session, producer_id, product_id), on or local_today())


def statuses(session: Session, product_id: int, on: date,
             producer_ids: Optional[Iterable[int]] = None) -> dict[int, rules.Status]:
    """Status on a date for many producers at once, from one query."""
    # Plain column rows, not ORM objects: the rules only read these fields, and this is ~3x faster
    # on the public register, which folds every producer's history on each request.
    d = AuthorisationDecision
    query = select(d.producer_id, d.action, d.effective_date, d.valid_until, d.reference_no, d.reason, d.id).where(
        d.product_id == product_id, d.effective_date <= on)
    if producer_ids is not None:
        ids = list(producer_ids)
        if not ids:
            return {}
        query = query.where(AuthorisationDecision.producer_id.in_(ids))
    grouped: dict[int, list] = defaultdict(list)
    for row in session.exec(query.order_by(AuthorisationDecision.effective_date, AuthorisationDecision.id)).all():
        grouped[row.producer_id].append(row)
    return {pid: rules.status_on(rows, on) for pid, rows in grouped.items()}


def check_decision(user: User, producer: Producer, product: Product, towns: set[str],
                   existing: list, data: DecisionInput, *, town_name: str = "") -> None:
    """Every rule a new decision must pass; raises with a message and field. Pure (`town_name`: the producer's
    town as people call it, for the message)."""
    if data.action not in rules.ACTIONS:
        raise ValidationError(_("Unknown action %(action)s.", action=data.action), field="action")
    if user.role == "producer":
        if data.action != "apply":
            raise Forbidden(_("Producers can only apply; regulators decide."))
        if user.producer_id != producer.id:
            raise Forbidden(_("You can only apply for your own business."))
    else:
        require_regulator_scope(user, producer.county_code)
    if data.valid_until is not None:
        if data.action != "approve":
            raise ValidationError(_("Only an approval can have an expiry date."), field="valid_until")
        if data.valid_until < data.effective_date:
            raise ValidationError(_("The expiry date is before the effective date."), field="valid_until")
    if data.action in ("approve", "reinstate") and producer.town_code not in towns:
        raise Refused(_("The producer's registered base (town %(town)s) is outside the protected area of "
                        "%(product)s; it cannot be authorised.",
                        town=f"{town_name} {producer.town_code}".strip(), product=fmt.name(product)),
                      field="producer")
    if data.reason_code and data.reason_code not in rules.REASON_CODES:
        raise ValidationError(_("Unknown reason code %(code)s.", code=data.reason_code), field="reason_code")
    if data.reason_code and data.action not in rules.REASONED_ACTIONS:
        raise ValidationError(_("Only a rejection, suspension or revocation has a reason code."), field="reason_code")
    if data.action in rules.REASONED_ACTIONS and data.reason_code in ("", "other") and not data.reason.strip():
        raise ValidationError(_("Give the reason for this decision."), field="reason")
    if data.action == "approve" and not data.reference_no.strip():
        raise ValidationError(_("An approval needs its reference number."), field="reference_no")
    if existing:
        last = max(d.effective_date for d in existing)
        if data.effective_date < last:
            raise Refused(_("A decision cannot take effect before the latest decision (%(date)s); record a new "
                            "decision instead.", date=fmt.day(last)), field="effective_date")
    current = rules.status_on(existing, data.effective_date)
    try:
        rules.next_status(current, data)
    except rules.InvalidTransition:
        raise Refused(_("This decision is not possible while the authorisation is %(state)s.",
                        state=state_label(current.state)), field="action") from None


def check_evidence(producer: Producer, product: Product, towns: set[str], plot_towns: set[str],
                   data: DecisionInput) -> None:
    """An approval's evidence (pure): a grower needs a plot inside the protected towns; a processor or trader
    without one declares where its raw material comes from. Raises Refused naming the field."""
    if data.action != "approve" or plot_towns & towns:
        return
    if producer.kind in rules.GROWER_KINDS:
        raise Refused(_("%(name)s has no plot inside the protected towns of %(product)s: a grower without one "
                        "cannot be approved. Record its plots first.", name=producer.name,
                        product=product.name_zh), field="plots")
    if not data.sources.strip():
        raise Refused(_("%(name)s has no plot inside the protected towns: declare where its raw material comes "
                        "from (suppliers and their towns).", name=producer.name), field="sources")


def default_valid_until(product: Product, effective_date: date) -> Optional[date]:
    """The end of the product's default term from an approval's effective date (None: no default term)."""
    years = product.authorisation_term_years
    if not years:
        return None
    try:
        end = effective_date.replace(year=effective_date.year + years)
    except ValueError:  # 29 February
        end = effective_date.replace(year=effective_date.year + years, day=28)
    return end - timedelta(days=1)


def renewals_due(session: Session, user: User, products: list[Product], today: date,
                 days: int = rules.RENEWAL_NOTICE_DAYS) -> list[tuple[Producer, Product, rules.Status]]:
    """Authorisations in force whose term ends within `days` (the regulator's renewal reminders), soonest first."""
    county = user.county_code if user.role == "regulator" else None
    horizon = today + timedelta(days=days)
    due = []
    for product in products:
        found = {pid: s for pid, s in statuses(session, product.id, today).items()
                 if s.in_force and s.valid_until is not None and s.valid_until <= horizon}
        if not found:
            continue
        query = select(Producer).where(Producer.id.in_(list(found)))
        if county:
            query = query.where(Producer.county_code == county)
        due.extend((p, product, found[p.id]) for p in session.exec(query).all())
    due.sort(key=lambda row: (row[2].valid_until, row[0].id))
    return due


def lock_authorisations(session: Session, producer: Producer) -> None:
    """Serialise decisions on one producer: two regulators deciding at once must not both pass the
    rules against the same history. PostgreSQL: the producer row's lock (the second waits, then
    reads the first's decision). SQLite: a no-op write takes the database's write lock before the
    history is read; a transaction whose snapshot is already stale gets a retryable Conflict."""
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(Producer.id).where(Producer.id == producer.id).with_for_update())
        else:
            session.execute(update(Producer).where(Producer.id == producer.id).values(id=Producer.id)
                            .execution_options(synchronize_session=False))
    except OperationalError:
        raise Conflict(_("Another decision on this authorisation was recorded at the same time; please try "
                         "again.")) from None


def decide(session: Session, user: User, producer: Producer, product: Product, data: DecisionInput,
           *, source: str = "web", inspection_id: Optional[int] = None) -> AuthorisationDecision:
    """Record a decision after checking every rule; earlier decisions are never changed."""
    require_producer_visible(user, producer)
    lock_authorisations(session, producer)
    existing = history(session, producer.id, product.id)
    towns = protected_towns(session, product.id)
    check_decision(user, producer, product, towns, existing, data,
                   town_name=region_name(session, producer.town_code))
    plot_towns = set(session.exec(select(Plot.town_code).where(Plot.producer_id == producer.id)).all())
    check_evidence(producer, product, towns, plot_towns, data)
    decision = AuthorisationDecision(
        producer_id=producer.id, product_id=product.id, action=data.action, effective_date=data.effective_date,
        reference_no=data.reference_no.strip(), valid_until=data.valid_until, reason=data.reason.strip(),
        reason_code=data.reason_code or ("other" if data.action in rules.REASONED_ACTIONS else ""),
        contract_no=data.contract_no.strip(), notice_no=data.notice_no.strip(), standard=data.standard.strip(),
        test_report_no=data.test_report_no.strip(), sources=data.sources.strip(),
        decided_by=user.id, source=source, inspection_id=inspection_id,
    )
    session.add(decision)
    session.flush()
    return decision


def state_label(state: str) -> str:
    """The user-facing name of a state."""
    labels = {
        rules.NONE: _("not applied"),
        rules.PENDING: _("pending"),
        rules.AUTHORISED: _("authorised"),
        rules.REJECTED: _("rejected"),
        rules.SUSPENDED: _("suspended"),
        rules.REVOKED: _("revoked"),
        rules.EXPIRED: _("expired"),
    }
    return labels.get(state, state)


def reason_code_label(code: str) -> str:
    """The words of a coded reason."""
    labels = {
        "product_standard": _("product does not meet the standard"),
        "outside_area": _("raw material from outside the protected area"),
        "unused_two_years": _("not used for two consecutive years"),
        "refused_inspection": _("refused supervision and inspection"),
        "unauthorised_transfer": _("transferred or licensed to others without permission"),
        "other": _("other"),
    }
    return labels.get(code, code)


def action_label(action: str) -> str:
    labels = {
        "apply": _("applied"),
        "approve": _("approved"),
        "reject": _("rejected"),
        "suspend": _("suspended"),
        "reinstate": _("reinstated"),
        "revoke": _("revoked"),
    }
    return labels.get(action, action)

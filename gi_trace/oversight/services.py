"""Supervision services: the complaint queue and inspections. Plain functions over a session; no commits.

Complaints are filed with gi_trace.scan.complaints.file_complaint (the scan page, or staff here).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import func
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.authorisation.services import DecisionInput, decide
from gi_trace.errors import NotFound, ValidationError
from gi_trace.oversight.models import INSPECTION_RESULTS, Inspection
from gi_trace.registry.models import Producer
from gi_trace.registry.services import get_product, producer_by_code, require_producer_visible, require_regulator_scope
from gi_trace.scan.complaints import MAX_TEXT, file_complaint
from gi_trace.scan.models import COMPLAINT_STATUSES, Complaint, ComplaintUpdate
from gi_trace.timeutil import local_today
from gi_trace.tracing.models import Batch
from gi_trace.tracing.units import find_code
from gi_trace.types import utcnow


def status_label(status: str) -> str:
    """The user-facing name of a complaint status."""
    labels = {"new": _("new"), "investigating": _("investigating"), "closed": _("closed")}
    return labels.get(status, status)


def get_complaint(session: Session, complaint_id: int) -> Complaint:
    """The complaint, or NotFound."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(_("No such complaint."), field="complaint")
    return complaint


def complaint_history(session: Session, complaint_id: int) -> list[ComplaintUpdate]:
    """Every change to a complaint, oldest first."""
    return list(session.exec(select(ComplaintUpdate).where(ComplaintUpdate.complaint_id == complaint_id)
                             .order_by(ComplaintUpdate.at, ComplaintUpdate.id)).all())


# --- the complaint queue ----------------------------------------------------------------------

# Which status may follow which; a closed complaint may be reopened for investigation.
COMPLAINT_TRANSITIONS = {
    "new": ("investigating", "closed"),
    "investigating": ("closed",),
    "closed": ("investigating",),
}


def _producer_county(session: Session, producer_id: Optional[int]) -> Optional[str]:
    if producer_id is None:
        return None
    producer = session.get(Producer, producer_id)
    return producer.county_code if producer else None


def can_see_complaint(session: Session, user: Optional[User], complaint: Complaint) -> bool:
    """City regulators and admins see every complaint; a county regulator those about its county's producers."""
    if user is None or user.role not in ("regulator", "admin"):
        return False
    if user.role == "admin" or user.county_code is None:
        return True
    return _producer_county(session, complaint.producer_id) == user.county_code


def visible_complaint(session: Session, user: User, complaint_id: int) -> Complaint:
    """The complaint if the user may see it, else NotFound (do not reveal that it exists)."""
    complaint = get_complaint(session, complaint_id)
    if not can_see_complaint(session, user, complaint):
        raise NotFound(_("No such complaint."), field="complaint")
    return complaint


def complaints_query(user: User, status: Optional[str] = None):
    """Complaints a user may see, newest first (a SQL select of Complaint)."""
    query = select(Complaint)
    if user.role == "regulator" and user.county_code is not None:
        query = query.join(Producer, Producer.id == Complaint.producer_id).where(
            Producer.county_code == user.county_code)
    if status:
        query = query.where(Complaint.status == status)
    return query.order_by(Complaint.created_at.desc(), Complaint.id.desc())


def list_complaints(session: Session, user: User, status: Optional[str] = None, *, offset: int = 0,
                    limit: int = 50) -> tuple[int, list[Complaint]]:
    """(total, one page) of the complaints the user may see."""
    if status and status not in COMPLAINT_STATUSES:
        raise ValidationError(_("Unknown status."), field="status")
    query = complaints_query(user, status)
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    return total, list(session.exec(query.offset(offset).limit(limit)).all())


def assignable_users(session: Session, user: User, county_code: Optional[str] = None) -> list[User]:
    """Regulators and admins a complaint can be assigned to (for a county: city-wide staff and that county's)."""
    query = select(User).where(User.role.in_(("regulator", "admin")), User.is_active.is_(True))
    if county_code is not None:
        query = query.where((User.county_code.is_(None)) | (User.county_code == county_code))
    elif user.role == "regulator" and user.county_code is not None:
        query = query.where((User.county_code.is_(None)) | (User.county_code == user.county_code))
    return list(session.exec(query.order_by(User.username)).all())


def update_complaint(session: Session, user: User, complaint: Complaint, *, status: Optional[str] = None,
                     assignee_id: Optional[int] = None, note: str = "", resolution: str = "") -> ComplaintUpdate:
    """Change a complaint's status, assignee or resolution; the change is kept as a history row."""
    if not can_see_complaint(session, user, complaint):
        raise NotFound(_("No such complaint."), field="complaint")
    status = status or complaint.status
    note, resolution = (note or "").strip(), (resolution or "").strip()
    if status not in COMPLAINT_STATUSES:
        raise ValidationError(_("Unknown status."), field="status")
    if status != complaint.status and status not in COMPLAINT_TRANSITIONS[complaint.status]:
        raise ValidationError(_("A complaint cannot go from %(a)s to %(b)s.", a=status_label(complaint.status),
                                b=status_label(status)), field="status")
    if len(note) > MAX_TEXT:
        raise ValidationError(_("The note is longer than %(n)s characters.", n=MAX_TEXT), field="note")
    if len(resolution) > MAX_TEXT:
        raise ValidationError(_("The resolution is longer than %(n)s characters.", n=MAX_TEXT), field="resolution")
    if status == "closed" and complaint.status != "closed" and not resolution:
        raise ValidationError(_("Say how the complaint was resolved before closing it."), field="resolution")
    if status == "investigating" and complaint.status == "closed" and not note:
        raise ValidationError(_("Give the reason for reopening the complaint."), field="note")
    if assignee_id is not None and assignee_id != complaint.assignee_id:
        allowed = {u.id for u in assignable_users(session, user, _producer_county(session, complaint.producer_id))}
        if assignee_id not in allowed:
            raise ValidationError(_("Choose a regulator who may handle this complaint."), field="assignee_id")
    changed_assignee = assignee_id is not None and assignee_id != complaint.assignee_id
    if status == complaint.status and not changed_assignee and not note and (
            not resolution or resolution == complaint.resolution):
        raise ValidationError(_("Nothing to change: choose a status or assignee, or write a note."), field="note")
    now = utcnow()
    update = ComplaintUpdate(complaint_id=complaint.id, from_status=complaint.status, to_status=status,
                             assignee_id=assignee_id if changed_assignee else None,
                             note="\n".join(x for x in (note, resolution and _("Resolution: %(text)s", text=resolution))
                                            if x),
                             by_user_id=user.id, at=now)
    session.add(update)
    if changed_assignee:
        complaint.assignee_id = assignee_id
    if resolution:
        complaint.resolution = resolution
    if status != complaint.status:
        complaint.closed_at = now if status == "closed" else None
        complaint.status = status
    complaint.updated_at = now
    session.add(complaint)
    session.flush()
    return update


def resolve_code(session: Session, code: str) -> tuple[Optional[int], Optional[int]]:
    """(batch id, producer id) of a trace or unit code, when tracing knows it; (None, None) otherwise."""
    if not (code or "").strip():
        return None, None
    try:
        batch, _unit = find_code(session, code)
    except NotFound:
        return None, None
    return batch.id, batch.producer_id


def enter_complaint(session: Session, user: User, *, category: str, text: str, contact: str = "", code: str = "",
                    producer_code: str = "", bought: Optional[dict[str, str]] = None) -> Complaint:
    """A complaint entered by staff (phone, letter, market check), linked to the code's batch and producer."""
    batch_id, producer_id = resolve_code(session, code)
    if producer_code.strip():
        producer = producer_by_code(session, producer_code)
        require_producer_visible(user, producer)
        producer_id = producer.id
    elif producer_id is not None:
        require_producer_visible(user, session.get(Producer, producer_id))
    elif user.role == "regulator" and user.county_code is not None:
        raise ValidationError(_("Name the producer (a county regulator files complaints about its county's "
                                "producers)."), field="producer_code")
    return file_complaint(session, source="staff", category=category, text=text, contact=contact,
                          code=code.strip().upper(), batch_id=batch_id, producer_id=producer_id, user=user,
                          bought=bought)


# --- inspections ------------------------------------------------------------------------------

@dataclass
class InspectionInput:
    """What an inspector records; `suspend` asks to suspend the authorisation in the same step."""

    producer_code: str
    inspected_on: date
    scope: str
    result: str
    findings: str = ""
    product_slug: str = ""
    suspend: bool = False
    suspension_reason: str = ""


def record_inspection(session: Session, user: User, data: InspectionInput, *,
                      today: Optional[date] = None) -> Inspection:
    """Record an inspection; a failed one may suspend the producer's authorisation in the same step.

    The suspension is one decision through authorisation.services.decide (with the reason and the
    inspection's id), effective today, the day it is decided; if it is refused, the caller rolls
    back and nothing is recorded.
    """
    if not (data.producer_code or "").strip():
        raise ValidationError(_("Give the producer's credit code or registry number."), field="producer_code")
    producer = producer_by_code(session, data.producer_code)
    require_producer_visible(user, producer)
    require_regulator_scope(user, producer.county_code)
    today = today or local_today()
    if data.inspected_on is None:
        raise ValidationError(_("Give the date of the inspection."), field="inspected_on")
    if data.inspected_on > today:
        raise ValidationError(_("The inspection date is in the future."), field="inspected_on")
    scope = (data.scope or "").strip()
    if not scope:
        raise ValidationError(_("Say what was inspected."), field="scope")
    if len(scope) > 300:
        raise ValidationError(_("The scope is longer than 300 characters."), field="scope")
    if data.result not in INSPECTION_RESULTS:
        raise ValidationError(_("Choose pass or fail."), field="result")
    findings = (data.findings or "").strip()
    if len(findings) > MAX_TEXT:
        raise ValidationError(_("The findings are longer than %(n)s characters.", n=MAX_TEXT), field="findings")
    if data.result == "fail" and not findings:
        raise ValidationError(_("Record the findings of a failed inspection."), field="findings")
    product = get_product(session, data.product_slug) if (data.product_slug or "").strip() else None
    if data.suspend:
        if data.result != "fail":
            raise ValidationError(_("Only a failed inspection can suspend an authorisation."), field="suspend")
        if product is None:
            raise ValidationError(_("Choose the product whose authorisation is suspended."), field="product_slug")
        if not (data.suspension_reason or "").strip():
            raise ValidationError(_("Give the reason for the suspension."), field="suspension_reason")
    inspection = Inspection(inspected_on=data.inspected_on, producer_id=producer.id,
                            product_id=product.id if product else None, inspector_id=user.id, scope=scope,
                            result=data.result, findings=findings)
    session.add(inspection)
    session.flush()
    if data.suspend:
        decision = decide(session, user, producer, product,
                          DecisionInput(action="suspend", effective_date=today,
                                        reason=data.suspension_reason.strip()),
                          source="inspection", inspection_id=inspection.id)
        inspection.decision_id = decision.id
        session.add(inspection)
        session.flush()
    return inspection


def inspections_query(user: User, result: Optional[str] = None, producer_id: Optional[int] = None):
    """Inspections a user may see (a county regulator: its county's producers), newest first."""
    query = select(Inspection, Producer).join(Producer, Producer.id == Inspection.producer_id)
    if user.role == "regulator" and user.county_code is not None:
        query = query.where(Producer.county_code == user.county_code)
    if result:
        query = query.where(Inspection.result == result)
    if producer_id is not None:
        query = query.where(Inspection.producer_id == producer_id)
    return query.order_by(Inspection.inspected_on.desc(), Inspection.id.desc())


def list_inspections(session: Session, user: User, result: Optional[str] = None, *, offset: int = 0,
                     limit: int = 50) -> tuple[int, list[tuple[Inspection, Producer]]]:
    """(total, one page) of (inspection, producer) the user may see."""
    if result and result not in INSPECTION_RESULTS:
        raise ValidationError(_("Choose pass or fail."), field="result")
    query = inspections_query(user, result)
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    return total, list(session.exec(query.offset(offset).limit(limit)).all())


def result_label(result: str) -> str:
    return {"pass": _("passed"), "fail": _("failed")}.get(result, result)


def complaint_view(session: Session, complaint: Complaint) -> dict:
    """A complaint with what it links to and its history, names resolved (for the detail page)."""
    history = complaint_history(session, complaint.id)
    user_ids = {h.by_user_id for h in history} | {h.assignee_id for h in history} | {complaint.assignee_id,
                                                                                      complaint.created_by}
    user_ids.discard(None)
    users = {u.id: (u.display_name or u.username)
             for u in session.exec(select(User).where(User.id.in_(user_ids))).all()} if user_ids else {}
    producer = session.get(Producer, complaint.producer_id) if complaint.producer_id else None
    batch_code = None
    if complaint.batch_id is not None:
        batch = session.get(Batch, complaint.batch_id)
        batch_code = batch.code if batch else None
    return {"history": history, "users": users, "producer": producer, "batch_code": batch_code}

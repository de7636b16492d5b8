"""Complaints shoppers file from the scan page (投诉举报); regulators work them in gi_trace.oversight.

The entry point (the scan page, and staff entering a complaint through oversight)::

    from gi_trace.scan.complaints import file_complaint

    complaint = file_complaint(
        session,
        source="scan",                    # "scan" (public page) or "staff"
        category="counterfeit",           # one of COMPLAINT_CATEGORIES:
                                          #   counterfeit, origin, quality, labelling, other
        text="...",                       # required, at most 4000 characters
        contact="",                       # optional phone/e-mail, at most 200 characters
        code="ABCD-...",                  # the trace or unit code the shopper scanned ("" if none)
        batch_id=123, producer_id=45,     # optional links (None when the code is unknown)
        scan_context={...},               # optional JSON-able dict (scan count, first scan, network hash...)
        photo=b"...", photo_mime="image/jpeg",  # optional, already re-encoded by Pillow, <= 5 MB
        user=None,                        # the staff user entering it; None from the public page
    )

It validates (ValidationError with `field` on bad input), adds the complaint with status "new"
plus its first history row, flushes and returns it; the caller commits.
"""
from __future__ import annotations

import secrets
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any, Optional

from flask_babel import gettext as _
from sqlmodel import Session, select

from gi_trace.accounts.models import User
from gi_trace.errors import ValidationError
from gi_trace.scan.models import COMPLAINT_CATEGORIES, COMPLAINT_SOURCES, Complaint, ComplaintUpdate
from gi_trace.timeutil import LOCAL_TZ, local_today
from gi_trace.types import utcnow

MAX_TEXT = 4000
MAX_CONTACT = 200
MAX_CODE = 64
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_MIMES = ("image/jpeg", "image/png", "image/webp")


def category_label(category: str) -> str:
    """The user-facing name of a complaint category."""
    labels = {
        "counterfeit": _("Counterfeit or cloned label"),
        "origin": _("Doubtful origin"),
        "quality": _("Quality problem"),
        "labelling": _("Wrong or missing label information"),
        "other": _("Other"),
    }
    return labels.get(category, category)


def file_complaint(session: Session, *, source: str, category: str, text: str, contact: str = "",
                   code: str = "", batch_id: Optional[int] = None, producer_id: Optional[int] = None,
                   scan_context: Optional[dict[str, Any]] = None, photo: Optional[bytes] = None,
                   photo_mime: str = "", photo_path: str = "", user: Optional[User] = None,
                   bought: Optional[dict[str, str]] = None) -> Complaint:
    """Put a complaint into the regulators' queue (status new) with its first history row and a reference
    the complainant follows it up with. `bought`: {"shop", "city", "platform", "order_no"} (all optional)."""
    if source not in COMPLAINT_SOURCES:
        raise ValidationError(_("Unknown complaint source."), field="source")
    if category not in COMPLAINT_CATEGORIES:
        raise ValidationError(_("Choose a category."), field="category")
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("Describe the problem."), field="text")
    if len(text) > MAX_TEXT:
        raise ValidationError(_("The description is longer than %(n)s characters.", n=MAX_TEXT), field="text")
    contact = (contact or "").strip()
    if len(contact) > MAX_CONTACT:
        raise ValidationError(_("The contact is longer than %(n)s characters.", n=MAX_CONTACT), field="contact")
    code = (code or "").strip()
    if len(code) > MAX_CODE:
        raise ValidationError(_("The code is too long."), field="code")
    if photo is not None:
        if len(photo) > MAX_PHOTO_BYTES:
            raise ValidationError(_("The photo is larger than 5 MB."), field="photo")
        if photo_mime not in PHOTO_MIMES:
            raise ValidationError(_("The photo must be a JPEG, PNG or WebP image."), field="photo")
    if scan_context is not None and not isinstance(scan_context, dict):
        raise ValidationError(_("The scan context must be an object."), field="scan_context")
    if source == "staff" and user is None:
        raise ValidationError(_("A complaint entered by staff needs the staff member."), field="user")
    where = _where_bought(bought)
    now = utcnow()
    complaint = Complaint(reference=new_reference(), **where,
                          source=source, category=category, text=text, contact=contact, photo=photo or None,
                          photo_mime=photo_mime if photo else "", photo_path=photo_path or "", code=code,
                          batch_id=batch_id, producer_id=producer_id, scan_context=scan_context,
                          status="new", created_by=user.id if user is not None else None,
                          created_at=now, updated_at=now)
    session.add(complaint)
    session.flush()
    session.add(ComplaintUpdate(complaint_id=complaint.id, from_status="", to_status="new",
                                by_user_id=user.id if user is not None else None, at=now,
                                note=_("Filed from the scan page.") if source == "scan" else _("Entered by staff.")))
    session.flush()
    return complaint


# --- following a complaint up --------------------------------------------------------------------

_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no look-alikes (0/O, 1/I/L), as trace codes
_BOUGHT_FIELDS = {"shop": ("bought_shop", 200), "city": ("bought_city", 100),
                  "platform": ("bought_platform", 100), "order_no": ("order_no", 100)}
# 市场监督管理投诉举报处理暂行办法: a decision to accept a complaint within seven working days.
REPLY_WORKING_DAYS = 7
HOTLINE = "12315"


def new_reference() -> str:
    """A complaint reference: the local date and five random characters, e.g. TS20261129-7KQ4M.
    Random, so a reference cannot be guessed from another one."""
    return f"TS{local_today():%Y%m%d}-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(5))


def normalise_reference(text: str) -> str:
    """What a person typed as a reference, upper-case, full-width and spaces folded."""
    text = unicodedata.normalize("NFKC", text or "").strip().upper()
    return "".join(ch for ch in text if ch.isalnum() or ch == "-")[:24]


def _where_bought(bought: Optional[dict[str, str]]) -> dict[str, str]:
    out = {}
    for key, (column, limit) in _BOUGHT_FIELDS.items():
        value = ((bought or {}).get(key) or "").strip()
        if len(value) > limit:
            raise ValidationError(_("This entry is longer than %(n)s characters.", n=limit), field=key)
        out[column] = value
    return out


def where_bought(complaint: Complaint) -> str:
    """Shop, city, platform and order number in one line ("—" when none was given)."""
    parts = [complaint.bought_shop, complaint.bought_city, complaint.bought_platform]
    if complaint.order_no:
        parts.append(_("order %(no)s", no=complaint.order_no))
    return " · ".join(p for p in parts if p) or "—"


def reply_due(created_at: datetime, working_days: int = REPLY_WORKING_DAYS) -> date:
    """The local date by which the complainant should hear whether the complaint is accepted
    (working days: Monday to Friday; public holidays are not known here)."""
    day = created_at.astimezone(LOCAL_TZ).date()
    left = working_days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def complaint_by_reference(session: Session, reference: str) -> Optional[Complaint]:
    """The complaint with this reference, or None (an empty or malformed reference finds nothing)."""
    reference = normalise_reference(reference)
    if len(reference) < 8:
        return None
    return session.exec(select(Complaint).where(Complaint.reference == reference)).first()

"""Anomalies in one list: plausibility flags, counterfeit flags, dormant authorised users, labels beyond output.

Batches and scans belong to the tracing and scan areas; their models are imported lazily so this
list still works (without those rows) where an area is not installed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, select
from sqlmodel import Session

from gi_trace import formatting as fmt
from gi_trace.accounts.models import User
from gi_trace.authorisation.services import statuses
from gi_trace.oversight.compliance import authorised_subquery
from gi_trace.registry.models import GROWER_KINDS, OutputRecord, Producer, Product
from gi_trace.scan.models import CounterfeitFlag
from gi_trace.timeutil import local_today
from gi_trace.tracing.models import Batch, PlausibilityFlag, UnitCode
from gi_trace.tracing.rules import flag_text

DORMANT_MONTHS = 18
KINDS = ("plausibility", "counterfeit", "dormant", "labels_beyond_output")


@dataclass
class Anomaly:
    """One row of the list."""

    kind: str
    on: Optional[date]
    producer_id: Optional[int]
    producer_name: str
    code: str  # batch or unit code, "" when the anomaly is about a producer
    detail: str
    ref_id: Optional[int] = None  # flag id, when there is one

    def as_dict(self) -> dict:
        return {"kind": self.kind, "on": self.on.isoformat() if self.on else None, "producer_id": self.producer_id,
                "producer_name": self.producer_name, "code": self.code, "detail": self.detail, "ref_id": self.ref_id}


def kind_label(kind: str) -> str:
    labels = {
        "plausibility": _("Plausibility flag"),
        "counterfeit": _("Counterfeit signal"),
        "dormant": _("No batch and no output for 18 months"),
        "labels_beyond_output": _("Labels issued beyond output"),
    }
    return labels.get(kind, kind)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (clamped to the month's last day)."""
    import calendar

    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _county(user: Optional[User]) -> Optional[str]:
    if user is not None and user.role == "regulator":
        return user.county_code
    return None


def _date(value) -> Optional[date]:
    if isinstance(value, datetime):
        return value.date()
    return value


def plausibility_flags(session: Session, county: Optional[str], product_id: Optional[int],
                       limit: int) -> list[Anomaly]:
    """Open plausibility flags on batches (tracing)."""
    f, b, p = PlausibilityFlag.__table__, Batch.__table__, Producer.__table__
    query = (select(f.c.id, f.c.kind, f.c.params, f.c.raised_at, b.c.code, p.c.id, p.c.name)
             .select_from(f.join(b, b.c.id == f.c.batch_id).join(p, p.c.id == f.c.producer_id))
             .where(f.c.status == "open").order_by(f.c.raised_at.desc(), f.c.id.desc()).limit(limit))
    if county:
        query = query.where(p.c.county_code == county)
    if product_id is not None:
        query = query.where(b.c.product_id == product_id)
    return [Anomaly("plausibility", _date(raised), pid, name, code, flag_text(kind, params or {}), fid)
            for fid, kind, params, raised, code, pid, name in session.execute(query).all()]


def counterfeit_flags(session: Session, county: Optional[str], limit: int) -> list[Anomaly]:
    """Open counterfeit flags from scans (scan)."""
    f, p = CounterfeitFlag.__table__, Producer.__table__
    query = (select(f.c.id, f.c.code, f.c.reason, f.c.scans, f.c.networks, f.c.raised_at, p.c.id, p.c.name)
             .select_from(f.outerjoin(p, p.c.id == f.c.producer_id))
             .where(f.c.status == "open").order_by(f.c.raised_at.desc(), f.c.id.desc()).limit(limit))
    if county:
        query = query.where(p.c.county_code == county)
    rows = []
    for fid, code, reason, scans, networks, raised, pid, name in session.execute(query).all():
        detail = _("Scanned %(scans)s times from %(networks)s networks.", scans=scans, networks=networks)
        rows.append(Anomaly("counterfeit", _date(raised), pid, name or "", code, detail, fid))
    return rows


def dormant_users(session: Session, product: Product, as_of: date, county: Optional[str],
                  limit: int) -> list[Anomaly]:
    """Authorised users (authorised for 18 months or more) with no batch and no output record in 18 months."""
    cutoff = months_before(as_of, DORMANT_MONTHS)
    p, o = Producer.__table__, OutputRecord.__table__
    authorised = authorised_subquery(product.id, as_of)
    query = (select(p.c.id, p.c.name).join(authorised, authorised.c.producer_id == p.c.id)
             .where(~exists().where(and_(o.c.producer_id == p.c.id, o.c.product_id == product.id,
                                         o.c.year >= cutoff.year))))
    b = Batch.__table__
    since = datetime.combine(cutoff, time.min, tzinfo=timezone.utc)
    query = query.where(~exists().where(and_(b.c.producer_id == p.c.id, b.c.product_id == product.id,
                                             b.c.created_at >= since)))
    if county:
        query = query.where(p.c.county_code == county)
    candidates = session.execute(query.order_by(p.c.id)).all()
    if not candidates:
        return []
    status = statuses(session, product.id, as_of, [c[0] for c in candidates]) if len(candidates) <= 5000 \
        else statuses(session, product.id, as_of)
    rows = []
    for pid, name in candidates:
        st = status.get(pid)
        if st is None or st.authorised_since is None or st.authorised_since > cutoff:
            continue  # authorised too recently for 18 months of non-use
        detail = _("Authorised since %(since)s; no batch and no output record since %(cutoff)s.",
                   since=fmt.day(st.authorised_since), cutoff=fmt.day(cutoff))
        rows.append(Anomaly("dormant", as_of, pid, name, "", detail))
        if len(rows) >= limit:
            break
    return rows


def labels_beyond_output(session: Session, product: Product, as_of: date, county: Optional[str],
                         limit: int) -> list[Anomaly]:
    """Growers whose unit labels (kg) for a harvest year exceed their recorded output of that year (以产核标).
    Traders and processors record no output of their own: their marks are checked against their traced sources
    on the capacity page (oversight/views_capacity.py), not here."""
    u, b, p, o = UnitCode.__table__, Batch.__table__, Producer.__table__, OutputRecord.__table__
    labels = (select(b.c.producer_id.label("producer_id"), b.c.harvest_year.label("year"),
                     func.sum(func.coalesce(u.c.package_kg, 0.0)).label("label_kg"),
                     func.count().label("units"))
              .select_from(u.join(b, b.c.id == u.c.batch_id))
              .where(b.c.product_id == product.id, b.c.harvest_year.is_not(None),
                     b.c.harvest_year >= as_of.year - 1)
              .group_by(b.c.producer_id, b.c.harvest_year).subquery("labels"))
    query = (select(labels.c.producer_id, labels.c.year, labels.c.label_kg, labels.c.units, o.c.output_kg, p.c.name)
             .join(p, p.c.id == labels.c.producer_id)
             .outerjoin(o, and_(o.c.producer_id == labels.c.producer_id, o.c.product_id == product.id,
                                o.c.year == labels.c.year))
             .where(labels.c.label_kg > func.coalesce(o.c.output_kg, 0.0), p.c.kind.in_(GROWER_KINDS))
             .order_by(labels.c.year.desc(), p.c.id).limit(limit))
    if county:
        query = query.where(p.c.county_code == county)
    rows = []
    for pid, year, label_kg, units, output_kg, name in session.execute(query).all():
        if output_kg is None:
            detail = _("%(units)s labels (%(kg)s kg) for the %(year)s harvest, but no output recorded for %(year)s.",
                       units=fmt.integer(units), kg=fmt.number(round(label_kg, 1)), year=year)
        else:
            detail = _("%(units)s labels (%(kg)s kg) for the %(year)s harvest exceed its recorded output of "
                       "%(output)s kg.", units=fmt.integer(units), kg=fmt.number(round(label_kg, 1)), year=year,
                       output=fmt.number(round(output_kg, 1)))
        rows.append(Anomaly("labels_beyond_output", date(int(year), 12, 31), pid, name, "", detail))
    return rows


def anomalies(session: Session, user: Optional[User], product: Product, *, as_of: Optional[date] = None,
              kind: Optional[str] = None, limit: int = 200) -> list[Anomaly]:
    """Every anomaly the user may see (a county regulator: its county), newest first."""
    as_of = as_of or local_today()
    county = _county(user)
    rows: list[Anomaly] = []
    if kind in (None, "plausibility"):
        rows += plausibility_flags(session, county, product.id, limit)
    if kind in (None, "counterfeit"):
        rows += counterfeit_flags(session, county, limit)
    if kind in (None, "dormant"):
        rows += dormant_users(session, product, as_of, county, limit)
    if kind in (None, "labels_beyond_output"):
        rows += labels_beyond_output(session, product, as_of, county, limit)
    rows.sort(key=lambda a: (a.on or date.min), reverse=True)
    return rows

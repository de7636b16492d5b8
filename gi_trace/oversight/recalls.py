"""A recall's affected batches for regulators: every batch it reaches, with owner, kilograms on hand, what was
shipped or sold to whom and when, and the unit codes issued — the sortable spreadsheet FSMA 204 asks for.

The rows come from a handful of statements joined on the recall's member rows (tracing.recall), never a
query per batch, so a recall of 10,000 batches lists in well under the 2 s target (scripts/bench_recall.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import text
from sqlmodel import Session, select

from gi_trace import formatting as fmt
from gi_trace import spreadsheets
from gi_trace.accounts.models import User
from gi_trace.errors import Forbidden, NotFound
from gi_trace.tracing import codes
from gi_trace.tracing.models import Batch
from gi_trace.tracing.models_recall import Recall, RecallMember

SORT_KEYS = ("code", "owner", "kind", "on_hand", "shipped", "units", "status")

_MEMBERS = text("""
SELECT b.id, b.code, b.kind, b.product_form, b.producer_lot, b.quantity_kg - b.out_kg, b.units_issued,
       p.name, COALESCE(NULLIF(p.uscc, ''), p.registry_no, ''), p.county_code, x.reason, x.lifted_at
FROM recallmember m
JOIN batch b ON b.id = m.batch_id
JOIN producer p ON p.id = b.producer_id
LEFT JOIN recalllift x ON x.recall_id = m.recall_id AND x.batch_id = m.batch_id
WHERE m.recall_id = :recall_id
""")
_PARENTS = text("""
SELECT l.child_id, pb.code, l.kind FROM batchlink l
JOIN recallmember m ON m.batch_id = l.child_id AND m.recall_id = :recall_id
JOIN batch pb ON pb.id = l.parent_id
ORDER BY l.child_id, l.id
""")
_SHIPMENTS = text("""
SELECT s.batch_id, rp.name, s.shipped_at, s.utc_offset_min, s.quantity_kg, s.status, s.document_no
FROM shipment s
JOIN recallmember m ON m.batch_id = s.batch_id AND m.recall_id = :recall_id
JOIN producer rp ON rp.id = s.to_party_id
ORDER BY s.batch_id, s.shipped_at, s.id
""")
_SOLD = text("""
SELECT e.batch_id, e.occurred_at, e.utc_offset_min, e.quantity_kg, CAST(e.data AS TEXT)
FROM event e
JOIN recallmember m ON m.batch_id = e.batch_id AND m.recall_id = :recall_id
WHERE e.stage = 'distribution'
ORDER BY e.batch_id, e.seq
""")
_UNITS = text("""
SELECT u.batch_id, b.code, u.serial, u.code, u.package_kg, u.issued_at
FROM unitcode u
JOIN recallmember m ON m.batch_id = u.batch_id AND m.recall_id = :recall_id
JOIN batch b ON b.id = u.batch_id
ORDER BY b.code, u.serial
""")


def _aware(value) -> Optional[datetime]:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@dataclass
class Affected:
    """One batch a recall reaches, as people read it."""

    id: int
    code: str
    kind: str
    product_form: str
    lot: str
    owner: str
    owner_code: str
    county_code: str
    on_hand_kg: float
    units: int
    source: bool
    lifted: bool
    lift_reason: str = ""
    lifted_at: Optional[datetime] = None
    made_from: list[str] = field(default_factory=list)
    shipped: list[tuple[str, Optional[datetime], float, str]] = field(default_factory=list)  # whom, when, kg, how

    @property
    def shipped_text(self) -> str:
        return "; ".join(f"{whom} {fmt.day(when)} {fmt.kg(kg)}{(' ' + how) if how else ''}"
                         for whom, when, kg, how in self.shipped)

    @property
    def status_text(self) -> str:
        if self.lifted:
            return _("lifted on %(date)s: %(reason)s", date=fmt.day(self.lifted_at), reason=self.lift_reason)
        return _("recalled (withdrawn batch)") if self.source else _("recalled")


def visible_recall(session: Session, user: User, recall_id) -> Recall:
    """A recall the regulator may open (a county regulator: one that reaches a batch of the county)."""
    if user is None or user.role not in ("regulator", "admin"):
        raise Forbidden(_("Only regulators can open recalls."))
    recall = session.get(Recall, recall_id) if isinstance(recall_id, int) and 0 < recall_id < 2**31 else None
    if recall is None or not _reaches_county(session, user, recall.id):
        raise NotFound(_("No such recall."), field="recall")
    return recall


def _reaches_county(session: Session, user: User, recall_id: int) -> bool:
    if user.role == "admin" or user.county_code is None:
        return True
    found = session.execute(text(
        "SELECT 1 FROM recallmember m JOIN batch b ON b.id = m.batch_id JOIN producer p ON p.id = b.producer_id "
        "WHERE m.recall_id = :r AND p.county_code = :c LIMIT 1"), {"r": recall_id, "c": user.county_code}).first()
    return found is not None


def recalls_for(session: Session, user: User, limit: int = 200) -> list[Recall]:
    """Recalls the regulator may open, newest first."""
    if user is None or user.role not in ("regulator", "admin"):
        raise Forbidden(_("Only regulators can open recalls."))
    query = select(Recall).order_by(Recall.id.desc()).limit(limit)
    if user.role != "admin" and user.county_code is not None:
        reaching = text("SELECT DISTINCT m.recall_id FROM recallmember m JOIN batch b ON b.id = m.batch_id "
                        "JOIN producer p ON p.id = b.producer_id WHERE p.county_code = :c")
        ids = [r[0] for r in session.execute(reaching, {"c": user.county_code}).all()]
        query = query.where(Recall.id.in_(ids))
    return list(session.exec(query).all())


def recall_of_batch(session: Session, code: str) -> Recall:
    """The latest recall a batch (trace code) started, else the latest one reaching it; NotFound when none."""
    parsed = codes.parse(code or "")
    batch = session.exec(select(Batch).where(Batch.code == parsed)).first() if parsed else None
    if batch is None:
        raise NotFound(_("%(code)s is not a registered trace code.", code=(code or "")[:40]), field="batch")
    recall = session.exec(select(Recall).where(Recall.source_batch_id == batch.id).order_by(Recall.id.desc())).first()
    if recall is None:
        member = session.exec(select(RecallMember).where(RecallMember.batch_id == batch.id)
                              .order_by(RecallMember.recall_id.desc())).first()
        recall = session.get(Recall, member.recall_id) if member else None
    if recall is None:
        raise NotFound(_("Batch %(code)s has not been recalled.", code=batch.code), field="batch")
    return recall


def affected(session: Session, recall: Recall, county_code: Optional[str] = None) -> list[Affected]:
    """Every batch the recall reaches (optionally one county's), with what left it and to whom."""
    params = {"recall_id": recall.id}
    rows: dict[int, Affected] = {}
    for bid, code, kind, form, lot, on_hand, units, owner, owner_code, county, lift_reason, lifted_at in \
            session.execute(_MEMBERS, params).all():
        if county_code is not None and county != county_code:
            continue
        rows[bid] = Affected(id=bid, code=code, kind=kind, product_form=form, lot=lot or "", owner=owner,
                             owner_code=owner_code, county_code=county, on_hand_kg=round(on_hand or 0.0, 3),
                             units=units or 0, source=bid == recall.source_batch_id, lifted=lifted_at is not None,
                             lift_reason=lift_reason or "", lifted_at=_aware(lifted_at))
    for child, parent_code, _kind in session.execute(_PARENTS, params).all():
        if child in rows:
            rows[child].made_from.append(parent_code)
    for bid, whom, when, _offset, kg, status, document in session.execute(_SHIPMENTS, params).all():
        if bid in rows:
            how = _("in transit") if status == "in_transit" else (_("rejected") if status == "rejected" else "")
            rows[bid].shipped.append((whom, _aware(when), kg, " ".join(x for x in (how, document or "") if x)))
    for bid, when, _offset, kg, data in session.execute(_SOLD, params).all():
        if bid in rows:
            data = json.loads(data) if isinstance(data, str) else (data or {})
            whom = " ".join(str(data.get(k)) for k in ("recipient", "destination") if data.get(k)) or _("sold")
            rows[bid].shipped.append((whom, _aware(when), kg or 0.0, ""))
    return list(rows.values())


def sort_rows(rows: list[Affected], key: str, descending: bool = False) -> list[Affected]:
    """Rows sorted by a column of the page (SORT_KEYS); the withdrawn batch first on ties."""
    keys = {
        "code": lambda r: r.code, "owner": lambda r: (r.owner, r.code), "kind": lambda r: (r.kind, r.code),
        "on_hand": lambda r: (r.on_hand_kg, r.code), "units": lambda r: (r.units, r.code),
        "shipped": lambda r: (min((w for _n, w, _k, _h in r.shipped if w), default=datetime.max.replace(
            tzinfo=timezone.utc)), r.code),
        "status": lambda r: (r.lifted, not r.source, r.code),
    }
    return sorted(rows, key=keys.get(key, keys["status"]), reverse=descending)


def column_labels() -> list[str]:
    return [_("Batch code"), _("Lot"), _("Batch kind"), _("Product form"), _("Owner"), _("Owner code"),
            _("Made from"), _("Kilograms on hand"), _("Shipped or sold to (when, kg)"), _("Unit codes issued"),
            _("Recall status")]


def table(rows: list[Affected]) -> list[list]:
    """The rows as spreadsheet cells (codes as printed on labels, kinds and forms in words).

    Words that repeat (kinds, forms, "recalled") are translated once per file, not once per row: a recall
    of 10,000 batches is written in about a second (scripts/bench_recall.py).
    """
    words: dict = {}

    def word(domain: str, value: str) -> str:
        key = (domain, value)
        if key not in words:
            words[key] = fmt.label(domain, value)
        return words[key]

    recalled, withdrawn = _("recalled"), _("recalled (withdrawn batch)")

    def display(code: str) -> str:  # codes.display for the 14-character trace codes, without a generator
        return f"{code[:4]}-{code[4:8]}-{code[8:12]}-{code[12:]}" if len(code) == 14 else codes.display(code)
    out = []
    for r in rows:
        status = r.status_text if r.lifted else (withdrawn if r.source else recalled)
        out.append([display(r.code), r.lot, word("batch_kind", r.kind), word("product_form", r.product_form),
                    r.owner, r.owner_code, "; ".join(display(c) for c in r.made_from),
                    int(r.on_hand_kg) if float(r.on_hand_kg).is_integer() else r.on_hand_kg,
                    r.shipped_text if r.shipped else "", r.units, status])
    return out


def unit_rows(session: Session, recall: Recall) -> list[list]:
    """Every unit code issued under the recalled batches: batch, package no., code, size, issued on."""
    return [[codes.display(bcode), serial, codes.display(code), package_kg if package_kg is not None else "",
             fmt.day(_aware(issued))]
            for _bid, bcode, serial, code, package_kg, issued in session.execute(_UNITS, {"recall_id": recall.id}).all()]


def unit_labels() -> list[str]:
    return [_("Batch code"), _("Package no."), _("Unit code"), _("Package (kg)"), _("Issued on")]


def export(session: Session, recall: Recall, kind: str, rows: Optional[list[Affected]] = None) -> bytes:
    """The affected batches as CSV or XLSX (with a second sheet of unit codes), through the one writer."""
    rows = sort_rows(rows if rows is not None else affected(session, recall), "status")
    header, cells = column_labels(), table(rows)
    if kind == "csv":
        return spreadsheets.csv_bytes(header, cells)
    sheets = {_("Affected batches"): (header, cells)}
    units = unit_rows(session, recall)
    if units:
        sheets[_("Unit codes")] = (unit_labels(), units)
    return spreadsheets.xlsx_bytes(sheets)

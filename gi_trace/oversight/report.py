"""The annual GI supervision report (地理标志保护监管年度报告): its figures and data tables.

`build_report` gathers every figure from a few aggregate queries (the newer sections in
report_figures); report_document turns them into the document (HTML, PDF, JSON, CSV/XLSX) and keeps
its versions. The summary's shares are the compliance service's result itself, so the report and
`flask compliance --json` cannot disagree.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import func, select
from sqlmodel import Session

from gi_trace import spreadsheets
from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.authorisation.services import statuses
from gi_trace.oversight import compliance as c
from gi_trace.oversight import report_figures as f
from gi_trace.oversight import use_reports
from gi_trace.oversight.models import Inspection
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.scan.models import Complaint, CounterfeitFlag, ScanCounter
from gi_trace.timeutil import LOCAL_TZ, local_today
from gi_trace.tracing.models import Batch, PlausibilityFlag, UnitCode
from gi_trace.types import utcnow

YEARS_SHOWN = 5
HTML_LIST_LIMIT = 300  # longer lists are in the tables only

# name -> column keys, in order (headings are the keys; the HTML shows Chinese headings)
TABLES = {
    "compliance_by_county": ["county_code", "county_name", "producers_registered", "producers_total",
                             "producers_authorised", "user_share", "output_value_registered", "output_value_total",
                             "output_value_authorised", "output_share", "target", "user_share_met",
                             "output_share_met", "producers_denominator", "output_denominator"],
    "compliance_history": ["year", "as_of", "producers_total", "producers_authorised", "user_share",
                           "output_value_total", "output_value_authorised", "output_share", "target",
                           "producers_denominator", "output_denominator"],
    "producers": list(c.DRILLDOWN_COLUMNS),
    "decisions": ["decision_id", "effective_date", "action", "producer_id", "producer", "code", "county_code",
                  "reference_no", "valid_until", "reason", "inspection_id", "recorded_at"],
    "movements_by_county": ["county_code", "county_name", "authorised_at_year_end", "new", "approvals",
                            "suspended", "reinstated", "revoked", "expired"],
    "traceability_by_stage": ["stage", "batches", "kg"],
    "inspections": ["inspection_id", "inspected_on", "producer_id", "producer", "county_code", "scope", "result",
                    "findings", "suspension_decision_id"],
    "complaints": ["complaint_id", "received", "source", "category", "status", "code", "producer_id", "county_code",
                   "resolution", "closed_at"],
    "recalls": ["code", "withdrawn_on", "reason", "kg", "county_code", "reached_batches", "reached_kg", "units",
                "parties", "lifted"],
}


def _year_bounds(year: int) -> tuple[date, date, datetime, datetime]:
    start, end = date(year, 1, 1), date(year, 12, 31)
    # Timestamps: the local (China) year, as UTC instants.

    t0 = datetime.combine(start, time.min, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    t1 = datetime.combine(end + timedelta(days=1), time.min, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    return start, end, t0, t1


def _region_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Region.code, Region.name_zh)).all())


def _delta(now: Optional[float], before: Optional[float]) -> Optional[float]:
    if now is None or before is None:
        return None
    return round(now - before, 4)


# --- sections ---------------------------------------------------------------------------------

def summary(session: Session, product: Product, year: int, county: Optional[str], as_of: date,
            today: date) -> dict:
    """Both shares against the target and against the previous year, and the years before."""
    current = c.compliance(session, product, year, county, as_of)
    previous = c.compliance(session, product, year - 1, county, c.default_as_of(year - 1, today)) \
        if year - 1 >= c.FIRST_YEAR else None
    first = max(c.FIRST_YEAR, year - YEARS_SHOWN + 1)
    history = c.series(session, product, range(first, year - 1), county, today) if first < year - 1 else []
    history += ([previous] if previous else []) + [current]
    return {
        "compliance": current,
        "previous": previous,
        "user_share_change": _delta(current["user_share"], previous["user_share"] if previous else None),
        "output_share_change": _delta(current["output_share"], previous["output_share"] if previous else None),
        "history": [{k: h[k] for k in TABLES["compliance_history"] if k in h} | {
            "producers_denominator": h["denominator_source"]["producers"]["kind"],
            "output_denominator": h["denominator_source"]["output_value"]["kind"]} for h in history],
    }


def authorised_users(session: Session, product: Product, year: int, county: Optional[str], as_of: date,
                     producers: list[tuple], names: dict[str, str]) -> tuple[dict, list[dict]]:
    """The list at the as-of date, and what changed in the year (per county); plus the year's decisions."""
    start, end, _t0, _t1 = _year_bounds(year)
    d, p = AuthorisationDecision.__table__, Producer.__table__
    query = (select(d.c.id, d.c.effective_date, d.c.action, d.c.producer_id, p.c.name, p.c.uscc, p.c.registry_no,
                    p.c.county_code, d.c.reference_no, d.c.valid_until, d.c.reason, d.c.inspection_id,
                    d.c.recorded_at)
             .join(p, p.c.id == d.c.producer_id)
             .where(d.c.product_id == product.id, d.c.effective_date >= start, d.c.effective_date <= min(end, as_of))
             .order_by(d.c.effective_date, d.c.id))
    if county:
        query = query.where(p.c.county_code == county)
    decisions = [{
        "decision_id": r[0], "effective_date": r[1].isoformat(), "action": r[2], "producer_id": r[3],
        "producer": r[4], "code": r[5] or r[6] or "", "county_code": r[7], "reference_no": r[8],
        "valid_until": r[9].isoformat() if r[9] else "", "reason": r[10], "inspection_id": r[11] or "",
        "recorded_at": r[12].isoformat(timespec="seconds") if r[12] else "",
    } for r in session.execute(query).all()]
    # Who was in force (or suspended) at the end of the previous year, among those approved in this one:
    # approvals of anyone else are new users.
    approved = {dec["producer_id"] for dec in decisions if dec["action"] == "approve"}
    before = _held_at(session, product.id, start - timedelta(days=1), approved)
    counties = {}

    def bucket(code: str) -> dict:
        return counties.setdefault(code, {"county_code": code, "county_name": names.get(code, code),
                                          "authorised_at_year_end": 0, "new": 0, "approvals": 0, "suspended": 0,
                                          "reinstated": 0, "revoked": 0, "expired": 0})

    new_ids: set[int] = set()
    for dec in decisions:
        row = bucket(dec["county_code"])
        key = {"approve": "approvals", "suspend": "suspended", "reinstate": "reinstated", "revoke": "revoked"}.get(
            dec["action"])
        if key:
            row[key] += 1
        if dec["action"] == "approve" and dec["producer_id"] not in before and dec["producer_id"] not in new_ids:
            new_ids.add(dec["producer_id"])
            row["new"] += 1
    columns = c.DRILLDOWN_COLUMNS
    i_auth, i_county, i_state, i_since = (columns.index(k) for k in ("counts_as_authorised", "county_code", "state",
                                                                     "since"))
    authorised = [r for r in producers if r[i_auth]]
    for r in authorised:
        bucket(r[i_county])["authorised_at_year_end"] += 1
    first, last = start.isoformat(), end.isoformat()
    for r in producers:
        if r[i_state] == rules.EXPIRED and r[i_since] and first <= r[i_since] <= last:
            bucket(r[i_county])["expired"] += 1
    by_county = sorted(counties.values(), key=lambda x: x["county_code"])
    listed = [dict(zip(columns, r)) for r in authorised[:HTML_LIST_LIMIT]]
    # Households are people: the document names them by kind and registry number, never by name.
    households = set(session.execute(select(p.c.id).where(p.c.kind == "household",
                                                          p.c.id.in_([r["producer_id"] for r in listed]))).scalars())
    for row in listed:
        row["household"] = row["producer_id"] in households
    totals = {k: sum(row[k] for row in by_county) for k in ("authorised_at_year_end", "new", "approvals", "suspended",
                                                           "reinstated", "revoked", "expired")}
    return {"count": len(authorised), "totals": totals, "by_county": by_county,
            "list": listed, "list_truncated": len(authorised) > HTML_LIST_LIMIT}, decisions


def _held_at(session: Session, product_id: int, on: date, producer_ids: set[int]) -> set[int]:
    """Which of these producers held an authorisation (in force or suspended) on a date (rules.status_on)."""
    held = statuses(session, product_id, on, producer_ids) if producer_ids else {}
    return {pid for pid, status in held.items() if status.state in (rules.AUTHORISED, rules.SUSPENDED)}


def traceability(session: Session, product: Product, year: int, county: Optional[str],
                 producers: list[tuple]) -> dict:
    """Batches and kilograms by stage, the share of authorised output that is traced, labels issued and scanned."""
    b, p, u = Batch.__table__, Producer.__table__, UnitCode.__table__
    _start, _end, t0, t1 = _year_bounds(year)
    where = [b.c.product_id == product.id, b.c.harvest_year == year]
    join = b.join(p, p.c.id == b.c.producer_id)
    if county:
        where.append(p.c.county_code == county)
    by_stage = [{"stage": stage or "", "batches": int(n), "kg": round(float(kg or 0), 3)}
                # kilograms still held at each stage (what left a batch is counted in the batch it went to)
                for stage, n, kg in session.execute(select(b.c.stage, func.count(),
                                                           func.sum(b.c.quantity_kg - b.c.out_kg))
                                                    .select_from(join).where(*where).group_by(b.c.stage)
                                                    .order_by(b.c.stage)).all()]
    harvest = session.execute(select(b.c.product_form, func.count(), func.sum(b.c.quantity_kg)).select_from(join)
                              .where(*where, b.c.kind == "harvest").group_by(b.c.product_form)).all()
    ratio = None
    if product.fresh_dried_ratio_min and product.fresh_dried_ratio_max:
        ratio = (product.fresh_dried_ratio_min + product.fresh_dried_ratio_max) / 2
    dried_kg = sum(float(kg or 0) for form, _n, kg in harvest if form != "fresh")
    fresh_kg = sum(float(kg or 0) for form, _n, kg in harvest if form == "fresh")
    traced_kg = dried_kg + (fresh_kg / ratio if ratio else 0.0)
    # Output (kg) of the authorised users of the region in the year: the producers table's rows.
    i_auth, i_kg = c.DRILLDOWN_COLUMNS.index("counts_as_authorised"), c.DRILLDOWN_COLUMNS.index("output_kg")
    authorised_kg = sum(r[i_kg] or 0.0 for r in producers if r[i_auth])
    labels_where = [b.c.product_id == product.id, u.c.issued_at >= t0, u.c.issued_at < t1]
    labels_join = u.join(b, b.c.id == u.c.batch_id).join(p, p.c.id == b.c.producer_id)
    if county:
        labels_where.append(p.c.county_code == county)
    issued = session.execute(select(func.count()).select_from(labels_join).where(*labels_where)).scalar_one()
    s = ScanCounter.__table__
    scanned, scans = session.execute(
        select(func.count(), func.coalesce(func.sum(s.c.scans), 0))
        .select_from(labels_join.join(s, s.c.code == u.c.code)).where(*labels_where, s.c.scans > 0)).one()
    return {
        "by_stage": by_stage,
        "batches": sum(r["batches"] for r in by_stage),
        "kg": round(sum(r["kg"] for r in by_stage), 3),
        "harvest_dried_kg": round(dried_kg, 3),
        "harvest_fresh_kg": round(fresh_kg, 3),
        "fresh_dried_ratio": ratio,
        "traced_kg": round(traced_kg, 3),
        "authorised_output_kg": round(float(authorised_kg), 3),
        "traced_share": c.share(traced_kg, float(authorised_kg)),
        "labels_issued": int(issued),
        "labels_scanned": int(scanned),
        "label_scans": int(scans),
        "labels_scanned_share": c.share(int(scanned), int(issued)),
    }


def supervision(session: Session, product: Product, year: int, county: Optional[str]) -> tuple[dict, list[dict]]:
    """Inspections in the year and their results, and the actions taken."""
    start, end, _t0, _t1 = _year_bounds(year)
    i, p = Inspection.__table__, Producer.__table__
    query = (select(i.c.id, i.c.inspected_on, i.c.producer_id, p.c.name, p.c.county_code, i.c.scope, i.c.result,
                    i.c.findings, i.c.decision_id, i.c.product_id)
             .join(p, p.c.id == i.c.producer_id)
             .where(i.c.inspected_on >= start, i.c.inspected_on <= end,
                    (i.c.product_id == product.id) | i.c.product_id.is_(None))
             .order_by(i.c.inspected_on, i.c.id))
    if county:
        query = query.where(p.c.county_code == county)
    rows = [{"inspection_id": r[0], "inspected_on": r[1].isoformat(), "producer_id": r[2], "producer": r[3],
             "county_code": r[4], "scope": r[5], "result": r[6], "findings": r[7],
             "suspension_decision_id": r[8] or ""} for r in session.execute(query).all()]
    by_county: dict[str, dict] = {}
    for r in rows:
        row = by_county.setdefault(r["county_code"], {"county_code": r["county_code"], "inspections": 0, "passed": 0,
                                                      "failed": 0, "suspensions": 0})
        row["inspections"] += 1
        row["passed" if r["result"] == "pass" else "failed"] += 1
        row["suspensions"] += bool(r["suspension_decision_id"])
    return {
        "inspections": len(rows),
        "passed": sum(r["result"] == "pass" for r in rows),
        "failed": sum(r["result"] == "fail" for r in rows),
        "suspensions_from_inspections": sum(bool(r["suspension_decision_id"]) for r in rows),
        "by_county": sorted(by_county.values(), key=lambda x: x["county_code"]),
        "failed_list": [r for r in rows if r["result"] == "fail"][:HTML_LIST_LIMIT],
    }, rows


def complaints_and_signals(session: Session, product: Product, year: int,
                           county: Optional[str]) -> tuple[dict, list[dict]]:
    """Complaints received in the year and how they were handled; counterfeit and plausibility signals."""
    _start, _end, t0, t1 = _year_bounds(year)
    k, p = Complaint.__table__, Producer.__table__
    query = (select(k.c.id, k.c.created_at, k.c.source, k.c.category, k.c.status, k.c.code, k.c.producer_id,
                    p.c.county_code, k.c.resolution, k.c.closed_at)
             .select_from(k.outerjoin(p, p.c.id == k.c.producer_id))
             .where(k.c.created_at >= t0, k.c.created_at < t1).order_by(k.c.created_at, k.c.id))
    if county:
        query = query.where(p.c.county_code == county)
    rows = []
    days = []
    for r in session.execute(query).all():
        rows.append({"complaint_id": r[0], "received": r[1].isoformat(timespec="seconds"), "source": r[2],
                     "category": r[3], "status": r[4], "code": r[5], "producer_id": r[6] or "",
                     "county_code": r[7] or "", "resolution": r[8],
                     "closed_at": r[9].isoformat(timespec="seconds") if r[9] else ""})
        if r[9] is not None:
            days.append((r[9] - r[1]).total_seconds() / 86400)
    by_category: dict[str, dict] = {}
    for r in rows:
        row = by_category.setdefault(r["category"], {"category": r["category"], "received": 0, "new": 0,
                                                     "investigating": 0, "closed": 0})
        row["received"] += 1
        row[r["status"]] += 1
    signals: dict[str, Any] = {}
    f = CounterfeitFlag.__table__
    q = (select(f.c.status, func.count()).select_from(f.outerjoin(p, p.c.id == f.c.producer_id))
         .where(f.c.raised_at >= t0, f.c.raised_at < t1).group_by(f.c.status))
    if county:
        q = q.where(p.c.county_code == county)
    signals["counterfeit"] = dict(session.execute(q).all())
    f, b = PlausibilityFlag.__table__, Batch.__table__
    q = (select(f.c.kind, f.c.status, func.count())
         .select_from(f.join(b, b.c.id == f.c.batch_id).join(p, p.c.id == f.c.producer_id))
         .where(f.c.raised_at >= t0, f.c.raised_at < t1, b.c.product_id == product.id)
         .group_by(f.c.kind, f.c.status).order_by(f.c.kind, f.c.status))
    if county:
        q = q.where(p.c.county_code == county)
    signals["plausibility"] = [{"kind": kind, "status": status, "count": n}
                               for kind, status, n in session.execute(q).all()]
    return {
        "received": len(rows),
        "closed": sum(r["status"] == "closed" for r in rows),
        "open": sum(r["status"] != "closed" for r in rows),
        "from_scan_page": sum(r["source"] == "scan" for r in rows),
        "mean_days_to_close": round(sum(days) / len(days), 1) if days else None,
        "by_category": sorted(by_category.values(), key=lambda x: x["category"]),
        "signals": signals,
    }, rows


def definitions(compliance: dict) -> dict:
    """What each figure means and where it comes from (printed as the last section)."""
    sources = []
    for area in [compliance] + compliance["by_county"]:
        for key in ("producers", "output_value"):
            src = area["denominator_source"][key]
            if src["kind"] == "official" and src["source"] and src["source"] not in sources:
                sources.append(src["source"])
    return {"official_sources": sources}


# --- the whole report -------------------------------------------------------------------------

def build_report(session: Session, product: Product, year: int, county_code: Optional[str] = None, *,
                 as_of: Optional[date] = None, today: Optional[date] = None) -> dict:
    """Every figure of the annual report, with the data tables behind them."""
    today = today or local_today()
    as_of = as_of or c.default_as_of(year, today)
    names = _region_names(session)
    head = summary(session, product, year, county_code, as_of, today)
    producers = c.drilldown_rows(session, product, year, county_code, as_of)
    users, decisions = authorised_users(session, product, year, county_code, as_of, producers, names)
    inspections, inspection_rows = supervision(session, product, year, county_code)
    handling, complaint_rows = complaints_and_signals(session, product, year, county_code)
    comp = head["compliance"]
    counties = f.city_counties(session)
    if county_code:
        counties = [(code, name) for code, name in counties if code == county_code]
    previous = head["previous"]
    last_as_of = c.default_as_of(year - 1, today)
    last_producers = c.drilldown_rows(session, product, year - 1, county_code, last_as_of) \
        if year - 1 >= c.FIRST_YEAR else []
    dormant = f.dormant_users(session, product, year, as_of, county_code)
    report_more = {
        "counties": {"this": f.county_shares(comp, counties),
                     "last": f.county_shares(previous, counties) if previous else None},
        "management": {
            "movements": f.compare(lambda y: f.movements(session, product, y, counties, county_code), year),
            "dormant": {"count": len(dormant), "list": dormant[:HTML_LIST_LIMIT]},
            "use_reports": {k: v for k, v in use_reports.status(session, product, year, county_code).items()
                            if k in ("users", "received")},
            "authorised_at_year_end": {"this": comp["producers_authorised"],
                                       "last": previous["producers_authorised"] if previous else None},
        },
        "supervision_more": {
            "inspections": f.compare(lambda y: f.inspections(session, product, y, county_code), year),
            "tests": f.compare(lambda y: f.sampling_tests(session, product, y, county_code), year),
            "enforcement": f.compare(lambda y: f.enforcement(session, product, y, county_code), year),
            "complaints": f.compare(lambda y: f.complaints(session, y, county_code), year),
        },
        "tracing": {
            "traceability_last": traceability(session, product, year - 1, county_code, last_producers),
            "scans": f.compare(lambda y: f.scans(session, product, y, counties, county_code), year),
            "recalls": f.compare(lambda y: f.recalls(session, product, y, county_code), year),
        },
        "county_list": [{"code": code, "name": name} for code, name in counties],
    }
    report = {
        "title": "地理标志保护监管年度报告",
        "product": product.slug,
        "product_name": product.name_zh,
        "product_name_en": product.name_en,
        "year": year,
        "county_code": county_code,
        "county_name": names.get(county_code) if county_code else None,
        "as_of": as_of.isoformat(),
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "summary": head,
        "authorised_users": users,
        "traceability": traceability(session, product, year, county_code, producers),
        "supervision": inspections,
        "complaints": handling,
        "definitions": definitions(comp),
        "stage_names": {st["stage"]: st.get("name_zh", st["stage"]) for st in (product.stage_template or [])},
        **report_more,
        "region_names_en": {code: name for code, name in session.execute(
            select(Region.code, Region.name_en).where(Region.level == "county")).all() if name},
        "region_names": {code: names[code] for code in sorted({row["county_code"] for row in comp["by_county"]} |
                                                               {row["county_code"] for row in users["by_county"]})
                         if code in names},
    }
    tables = {
        "compliance_by_county": [dict(row, producers_denominator=_src(row, "producers"),
                                      output_denominator=_src(row, "output_value")) for row in comp["by_county"]],
        "compliance_history": head["history"],
        "producers": producers,
        "decisions": decisions,
        "movements_by_county": users["by_county"],
        "traceability_by_stage": report["traceability"].get("by_stage", []),
        "inspections": inspection_rows,
        "complaints": complaint_rows,
        "recalls": report["tracing"]["recalls"]["this"]["list"],
    }
    report["tables"] = {name: len(rows) for name, rows in tables.items()}
    # Every table as tuples in its TABLES column order (the big one already is).
    tables = {name: rows if name == "producers" else [tuple(_plain(row.get(col)) for col in TABLES[name])
                                                      for row in rows]
              for name, rows in tables.items()}
    return {"report": report, "tables": tables, "town_names": names}


def _plain(value):
    return int(value) if isinstance(value, bool) else value


def _src(row: dict, key: str) -> str:
    src = row["denominator_source"][key]
    return src["source"] if src["kind"] == "official" else "register"


# --- files ------------------------------------------------------------------------------------

def table_csv(name: str, rows: list[tuple]) -> bytes:
    """A table as UTF-8 CSV with BOM and a header row of column keys (True/False as 1/0, None empty)."""
    return spreadsheets.csv_bytes(TABLES[name], rows)


def tables_xlsx(tables: dict[str, list[tuple]]) -> bytes:
    """Every table as one sheet of a workbook."""
    return spreadsheets.xlsx_bytes({name: (TABLES[name], rows) for name, rows in tables.items()})

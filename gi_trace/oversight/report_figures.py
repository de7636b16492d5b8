"""The annual report's figures that its first version lacked: every county, last year beside this year,
reasons by code, sampling tests per item, enforcement cases, complaint handling times, scans by month
and county, counterfeit signals, recalls and dormant users.

Each function takes a year and returns plain data; `compare` puts a year and the year before side by
side. County tables always list every county of the city and reconcile with the city line: what is in
no county is its own line.
"""
from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Optional

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from gi_trace.authorisation import rules
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.oversight import compliance as c
from gi_trace.oversight.models import EnforcementCase, Inspection
from gi_trace.registry.models import Producer, Product, Region
from gi_trace.scan.models import Complaint, CounterfeitFlag, ScanCounter
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing import quality
from gi_trace.tracing.models import Batch, BatchLink, Event, Shipment, UnitCode
from gi_trace.tracing.models_recall import Recall, RecallLift, RecallMember

NO_COUNTY = ""  # the key of "not in a county" lines
TEST_ITEMS = ("moisture", "so2", "pesticide")
MOVEMENTS = ("applications", "approvals", "new_users", "renewals", "rejections", "suspensions", "reinstatements", "revocations",
             "expiries")


def year_instants(year: int) -> tuple[datetime, datetime]:
    """The local (China) calendar year as UTC instants [start, end)."""
    t0 = datetime.combine(date(year, 1, 1), time.min, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    t1 = datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    return t0, t1


def city_counties(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every county of the city, in code order."""
    r = Region.__table__
    return [(code, name) for code, name in session.execute(
        select(r.c.code, r.c.name_zh).where(r.c.level == "county").order_by(r.c.code)).all()]


def compare(func_: Callable[[int], Any], year: int) -> dict:
    """{"this": f(year), "last": f(year - 1)}."""
    return {"this": func_(year), "last": func_(year - 1)}


# --- 一、总体情况: the shares per county, every county --------------------------------------------------

def county_shares(compliance: dict, counties: list[tuple[str, str]]) -> dict:
    """Every county's row of the compliance result (zeros where the product has no protected town), the
    city line, and the reconciliation: register figures of the counties add up to the city's."""
    by_code = {row["county_code"]: row for row in compliance["by_county"]}
    rows = []
    for code, name in counties:
        row = by_code.get(code)
        if row is None:
            row = {"county_code": code, "county_name": name, "producers_registered": 0, "producers_total": 0,
                   "producers_authorised": 0, "user_share": None, "output_value_registered": 0.0,
                   "output_value_total": 0.0, "output_value_authorised": 0.0, "output_share": None,
                   "producers_authorised_in_year": 0, "output_value_authorised_in_year": 0.0,
                   "output_share_in_year": None, "user_share_in_year": None, "protected_towns": False,
                   "denominator_source": {"producers": {"kind": c.REGISTER, "source": "", "scope": c.PROTECTED_AREA},
                                          "output_value": {"kind": c.REGISTER, "source": "",
                                                           "scope": c.PROTECTED_AREA}}}
        else:
            row = dict(row, protected_towns=True)
        rows.append(row)
    extra = [row for code, row in by_code.items() if code not in {k for k, _n in counties}]
    keys = ("producers_registered", "producers_authorised", "producers_authorised_in_year", "output_value_registered",
            "output_value_authorised", "output_value_authorised_in_year")
    outside = {k: sum(row[k] for row in extra) for k in keys}
    sums = {k: round(sum(row[k] for row in rows) + outside[k], 2) for k in keys}
    city = {k: round(compliance[k], 2) for k in keys}
    return {"rows": rows, "not_in_a_county": outside if any(outside.values()) else None, "sums": sums,
            "reconciles": sums == city}


# --- 二、专用标志使用管理 ----------------------------------------------------------------------------

def movements(session: Session, product: Product, year: int, counties: list[tuple[str, str]],
              county_code: Optional[str] = None) -> dict:
    """Decisions taking effect in the year per county and per coded reason; expiries; new users."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    d, p = AuthorisationDecision.__table__, Producer.__table__
    query = (select(d.c.producer_id, d.c.action, d.c.effective_date, d.c.reason_code, p.c.county_code)
             .join(p, p.c.id == d.c.producer_id)
             .where(d.c.product_id == product.id, d.c.effective_date >= start, d.c.effective_date <= end)
             .order_by(d.c.effective_date, d.c.id))
    if county_code:
        query = query.where(p.c.county_code == county_code)
    rows = session.execute(query).all()
    before = c.authorised_subquery(product.id, start - timedelta(days=1))
    held_before = set(session.execute(select(before.c.producer_id)).scalars())
    known = {code for code, _n in counties}

    def blank() -> dict:
        return {k: 0 for k in MOVEMENTS}

    by_county = {code: blank() for code, _n in counties}
    by_reason: dict[str, dict[str, int]] = {}
    seen_new: set[int] = set()
    key = {"apply": "applications", "approve": "approvals", "reject": "rejections", "suspend": "suspensions",
           "reinstate": "reinstatements", "revoke": "revocations"}
    for pid, action, _day, reason_code, county in rows:
        bucket = by_county.setdefault(county if county in known else NO_COUNTY, blank())
        bucket[key[action]] += 1
        if action == "approve" and pid in held_before:
            bucket["renewals"] += 1  # approved again while holding the right: a renewal of its term
        elif action == "approve" and pid not in seen_new:
            seen_new.add(pid)
            bucket["new_users"] += 1
        if action in rules.REASONED_ACTIONS:
            code = reason_code or "other"
            by_reason.setdefault(code, {"rejections": 0, "suspensions": 0, "revocations": 0})[key[action]] += 1
    # Expiries: approvals whose term ran out in the year (valid through 31 Dec of the year before to 30 Dec)
    # without a renewal or revocation before the end of their term.
    n = AuthorisationDecision.__table__.alias("d_after")
    ended_before = (select(n.c.id).where(n.c.producer_id == d.c.producer_id, n.c.product_id == product.id,
                                         n.c.action.in_(("approve", "revoke")),
                                         or_(n.c.effective_date > d.c.effective_date,
                                             and_(n.c.effective_date == d.c.effective_date, n.c.id > d.c.id)),
                                         n.c.effective_date <= d.c.valid_until).exists())
    expired = (select(p.c.county_code, func.count()).select_from(d.join(p, p.c.id == d.c.producer_id))
               .where(d.c.product_id == product.id, d.c.action == "approve",
                      d.c.valid_until >= start - timedelta(days=1), d.c.valid_until < end, ~ended_before)
               .group_by(p.c.county_code))
    if county_code:
        expired = expired.where(p.c.county_code == county_code)
    for county, count in session.execute(expired).all():
        by_county.setdefault(county if county in known else NO_COUNTY, blank())["expiries"] += int(count)
    totals = {k: sum(row[k] for row in by_county.values()) for k in MOVEMENTS}
    return {"by_county": by_county, "totals": totals,
            "by_reason": {code: by_reason.get(code, {"rejections": 0, "suspensions": 0, "revocations": 0})
                          for code in rules.REASON_CODES}}


def dormant_users(session: Session, product: Product, year: int, as_of: date,
                  county_code: Optional[str] = None) -> list[dict]:
    """Users authorised on the date that recorded no batch and issued no label in the year (non-use)."""
    b, u, p = Batch.__table__, UnitCode.__table__, Producer.__table__
    t0, t1 = year_instants(year)
    authorised = c.authorised_subquery(product.id, as_of)
    members = c.region_producers(product.id, county_code, as_of).subquery("members")
    # A batch of the year's season is use of that year, whenever it was typed in (its first event dates it).
    active_batches = select(b.c.producer_id).where(
        b.c.product_id == product.id, or_(and_(b.c.created_at >= t0, b.c.created_at < t1),
                                          and_(b.c.first_event_at >= t0, b.c.first_event_at < t1)))
    active_labels = (select(b.c.producer_id).select_from(u.join(b, b.c.id == u.c.batch_id))
                     .where(b.c.product_id == product.id, u.c.issued_at >= t0, u.c.issued_at < t1))
    rows = session.execute(
        select(p.c.id, p.c.name, p.c.uscc, p.c.registry_no, p.c.county_code, p.c.kind)
        .join(members, members.c.id == p.c.id).join(authorised, authorised.c.producer_id == p.c.id)
        .where(p.c.id.not_in(active_batches), p.c.id.not_in(active_labels))
        .order_by(p.c.county_code, p.c.id)).all()
    return [{"producer_id": r[0], "name": r[1], "code": r[2] or r[3] or "", "county_code": r[4], "kind": r[5]}
            for r in rows]


# --- 三、监督检查与执法 -----------------------------------------------------------------------------

def inspections(session: Session, product: Product, year: int, county_code: Optional[str] = None) -> dict:
    i, p = Inspection.__table__, Producer.__table__
    query = (select(i.c.result, func.count(), func.count(i.c.decision_id)).join(p, p.c.id == i.c.producer_id)
             .where(i.c.inspected_on >= date(year, 1, 1), i.c.inspected_on <= date(year, 12, 31),
                    (i.c.product_id == product.id) | i.c.product_id.is_(None))
             .group_by(i.c.result))
    if county_code:
        query = query.where(p.c.county_code == county_code)
    found = {result: (n, suspended) for result, n, suspended in session.execute(query).all()}
    passed, failed = found.get("pass", (0, 0))[0], found.get("fail", (0, 0))[0]
    return {"total": passed + failed, "passed": passed, "failed": failed,
            "suspensions": sum(s for _n, s in found.values()), "pass_rate": c.share(passed, passed + failed)}


def sampling_tests(session: Session, product: Product, year: int, county_code: Optional[str] = None) -> dict:
    """Test events of the product's batches in the year: per item, how many were measured and passed."""
    e, b, p = Event.__table__, Batch.__table__, Producer.__table__
    t0, t1 = year_instants(year)
    query = (select(e.c.data).select_from(e.join(b, b.c.id == e.c.batch_id).join(p, p.c.id == b.c.producer_id))
             .where(b.c.product_id == product.id, e.c.stage == "testing", e.c.occurred_at >= t0,
                    e.c.occurred_at < t1, e.c.corrects_event_id.is_(None)))
    if county_code:
        query = query.where(p.c.county_code == county_code)
    items = {k: {"tested": 0, "passed": 0} for k in TEST_ITEMS}
    tests = passed_all = 0
    fallback = {"moisture_max_pct": product.max_moisture_pct, "grade_scale": product.grade_scale or []}
    for (data,) in session.execute(query).all():
        # The computed verdict (measured values against the limits kept in the event), never typed ticks
        # or the lab's own conclusion; an older test without measured values is not counted as passed.
        data = data or {}
        tests += 1
        outcome = quality.evaluate(data, fallback=fallback)
        failed = {f["item"] for f in outcome.failures}
        measured = {
            "moisture": data.get("moisture_pct") is not None,
            "so2": data.get("so2_mg_per_kg") is not None or data.get("so2_pass") is not None,
            "pesticide": "residues" in data or data.get("pesticide_pass") is not None,
        }
        fails = {"moisture": {quality.MOISTURE}, "so2": {quality.SO2, quality.LEGACY_SO2},
                 "pesticide": {quality.RESIDUE, quality.BANNED, quality.LEGACY_PESTICIDE}}
        for item in TEST_ITEMS:
            if measured[item]:
                items[item]["tested"] += 1
                items[item]["passed"] += not (failed & fails[item])
        passed_all += not outcome.failures and not outcome.legacy
    for row in items.values():
        row["pass_rate"] = c.share(row["passed"], row["tested"])
    return {"tests": tests, "passed": passed_all, "pass_rate": c.share(passed_all, tests), "items": items}


def enforcement(session: Session, product: Product, year: int, county_code: Optional[str] = None) -> dict:
    """Cases opened in the year (立案) and closed in it (结案), with fines, confiscations and transfers."""
    k = EnforcementCase.__table__
    start, end = date(year, 1, 1), date(year, 12, 31)
    where = [(k.c.product_id == product.id) | k.c.product_id.is_(None)]
    if county_code:
        where.append(k.c.county_code == county_code)
    opened = session.execute(select(k).where(*where, k.c.opened_on >= start, k.c.opened_on <= end)
                             .order_by(k.c.opened_on, k.c.id)).mappings().all()
    closed = session.execute(select(k).where(*where, k.c.closed_on >= start, k.c.closed_on <= end)
                             .order_by(k.c.closed_on, k.c.id)).mappings().all()
    return {
        "opened": len(opened), "closed": len(closed),
        "fines_yuan": round(sum(r["fine_yuan"] for r in closed), 2),
        "confiscated_value_yuan": round(sum(r["confiscated_value_yuan"] for r in closed), 2),
        "transferred_to_police": sum(bool(r["transferred_to_police"]) for r in closed),
        "cases": [{"case_no": r["case_no"], "party": r["party"], "county_code": r["county_code"] or NO_COUNTY,
                   "finding": r["finding"], "opened_on": r["opened_on"].isoformat(),
                   "closed_on": r["closed_on"].isoformat() if r["closed_on"] else "",
                   "fine_yuan": r["fine_yuan"], "confiscated": r["confiscated"],
                   "confiscated_value_yuan": r["confiscated_value_yuan"],
                   "transferred_to_police": bool(r["transferred_to_police"])}
                  for r in sorted({r["id"]: r for r in list(opened) + list(closed)}.values(),
                                  key=lambda r: (r["opened_on"], r["id"]))],
    }


def complaints(session: Session, year: int, county_code: Optional[str] = None) -> dict:
    """Complaints received in the year by category, and the median days from receipt to closing."""
    k, p = Complaint.__table__, Producer.__table__
    t0, t1 = year_instants(year)
    query = (select(k.c.category, k.c.status, k.c.created_at, k.c.closed_at)
             .select_from(k.outerjoin(p, p.c.id == k.c.producer_id))
             .where(k.c.created_at >= t0, k.c.created_at < t1))
    if county_code:
        query = query.where(p.c.county_code == county_code)
    by_category: dict[str, dict] = {}
    all_days = []
    for category, status, created, closed in session.execute(query).all():
        row = by_category.setdefault(category, {"received": 0, "closed": 0, "days": []})
        row["received"] += 1
        if status == "closed" and closed is not None:
            row["closed"] += 1
            days = (closed - created).total_seconds() / 86400
            row["days"].append(days)
            all_days.append(days)
    out = {}
    for category, row in sorted(by_category.items()):
        out[category] = {"received": row["received"], "closed": row["closed"],
                         "median_days": round(statistics.median(row["days"]), 1) if row["days"] else None}
    return {"received": sum(r["received"] for r in out.values()), "closed": sum(r["closed"] for r in out.values()),
            "median_days": round(statistics.median(all_days), 1) if all_days else None, "by_category": out}


# --- 四、追溯体系运行 -------------------------------------------------------------------------------

def scans(session: Session, product: Product, year: int, counties: list[tuple[str, str]],
          county_code: Optional[str] = None) -> dict:
    """Codes of the product first scanned in the year, by month of the first scan and by county, with
    their scans; counterfeit signals raised in the year by outcome."""
    s, b, p = ScanCounter.__table__, Batch.__table__, Producer.__table__
    t0, t1 = year_instants(year)
    query = (select(s.c.first_at, s.c.scans, p.c.county_code)
             .select_from(s.join(b, b.c.id == s.c.batch_id).join(p, p.c.id == b.c.producer_id))
             .where(b.c.product_id == product.id, s.c.first_at >= t0, s.c.first_at < t1, s.c.scans > 0))
    if county_code:
        query = query.where(p.c.county_code == county_code)
    months = {m: {"codes": 0, "scans": 0} for m in range(1, 13)}
    known = {code for code, _n in counties}
    by_county = {code: {"codes": 0, "scans": 0} for code, _n in counties}
    for first_at, n, county in session.execute(query).all():
        month = first_at.astimezone(LOCAL_TZ).month
        months[month]["codes"] += 1
        months[month]["scans"] += int(n)
        row = by_county.setdefault(county if county in known else NO_COUNTY, {"codes": 0, "scans": 0})
        row["codes"] += 1
        row["scans"] += int(n)
    f = CounterfeitFlag.__table__
    q = (select(f.c.status, func.count()).select_from(f.outerjoin(p, p.c.id == f.c.producer_id))
         .where(f.c.raised_at >= t0, f.c.raised_at < t1).group_by(f.c.status))
    if county_code:
        q = q.where(p.c.county_code == county_code)
    signals = {status: 0 for status in ("open", "dismissed", "confirmed")}
    signals.update(dict(session.execute(q).all()))
    return {"codes": sum(m["codes"] for m in months.values()), "scans": sum(m["scans"] for m in months.values()),
            "by_month": months, "by_county": by_county, "counterfeit": signals,
            "counterfeit_total": sum(signals.values())}


def recalls(session: Session, product: Product, year: int, county_code: Optional[str] = None) -> dict:
    """Recalls started in the year (a batch withdrawn, 召回/撤回) and what they reached, from their member rows.

    `batches`/`kg`: the withdrawn batches and what they held. Reach (tracing.recall's member rows, as the
    batches stand now): `reached_batches` the batches made from them (splits, merges, processing, other
    owners' batches); `reached_kg` every kilogram the recalled batches held, each counted once (kilograms
    passed from one recalled batch to another count in the first only; kilograms blended in from elsewhere
    count, the blend being recalled whole); `units` the unit codes (packages, 一物一码) issued under them;
    `parties` the distinct owners of recalled batches and receivers of their goods still in transit;
    `lifted` the batches a regulator lifted the recall from. A county's report counts the recalls of its
    owners' batches, with their reach wherever it went.
    """
    r, b, p = Recall.__table__, Batch.__table__, Producer.__table__
    t0, t1 = year_instants(year)
    query = (select(r.c.id, r.c.source_code, r.c.recalled_at, r.c.reason, b.c.quantity_kg, p.c.county_code)
             .join(b, b.c.id == r.c.source_batch_id).join(p, p.c.id == b.c.producer_id)
             .where(b.c.product_id == product.id, r.c.recalled_at >= t0, r.c.recalled_at < t1)
             .order_by(r.c.recalled_at, r.c.id))
    if county_code:
        query = query.where(p.c.county_code == county_code)
    rows = session.execute(query).all()
    reach = _recall_reach(session, [row[0] for row in rows])
    listed = []
    for rid, code, at, reason, kg, county in rows:
        found = reach.get(rid, {})
        listed.append({"code": code, "withdrawn_on": at.astimezone(LOCAL_TZ).date().isoformat(), "reason": reason,
                       "kg": float(kg or 0), "county_code": county,
                       **{k: found.get(k, 0) for k in ("reached_batches", "reached_kg", "units", "lifted")},
                       "parties": len(found.get("party_ids", ()))})
    parties = set().union(*(found["party_ids"] for found in reach.values())) if reach else set()
    return {"batches": len(rows), "kg": round(sum(row["kg"] for row in listed), 3),
            "reached_batches": sum(row["reached_batches"] for row in listed),
            "reached_kg": round(sum(row["reached_kg"] for row in listed), 3),
            "units": sum(row["units"] for row in listed), "parties": len(parties),
            "lifted": sum(row["lifted"] for row in listed), "list": listed}


def _recall_reach(session: Session, recall_ids: list[int]) -> dict[int, dict]:
    """Each recall's reach from its member rows: three statements for all of them."""
    if not recall_ids:
        return {}
    m, r, b, x = RecallMember.__table__, Recall.__table__, Batch.__table__, RecallLift.__table__
    out: dict[int, dict] = {rid: {"reached_batches": 0, "reached_kg": 0.0, "units": 0, "lifted": 0,
                                  "party_ids": set()} for rid in recall_ids}
    members = (select(m.c.recall_id, m.c.batch_id == r.c.source_batch_id, b.c.quantity_kg, b.c.units_issued,
                      b.c.producer_id, x.c.id.is_not(None))
               .join(r, r.c.id == m.c.recall_id).join(b, b.c.id == m.c.batch_id)
               .outerjoin(x, and_(x.c.recall_id == m.c.recall_id, x.c.batch_id == m.c.batch_id))
               .where(m.c.recall_id.in_(recall_ids)))
    for rid, source, kg, units, owner, lifted in session.execute(members).all():
        found = out[rid]
        found["reached_batches"] += 0 if source else 1
        found["reached_kg"] += float(kg or 0)
        found["units"] += int(units or 0)
        found["lifted"] += 1 if lifted else 0
        found["party_ids"].add(owner)
    # Kilograms one recalled batch passed to another are counted once (in the batch they left).
    link, child = BatchLink.__table__, m.alias("child")
    passed = (select(m.c.recall_id, func.sum(link.c.quantity_kg))
              .join(link, link.c.parent_id == m.c.batch_id)
              .join(child, and_(child.c.batch_id == link.c.child_id, child.c.recall_id == m.c.recall_id))
              .where(m.c.recall_id.in_(recall_ids)).group_by(m.c.recall_id))
    for rid, kg in session.execute(passed).all():
        out[rid]["reached_kg"] -= float(kg or 0)
    s = Shipment.__table__
    transit = (select(m.c.recall_id, s.c.to_party_id).join(s, s.c.batch_id == m.c.batch_id)
               .where(m.c.recall_id.in_(recall_ids), s.c.status == "in_transit"))
    for rid, party in session.execute(transit).all():
        out[rid]["party_ids"].add(party)
    for found in out.values():
        found["reached_kg"] = round(max(found["reached_kg"], 0.0), 3)
    return out


def labels_against_output(traceability: dict) -> dict:
    """以产核标: unit codes issued and traced kilograms against the authorised users' output."""
    return {"labels_issued": traceability["labels_issued"], "traced_kg": traceability["traced_kg"],
            "authorised_output_kg": traceability["authorised_output_kg"],
            "traced_share": traceability["traced_share"]}

"""Scan counting, counterfeit flags and the context attached to a shopper's complaint.

``record_scans` writes many scans in a few executemany statements (the write-behind recorder calls
it a few times a second; `record_scan` is the one-scan form used when scans are written in the
request). A guarded UPDATE and one INSERT happen only on the rare scan that crosses a threshold.
Services never commit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from gi_trace.registry.models import Producer
from gi_trace.scan.models import CounterfeitFlag, ScanCounter, ScanNetwork
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing import units
from gi_trace.tracing.models import Batch, UnitCode
from gi_trace.types import utcnow

COUNTER = ScanCounter.__table__
NETWORK = ScanNetwork.__table__
FLAG = CounterfeitFlag.__table__

# kind -> (distinct networks, distinct days) at which a counterfeit flag is raised; 0 disables a limit.
# Repeated scans from one network are never evidence (anyone can scan a code a thousand times; the
# scan page's per-network rate limit slows that down): only spread counts, in space or in time.
DEFAULT_THRESHOLDS = {
    # One package, one code: its buyer scans it at home and on the phone's data, perhaps a relative
    # too. A third network, or scans on many days from more than one network, is what a copied label
    # looks like.
    "unit": (3, 5),
    # A batch code is printed on every package of the batch, so only mass scanning stands out.
    "batch": (2000, 0),
}


@dataclass(frozen=True)
class ScanCount:
    """The code's counter after this scan."""

    scans: int
    networks: int
    first_at: datetime
    flagged: bool
    flag_raised_now: bool = False
    days: int = 0


def thresholds(config: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """kind -> (networks, days) thresholds, from config keys SCAN_<KIND>_FLAG_NETWORKS / _DAYS."""
    limits = {}
    for kind, (networks, days) in DEFAULT_THRESHOLDS.items():
        prefix = f"SCAN_{kind.upper()}_FLAG_"
        limits[kind] = (int(config.get(prefix + "NETWORKS", networks) or 0),
                        int(config.get(prefix + "DAYS", days) or 0))
    return limits


def flag_reason(networks: int, days: int, limits: tuple[int, int]) -> Optional[str]:
    """'networks' or 'days' when a limit is reached, else None.

    Days count only once more than one network has scanned the code: one network scanning every day
    is the buyer (or someone who wants a genuine package to look copied), not a second label.
    """
    max_networks, max_days = limits
    if max_networks and networks >= max_networks:
        return "networks"
    if max_days and networks >= 2 and days >= max_days:
        return "days"
    return None


def local_day(value: datetime) -> str:
    """The Zhongwei date of an instant, as YYYY-MM-DD (days are counted in local time)."""
    return value.astimezone(LOCAL_TZ).date().isoformat()


@dataclass(frozen=True)
class Scans:
    """`count` scans of one code from one network, the first at `first_at`, the last at `last_at`."""

    code: str
    kind: str
    batch_id: Optional[int]
    producer_id: Optional[int]
    network_hash: str
    count: int
    first_at: datetime
    last_at: datetime


def _dialect_sql(sql: str) -> dict[str, str]:
    return {"sqlite": sql, "postgresql": re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)}


_NETWORK_UPSERT = _dialect_sql("""
INSERT INTO scannetwork (code, network_hash, scans, first_at, last_at)
VALUES (:code, :network_hash, :count, :first_at, :last_at)
ON CONFLICT (code, network_hash) DO UPDATE SET scans = scannetwork.scans + excluded.scans,
                                               last_at = excluded.last_at
""")
_COUNTER_UPSERT = _dialect_sql("""
INSERT INTO scancounter (code, kind, batch_id, scans, networks, days, last_day, first_at, last_at, flagged)
VALUES (:code, :kind, :batch_id, :count, :networks, :days, :last_day, :first_at, :last_at, :false)
ON CONFLICT (code) DO UPDATE SET scans = scancounter.scans + excluded.scans,
                                 networks = scancounter.networks + excluded.networks,
                                 days = scancounter.days + excluded.days,
                                 last_day = CASE WHEN excluded.last_day > scancounter.last_day
                                                 THEN excluded.last_day ELSE scancounter.last_day END,
                                 last_at = excluded.last_at
""")
# Guarded: two processes crossing the line together raise one flag.
_MARK_FLAGGED = _dialect_sql("UPDATE scancounter SET flagged = :true WHERE code = :code AND flagged = :false")


def _param_time(dialect: str, value: datetime):
    # Same storage as gi_trace.types.UTCDateTime: naive UTC text on SQLite, timestamptz on PostgreSQL.
    value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if dialect == "sqlite" else value


def _read_time(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _in_list(prefix: str, values: list) -> tuple[str, dict]:
    names = [f"{prefix}{i}" for i in range(len(values))]
    return ", ".join(":" + n for n in names), dict(zip(names, values))


def record_scans(conn: Connection, items: list[Scans], limits: Mapping[str, tuple[int, int]]) -> list[str]:
    """Count many scans in a few statements on the driver's cursor; return the codes newly flagged.

    Scans of one code from one network are added up. The stored counters and the (code, network)
    pairs already seen are read first, in one statement each, so the new distinct networks and the
    resulting totals are known without a query per code; then one executemany UPSERT per table.
    A CounterfeitFlag is raised the first time a code reaches a limit of its kind. On SQLite the
    transaction takes the write lock before reading (BEGIN IMMEDIATE), so counts are exact; on
    PostgreSQL two processes seeing the same new network in the same instant may both count it.
    """
    if not items:
        return []
    dialect = conn.dialect.name
    t = lambda value: _param_time(dialect, value)  # noqa: E731
    networks: dict[tuple[str, str], list] = {}
    counters: dict[str, list] = {}
    for item in items:
        key = (item.code, item.network_hash)
        n = networks.get(key)
        if n is None:
            networks[key] = [item.count, item.first_at, item.last_at]
        else:
            n[0] += item.count
            n[1], n[2] = min(n[1], item.first_at), max(n[2], item.last_at)
        c = counters.get(item.code)
        if c is None:
            counters[item.code] = [item, item.count, item.first_at, item.last_at]
        else:
            c[1] += item.count
            c[2], c[3] = min(c[2], item.first_at), max(c[3], item.last_at)
    codes = sorted(counters)  # a fixed order: two writers never wait on each other's rows in a cycle
    pairs = sorted(networks)
    cursor = conn.connection.driver_connection.cursor()
    raised = []
    try:
        if dialect == "sqlite" and not conn.connection.driver_connection.in_transaction:
            cursor.execute("BEGIN IMMEDIATE")
        stored: dict[str, tuple] = {}
        seen: set[tuple[str, str]] = set()
        for start in range(0, len(codes), 400):  # bounded IN lists
            part = codes[start:start + 400]
            names, params = _in_list("c", part)
            cursor.execute(_dialect_sql(f"SELECT code, scans, networks, flagged, days, last_day FROM scancounter "
                                        f"WHERE code IN ({names})")[dialect], params)
            stored.update((row[0], row[1:]) for row in cursor.fetchall())
        for start in range(0, len(pairs), 400):
            part = pairs[start:start + 400]
            values = ", ".join(f"(:c{i}, :n{i})" for i in range(len(part)))
            params = {}
            for i, (code, net) in enumerate(part):
                params[f"c{i}"], params[f"n{i}"] = code, net
            cursor.execute(_dialect_sql(f"SELECT code, network_hash FROM scannetwork "
                                        f"WHERE (code, network_hash) IN (VALUES {values})")[dialect], params)
            seen.update((row[0], row[1]) for row in cursor.fetchall())
        new_networks: dict[str, int] = {}
        for pair in pairs:
            if pair not in seen:
                new_networks[pair[0]] = new_networks.get(pair[0], 0) + 1
        # Days on which the code was scanned that come after the last day already counted (scans
        # arrive in time order, a flush covers a fraction of a second: first and last day suffice).
        new_days: dict[str, tuple[int, str]] = {}
        for code in codes:
            last_counted = (stored.get(code) or (0, 0, False, 0, ""))[4] or ""
            days = {local_day(counters[code][2]), local_day(counters[code][3])}
            new_days[code] = (len([d for d in days if d > last_counted]), max(days | {last_counted}))
        cursor.executemany(_NETWORK_UPSERT[dialect], [
            {"code": code, "network_hash": net, "count": n, "first_at": t(first), "last_at": t(last)}
            for (code, net), (n, first, last) in ((pair, networks[pair]) for pair in pairs)])
        cursor.executemany(_COUNTER_UPSERT[dialect], [
            {"code": code, "kind": counters[code][0].kind, "batch_id": counters[code][0].batch_id,
             "count": counters[code][1], "networks": new_networks.get(code, 0), "days": new_days[code][0],
             "last_day": new_days[code][1], "first_at": t(counters[code][2]),
             "last_at": t(counters[code][3]), "false": False} for code in codes])
        for code in codes:
            item = counters[code][0]
            before = stored.get(code, (0, 0, False, 0, ""))
            if before[2]:
                continue
            scans = before[0] + counters[code][1]
            n_networks = before[1] + new_networks.get(code, 0)
            reason = flag_reason(n_networks, (before[3] or 0) + new_days[code][0], limits[item.kind])
            if reason is None:
                continue
            cursor.execute(_MARK_FLAGGED[dialect], {"code": code, "true": True, "false": False})
            if cursor.rowcount == 1:
                raised.append((item, reason, scans, n_networks))
    finally:
        cursor.close()
    for item, reason, scans, n_networks in raised:
        conn.execute(FLAG.insert().values(code=item.code, kind=item.kind, batch_id=item.batch_id,
                                          producer_id=item.producer_id, reason=reason, scans=scans,
                                          networks=n_networks, raised_at=utcnow(), status="open", note=""))
    return [item.code for item, *_rest in raised]


def record_scan(conn: Connection, *, code: str, kind: str, batch_id: Optional[int], producer_id: Optional[int],
                network_hash: str, limits: Mapping[str, tuple[int, int]], now: Optional[datetime] = None) -> ScanCount:
    """Count one scan now and return the code's counter after it."""
    now = now or utcnow()
    raised = record_scans(conn, [Scans(code, kind, batch_id, producer_id, network_hash, 1, now, now)], limits)
    count = scan_count(conn, code)
    return ScanCount(count.scans, count.networks, count.first_at, count.flagged, flag_raised_now=bool(raised),
                     days=count.days)


def scan_count(conn: Connection, code: str) -> Optional[ScanCount]:
    """The code's counter as it stands (no scan recorded), or None if never scanned."""
    row = conn.execute(select(COUNTER.c.scans, COUNTER.c.networks, COUNTER.c.first_at, COUNTER.c.flagged,
                              COUNTER.c.days).where(COUNTER.c.code == code)).first()
    return ScanCount(row[0], row[1], _read_time(row[2]), bool(row[3]), days=row[4] or 0) if row else None


def network_seen(conn: Connection, code: str, network_hash: str) -> bool:
    """True when this network had scanned the code before."""
    return conn.execute(select(NETWORK.c.scans).where(NETWORK.c.code == code,
                                                      NETWORK.c.network_hash == network_hash)).first() is not None


def complaint_context(conn: Connection, *, code: str, kind: str, network_hash: str,
                      page: Optional[str] = None) -> dict:
    """What regulators need beside a complaint: the code's scan record and whether the reporter scanned it."""
    context: dict[str, Any] = {"code": code, "kind": kind, "reporter_network": network_hash}
    count = scan_count(conn, code) if kind in ("batch", "unit") else None
    if count is not None:
        context.update(scans=count.scans, networks=count.networks, first_scanned_at=count.first_at.isoformat(),
                       counterfeit_flag=count.flagged,
                       reporter_scanned_it=network_seen(conn, code, network_hash))
    if page:
        context["page"] = page
    return context


def open_flags(session: Session, county_code: Optional[str] = None, limit: int = 200) -> list[tuple]:
    """Open counterfeit flags, newest first, with the producer (a county regulator sees its county only)."""
    query = (select(FLAG, Producer.__table__.c.name.label("producer_name"))
             .select_from(FLAG.outerjoin(Producer.__table__, Producer.__table__.c.id == FLAG.c.producer_id))
             .where(FLAG.c.status == "open").order_by(FLAG.c.raised_at.desc(), FLAG.c.id.desc()).limit(limit))
    if county_code:
        query = query.where(Producer.__table__.c.county_code == county_code)
    return list(session.execute(query).all())


def batch_scan_counts(session: Session, batches: Sequence[Batch]) -> dict[int, units.Scans]:
    """How often each batch's own code and its unit codes were scanned, per batch id (the producer portal
    shows it; connected to tracing.units.scan_counts by the app factory)."""
    if not batches:
        return {}
    ids = [b.id for b in batches]
    by_code = {b.code: b.id for b in batches}
    own = dict(session.execute(select(ScanCounter.code, ScanCounter.scans)
                            .where(ScanCounter.code.in_(list(by_code)))).all())
    unit_rows = session.execute(select(UnitCode.batch_id, func.coalesce(func.sum(ScanCounter.scans), 0))
                             .join(ScanCounter, ScanCounter.code == UnitCode.code)
                             .where(UnitCode.batch_id.in_(ids)).group_by(UnitCode.batch_id)).all()
    unit_scans = {batch_id: int(total) for batch_id, total in unit_rows}
    return {b.id: units.Scans(int(own.get(b.code, 0)), unit_scans.get(b.id, 0)) for b in batches}

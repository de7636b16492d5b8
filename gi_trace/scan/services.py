"""Scan counting, counterfeit flags and the context attached to a shopper's complaint.

`record_scan` is on the hot path of every scan: two UPSERTs with RETURNING (the network's row,
then the code's counter) on the caller's connection, plus a guarded UPDATE and one INSERT only
on the rare scan that crosses a threshold. Services never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from gi_trace.registry.models import Producer
from gi_trace.scan.models import CounterfeitFlag, ScanCounter, ScanNetwork
from gi_trace.types import UTCDateTime, utcnow

COUNTER = ScanCounter.__table__
NETWORK = ScanNetwork.__table__
FLAG = CounterfeitFlag.__table__

# kind -> (scans, distinct networks) at which a counterfeit flag is raised; 0 disables a limit.
DEFAULT_THRESHOLDS = {
    # One package, one code: a handful of scans from a few networks is a shopper, a family, a
    # shop assistant; dozens, or scans from many places, mean the label was copied.
    "unit": (20, 4),
    # A batch code is printed on every package of the batch, so only mass scanning stands out.
    "batch": (20000, 2000),
}


@dataclass(frozen=True)
class ScanCount:
    """The code's counter after this scan."""

    scans: int
    networks: int
    first_at: datetime
    flagged: bool
    flag_raised_now: bool = False


def thresholds(config: Mapping[str, Any], kind: str) -> tuple[int, int]:
    """The (scans, networks) thresholds for a code kind, from config keys SCAN_<KIND>_FLAG_SCANS/NETWORKS."""
    scans, networks = DEFAULT_THRESHOLDS[kind]
    prefix = f"SCAN_{kind.upper()}_FLAG_"
    return int(config.get(prefix + "SCANS", scans) or 0), int(config.get(prefix + "NETWORKS", networks) or 0)


def flag_reason(scans: int, networks: int, limits: tuple[int, int]) -> Optional[str]:
    """'networks' or 'scans' when a limit is reached (networks first: the stronger sign), else None."""
    max_scans, max_networks = limits
    if max_networks and networks >= max_networks:
        return "networks"
    if max_scans and scans >= max_scans:
        return "scans"
    return None


_STATEMENTS: dict[str, tuple] = {}


def _statements(dialect: str) -> tuple:
    """The two UPSERTs for a dialect, built once (their compiled form is then cached too)."""
    if dialect not in _STATEMENTS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = bindparam("now", type_=UTCDateTime)
        net = insert(NETWORK).values(code=bindparam("code"), network_hash=bindparam("network_hash"),
                                     scans=1, first_at=now, last_at=now)
        net = net.on_conflict_do_update(
            index_elements=[NETWORK.c.code, NETWORK.c.network_hash],
            set_={"scans": NETWORK.c.scans + 1, "last_at": net.excluded.last_at},
        ).returning(NETWORK.c.scans)
        counter = insert(COUNTER).values(code=bindparam("code"), kind=bindparam("kind"),
                                         batch_id=bindparam("batch_id"), scans=1, networks=1,
                                         first_at=now, last_at=now, flagged=False)
        counter = counter.on_conflict_do_update(
            index_elements=[COUNTER.c.code],
            set_={"scans": COUNTER.c.scans + 1, "networks": COUNTER.c.networks + bindparam("new_network"),
                  "last_at": counter.excluded.last_at},
        ).returning(COUNTER.c.scans, COUNTER.c.networks, COUNTER.c.first_at, COUNTER.c.flagged)
        _STATEMENTS[dialect] = (net, counter)
    return _STATEMENTS[dialect]


_MARK_FLAGGED = (update(COUNTER).where(COUNTER.c.code == bindparam("code"), COUNTER.c.flagged.is_(False))
                 .values(flagged=True))


def record_scan(conn: Connection, *, code: str, kind: str, batch_id: Optional[int], producer_id: Optional[int],
                network_hash: str, limits: tuple[int, int], now: Optional[datetime] = None) -> ScanCount:
    """Count one scan of a code from a network; raise a CounterfeitFlag the first time a limit is reached."""
    now = now or utcnow()
    net_stmt, counter_stmt = _statements(conn.dialect.name)
    network_scans = conn.execute(net_stmt, {"code": code, "network_hash": network_hash, "now": now}).scalar_one()
    scans, networks, first_at, flagged = conn.execute(counter_stmt, {
        "code": code, "kind": kind, "batch_id": batch_id, "now": now,
        "new_network": 1 if network_scans == 1 else 0,
    }).one()
    raised = False
    if not flagged:
        reason = flag_reason(scans, networks, limits)
        # The guarded UPDATE makes the flag single even when two workers cross the line together.
        if reason and conn.execute(_MARK_FLAGGED, {"code": code}).rowcount == 1:
            conn.execute(FLAG.insert().values(code=code, kind=kind, batch_id=batch_id, producer_id=producer_id,
                                              reason=reason, scans=scans, networks=networks, raised_at=now,
                                              status="open", note=""))
            flagged = raised = True
    return ScanCount(scans=scans, networks=networks, first_at=first_at, flagged=flagged, flag_raised_now=raised)


def scan_count(conn: Connection, code: str) -> Optional[ScanCount]:
    """The code's counter as it stands (no scan recorded), or None if never scanned."""
    row = conn.execute(select(COUNTER.c.scans, COUNTER.c.networks, COUNTER.c.first_at, COUNTER.c.flagged)
                       .where(COUNTER.c.code == code)).first()
    return ScanCount(*row) if row else None


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

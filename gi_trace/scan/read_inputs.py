"""The season's inputs of the plots behind a batch, for its public page (two statements, no ORM).

The plots behind a batch are those its harvest ancestors (or itself) were picked from: the plot named by
each standing harvest event (a corrected event gives way to its correction), in the season (year) of that
harvest. Every input recorded on those plots in those seasons is listed once, oldest first, without the
corrected ones. Only what a shopper may see is read: no plot name, no applicant (a household's plot and
its members are personal data), the town instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Optional

from gi_trace.scan.readconn import ReadConnection

_HARVESTS_SQL = """
SELECT e.id, e.batch_id, CAST(e.data AS TEXT), e.occurred_at, e.utc_offset_min, e.corrects_event_id
FROM event e WHERE e.stage = 'harvest' AND e.batch_id IN ({ids})
"""
_INPUTS_SQL = """
SELECT i.id, i.plot_id, i.season, i.kind, i.product_name, i.registration_no, i.active_ingredient, i.dose,
       i.applied_on, i.safety_interval_days, i.supersedes_id, p.town_code
FROM plotinput i JOIN plot p ON p.id = i.plot_id
WHERE i.plot_id IN ({ids})
ORDER BY i.applied_on, i.id
"""
MAX_LINES = 60  # a page lists at most this many applications (a blend of many plots says "…")


@dataclass(frozen=True)
class InputLine:
    """One application on a plot behind the batch, as the public page shows it."""

    town_code: Optional[str]
    season: int
    kind: str
    product_name: str
    registration_no: str
    active_ingredient: str
    dose: str
    applied_on: date
    safety_interval_days: Optional[int]

    @property
    def earliest_harvest(self) -> Optional[date]:
        if not self.safety_interval_days:
            return None
        return self.applied_on + timedelta(days=self.safety_interval_days)


def _rows(conn, sql: str, ids: Iterable[int]) -> tuple[str, list]:
    if isinstance(conn, ReadConnection):
        dialect, dbapi = conn.dialect_name, conn.dbapi
    else:
        dialect, dbapi = conn.dialect.name, conn.connection.driver_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql.format(ids=", ".join(str(int(i)) for i in ids)))
        return dialect, cursor.fetchall()
    finally:
        cursor.close()


def _year(occurred_at, offset_min: Optional[int]) -> int:
    if isinstance(occurred_at, str):
        occurred_at = datetime.fromisoformat(occurred_at)
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=timezone.utc)
    return occurred_at.astimezone(timezone(timedelta(minutes=offset_min or 0))).year


def plots_of_harvests(conn, harvest_ids: Iterable[int]) -> dict[int, set[tuple[int, int]]]:
    """(plot id, season) of the standing harvest events of each harvest batch."""
    ids = sorted({int(i) for i in harvest_ids})
    if not ids:
        return {}
    _dialect, rows = _rows(conn, _HARVESTS_SQL, ids)
    corrected = {r[5] for r in rows if r[5] is not None}
    out: dict[int, set[tuple[int, int]]] = {}
    for event_id, batch_id, data, occurred_at, offset, _corrects in rows:
        if event_id in corrected:
            continue
        data = json.loads(data) if isinstance(data, str) else data
        plot_id = data.get("plot_id") if isinstance(data, dict) else None
        if isinstance(plot_id, int) and not isinstance(plot_id, bool):
            out.setdefault(batch_id, set()).add((plot_id, _year(occurred_at, offset)))
    return out


def inputs_of_plots(conn, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[InputLine]]:
    """The standing input records of each (plot id, season), oldest application first."""
    pairs = set(pairs)
    if not pairs:
        return {}
    _dialect, rows = _rows(conn, _INPUTS_SQL, sorted({p for p, _s in pairs}))
    gone = {r[10] for r in rows if r[10] is not None}
    out: dict[tuple[int, int], list[InputLine]] = {}
    for r in rows:
        key = (r[1], r[2])
        if r[0] in gone or key not in pairs:
            continue
        applied = date.fromisoformat(r[8]) if isinstance(r[8], str) else r[8]
        out.setdefault(key, []).append(InputLine(r[11], r[2], r[3], r[4] or "", r[5] or "", r[6] or "", r[7] or "",
                                                 applied, r[9]))
    return out


def read_inputs_many(conn, ancestries: dict[int, list]) -> dict[int, list[InputLine]]:
    """For each root batch (its ancestry rows, the batch itself included): the inputs behind it, deduplicated.

    Batches behind the same plots share one list (never changed after: scan.page_parts keys by it)."""
    harvests = {a.id for rows in ancestries.values() for a in rows if a.kind == "harvest"}
    if not harvests:
        return {root: [] for root in ancestries}
    plots = plots_of_harvests(conn, harvests)
    lines = inputs_of_plots(conn, {pair for found in plots.values() for pair in found})
    out = {}
    made: dict[tuple, list[InputLine]] = {}  # one list per set of plots: the lots of one harvest share it
    for root, rows in ancestries.items():
        pairs = tuple(sorted({pair for a in rows if a.kind == "harvest" for pair in plots.get(a.id, ())}))
        found = made.get(pairs)
        if found is None:
            # Deduplicated: the same application listed for two plots of one town (or reached twice) shows once.
            seen = {line for pair in pairs for line in lines.get(pair, ())}
            found = made[pairs] = sorted(seen, key=lambda x: (x.applied_on, x.kind, x.product_name, x.dose))
        out[root] = found
    return out


def read_inputs(conn, ancestry: list) -> list[InputLine]:
    """The inputs behind one batch (its ancestry rows, nearest first, the batch itself included)."""
    return read_inputs_many(conn, {0: ancestry})[0]

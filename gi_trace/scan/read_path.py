"""The public trace page's read path: three indexed queries on the driver's cursor, no ORM objects.

This is the most-requested page of the system (every shopper's scan), so it reads exactly what the
page shows, in three statements: the batch behind a code (batch code or a package's unit code) with
its producer, package, stored scan count and the producer's decision history (aggregated as JSON);
the batch's ancestors through lineage links (one recursive query); the events of the batch and its
nearest ancestors. Town names and product definitions (stage template, grade scale) come from a
per-process reference cache. SQLAlchemy's result machinery (type processors, Row objects) costs
more than the queries themselves here, so the
statements run on the DBAPI cursor of the pooled connection and rows become named tuples with a
few per-dialect conversions (SQLite returns text for times, dates and JSON). Everything is turned
into plain values here so the template only prints.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from collections import namedtuple
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional


from gi_trace.authorisation import rules
from gi_trace.scan.read_inputs import read_inputs, read_inputs_many
from gi_trace.scan.readconn import ReadConnection
from gi_trace.timeutil import LOCAL_TZ
from gi_trace.tracing import recall
from gi_trace.tracing.chain import check_events

MAX_SOURCES = 50  # ancestors read for "where it came from"
MAX_TIMELINE_BATCHES = 8  # the batch and its nearest ancestors whose events make the timeline
MAX_DEPTH = 30


def _sqlite_time(value):
    # SQLite keeps UTC times as naive text (see gi_trace.types.UTCDateTime).
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def _sqlite_date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value


@lru_cache(maxsize=8192)
def _event_json(value: str):
    """Event data parsed once per distinct text: many events share theirs (tests, storage, shipping).

    The parsed dicts are shared between requests, so the read path never changes them.
    """
    return json.loads(value)


def _json_text(value):
    return _event_json(value) if isinstance(value, str) else value


def _pg_time(value):
    return value.astimezone(timezone.utc) if value is not None else None


_JSON_CACHE: dict[str, Any] = {}


def _cached_json(value):
    """Parsed product templates and grade scales, keyed by their text (a handful per database)."""
    if not isinstance(value, str):
        return value
    parsed = _JSON_CACHE.get(value)
    if parsed is None:
        if len(_JSON_CACHE) > 64:
            _JSON_CACHE.clear()
        parsed = _JSON_CACHE[value] = json.loads(value)
    return parsed


def _text(value):
    return value or ""


_CONVERTERS = {
    "sqlite": {"time": _sqlite_time, "date": _sqlite_date, "json": _json_text, "bool": bool,
               "cached_json": _cached_json, "text": _text},
    "postgresql": {"time": _pg_time, "date": None, "json": _json_text, "bool": None, "cached_json": _cached_json,
                   "text": _text},
}


class Query:
    """One statement written once with :name parameters, run on the raw DBAPI cursor.

    Rows become named tuples; the few columns a dialect returns as text (SQLite's times, dates and
    JSON) are converted by a row function generated once per dialect, the cheapest form in Python.
    """

    def __init__(self, name: str, sql: str, fields: str, kinds: Optional[dict[str, str]] = None,
                 postgresql: Optional[str] = None):
        self.sql = {"sqlite": sql, "postgresql": re.sub(r"(?<!:):(\w+)", r"%(\1)s", postgresql or sql)}
        self.row = namedtuple(name, fields.split())
        kinds = kinds or {}
        self.make = {}
        for dialect, table in _CONVERTERS.items():
            namespace = {"new": tuple.__new__, "cls": self.row}
            parts = []
            for i, f in enumerate(self.row._fields):
                convert = table[kinds[f]] if f in kinds else None
                if convert is None:
                    parts.append(f"r[{i}]")
                else:
                    namespace[f"c{i}"] = convert
                    parts.append(f"c{i}(r[{i}])")
            self.make[dialect] = eval(f"lambda r: new(cls, ({', '.join(parts)},))", namespace)  # noqa: S307

    def all(self, conn, params: dict) -> list:
        """Rows for `params` on a SQLAlchemy Connection or a scan.readconn.ReadConnection."""
        return self._run(conn, params, None)

    def for_ids(self, conn, ids) -> list:
        """Rows of a statement written with an `{ids}` list (bulk reads): the integers are inlined and the
        statement, different for each list, is not prepared."""
        return self._run(conn, None, ", ".join(str(int(i)) for i in ids))

    def _run(self, conn, params: Optional[dict], ids: Optional[str]) -> list:
        if isinstance(conn, ReadConnection):
            dialect, dbapi = conn.dialect_name, conn.dbapi
        else:
            dialect, dbapi = conn.dialect.name, conn.connection.driver_connection
        cursor = dbapi.cursor()
        try:
            if ids is not None:
                cursor.execute(self.sql[dialect].format(ids=ids))
            elif dialect == "postgresql":
                # A server-side prepared statement per connection: planned once, not on every scan.
                cursor.execute(self.sql[dialect], params, prepare=True)
            else:
                cursor.execute(self.sql[dialect], params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return list(map(self.make[dialect], rows))

    def first(self, conn, params: dict):
        rows = self.all(conn, params)
        return rows[0] if rows else None


# The batch behind a code, whether the code is the batch's own or one package's (一物一码), with its
# producer, the package (unit code), the stored scan count, its stored page (scan.stored_pages) in the language
# asked for, and the key of the producer's decision history (DecisionCache).
_BATCH_SQL = """
SELECT b.id, b.code, b.kind, b.unit, b.quantity_kg, b.cultivar, b.product_form, b.trademark_name, b.stage,
       b.test_state, b.grains_per_50g, b.grade, b.harvest_year, b.open_flags, b.event_count, b.first_event_at,
       b.head_hash, b.withdrawn_at, b.withdrawn_reason, b.created_at, b.producer_id, b.product_id,
       b.origin_town_code, p.name, p.uscc, p.registry_no, p.town_code, p.county_code,
       u.serial, u.package_kg,
       sc.scans, sc.networks, sc.first_at, sc.flagged,
       sp.head_hash, sp.basis, sp.entries, sp.verifies, CASE WHEN :english = 1 THEN sp.body_en ELSE sp.body_zh END,
       b.origin_state, b.origin_break_code, p.kind, b.quality,
       {decisions},
       {recall_columns}
FROM batch b
JOIN producer p ON p.id = b.producer_id
{recall_join}
LEFT JOIN unitcode u ON u.code = :code AND u.batch_id = b.id
LEFT JOIN scancounter sc ON sc.code = :code
LEFT JOIN storedpagelive spl ON spl.batch_id = b.id
LEFT JOIN storedpage sp ON sp.batch_id = spl.batch_id
WHERE b.id = (SELECT id FROM batch WHERE code = :code UNION ALL SELECT batch_id FROM unitcode WHERE code = :code
              LIMIT 1)
"""
# The decision history is identified by its size and latest id (decisions are appended, never edited or
# deleted), so a scan reads only this key and takes the parsed history from DecisionCache.
_DECISIONS_KEY = """(SELECT CAST(COUNT(*) AS TEXT) || ':' || COALESCE(CAST(MAX(d.id) AS TEXT), '')
        FROM authorisationdecision d WHERE d.producer_id = b.producer_id AND d.product_id = b.product_id)"""
# The recall in force on the batch (tracing.recall): one indexed lookup, so a descendant of a recalled batch is
# never shown as sellable after the recall commits, whatever its stored page says.
BATCH_QUERY = Query("BatchBase", _BATCH_SQL.format(decisions=_DECISIONS_KEY, recall_columns=recall.SCAN_COLUMNS,
                                                   recall_join=recall.SCAN_JOIN), """
        id code kind unit quantity_kg cultivar product_form trademark_name stage test_state grains_per_50g grade
        harvest_year open_flags event_count first_event_at head_hash withdrawn_at withdrawn_reason created_at
        producer_id product_id origin_town_code producer_name uscc registry_no producer_town_code
        producer_county_code serial package_kg stored_scans stored_networks stored_first_at stored_flagged
        page_head page_basis page_entries page_verifies page_body origin_state origin_break_code producer_kind
        quality decisions_key recall_id recall_reason recall_at recall_source_code recall_source_id""",
    {"first_event_at": "time", "withdrawn_at": "time", "recall_at": "time", "created_at": "time", "stored_first_at": "time",
     "stored_flagged": "bool", "page_verifies": "bool", "quality": "json"})

# The page's batch: the query's columns plus names and product data from the reference cache.
BatchRow = namedtuple("BatchRow", BATCH_QUERY.row._fields + (
    "product_zh", "product_en", "stage_template", "grade_scale", "max_moisture_pct", "origin_zh", "origin_en",
    "ptown_zh", "ptown_en", "county_zh", "county_en", "decisions", "protected_towns"))

DecisionRow = namedtuple("DecisionRow", "id action effective_date valid_until reference_no reason")
DECISIONS_QUERY = Query("DecisionRow", """
SELECT id, action, effective_date, valid_until, reference_no, reason FROM authorisationdecision
WHERE producer_id = :producer_id AND product_id = :product_id ORDER BY id
""", "id action effective_date valid_until reference_no reason",
    {"effective_date": "date", "valid_until": "date", "reference_no": "text", "reason": "text"})


class DecisionCache:
    """Producers' decision histories, parsed, per process, keyed by (producer, product, size and latest id).

    Decisions are only ever appended, so a history with the same size and latest id is the same
    history: a scan always sees every decision recorded before it, and re-reads a history only
    when one was added. At most `size` histories are kept (least recently used dropped first).
    """

    def __init__(self, size: int = 20_000):
        self.size = size
        self._histories: dict[tuple, tuple] = {}

    def get(self, conn, producer_id: int, product_id: int, key: Optional[str]) -> tuple:
        cache_key = (producer_id, product_id, key)
        history = self._histories.pop(cache_key, None)
        if history is None:
            history = tuple(DECISIONS_QUERY.all(conn, {"producer_id": producer_id, "product_id": product_id}))
            if len(self._histories) >= self.size:
                del self._histories[next(iter(self._histories))]
        self._histories[cache_key] = history  # (re)inserted last: the dict's order is the recency
        return history


REGIONS_QUERY = Query("RegionRow", "SELECT code, name_zh, name_en FROM region", "code name_zh name_en")
PRODUCTS_QUERY = Query("ProductRow", """
SELECT id, name_zh, name_en, CAST(stage_template AS TEXT), CAST(grade_scale AS TEXT), max_moisture_pct FROM product
""", "id name_zh name_en stage_template grade_scale max_moisture_pct",
    {"stage_template": "cached_json", "grade_scale": "cached_json"})


PROTECTED_QUERY = Query("ProtectedRow", "SELECT product_id, town_code FROM producttown", "product_id town_code")


class ReferenceCache:
    """Regions and products (reference data, a few dozen rows) kept per process for `ttl` seconds.

    They change a few times a year, by a regulator; a page shows a renamed town or a new stage
    definition at most `ttl` seconds later. It also holds the parsed decision histories
    (`DecisionCache`), which are never stale. Batches, events and scans are never cached.
    """

    def __init__(self, ttl: float = 300.0):
        self.ttl = ttl
        self.decisions = DecisionCache()
        self._loaded = -1e18
        self.regions: dict[str, tuple] = {}
        self.products: dict[int, tuple] = {}
        self.protected: dict[int, frozenset] = {}  # product id -> its protected towns
        self.regions_digest = ""
        self.digests: dict[int, str] = {}  # stored pages' basis per product (scan.stored_pages.basis)

    def get(self, conn) -> "ReferenceCache":
        now = time.monotonic()
        if now - self._loaded > self.ttl:
            self.regions = {r.code: (r.name_zh, r.name_en) for r in REGIONS_QUERY.all(conn, {})}
            self.products = {p.id: (p.name_zh, p.name_en, p.stage_template, p.grade_scale, p.max_moisture_pct)
                             for p in PRODUCTS_QUERY.all(conn, {})}
            protected: dict[int, set] = {}
            for product_id, town in PROTECTED_QUERY.all(conn, {}):
                protected.setdefault(product_id, set()).add(town)
            self.protected = {k: frozenset(v) for k, v in protected.items()}
            self.regions_digest = hashlib.sha1(repr(sorted(self.regions.items())).encode()).hexdigest()
            self.digests = {}
            self._loaded = now
        return self

    @property
    def loaded_at(self) -> float:
        """When the reference data was last read (time.monotonic()): it changes when the data is read again."""
        return self._loaded

    def region(self, code: Optional[str]) -> tuple:
        return self.regions.get(code, (None, None)) if code else (None, None)


# The batch and its ancestors through lineage links, nearest first (one recursive query).
ANCESTRY_QUERY = Query("AncestorRow", f"""
WITH RECURSIVE up(id, depth) AS (
    SELECT CAST(:batch_id AS INTEGER), 0
    UNION
    SELECT l.parent_id, up.depth + 1 FROM batchlink l JOIN up ON l.child_id = up.id WHERE up.depth < {MAX_DEPTH}
)
SELECT b.id, b.code, b.kind, b.head_hash, b.event_count, b.first_event_at, b.harvest_year, b.origin_town_code,
       b.producer_id, MIN(up.depth)
FROM up JOIN batch b ON b.id = up.id
GROUP BY b.id
ORDER BY MIN(up.depth), b.id
LIMIT {MAX_SOURCES + 1}
""", "id code kind head_hash event_count first_event_at harvest_year origin_town_code producer_id depth",
    {"first_event_at": "time"})

# The events of the batch and its nearest ancestors (the timeline), in chain order per batch.
EVENTS_SQL = """
SELECT e.id, e.batch_id, e.seq, e.stage, e.occurred_at, e.utc_offset_min, e.location_town_code, e.location_name,
       e.quantity_kg, CAST(e.data AS TEXT), e.op_id, e.recorded_by, e.recorded_at, e.corrects_event_id,
       e.correction_reason, e.prev_hash, e.hash
FROM event e
WHERE e.batch_id IN ({ids})
ORDER BY e.batch_id, e.seq
"""
_EVENT_FIELDS = """id batch_id seq stage occurred_at utc_offset_min location_town_code location_name quantity_kg data
                   op_id recorded_by recorded_at corrects_event_id correction_reason prev_hash hash"""
_EVENT_KINDS = {"occurred_at": "time", "recorded_at": "time", "data": "json"}
# One statement per number of batches (1..MAX_TIMELINE_BATCHES), so each is prepared once by the driver.
EVENTS_QUERIES = {n: Query("EventRow", EVENTS_SQL.format(ids=", ".join(f":b{i}" for i in range(n))),
                           _EVENT_FIELDS, _EVENT_KINDS) for n in range(1, MAX_TIMELINE_BATCHES + 1)}



@dataclass
class TracePage:
    """The live facts of one code's page: the batch row, its package, the producer's statuses."""

    code: str
    kind: str  # batch | unit
    batch: tuple
    serial: Optional[int]
    package_kg: Optional[float]
    made_on: date
    today: date
    status_today: rules.Status
    status_made: rules.Status
    withdrawn: bool
    origin_state: str = "verified"  # tracing.origin: verified, declared or outside
    origin_break: Optional[str] = None  # the source batch that keeps the mark off

    @property
    def origin_verified(self) -> bool:
        return self.origin_state == "verified"

    @property
    def genuine(self) -> bool:
        """A registered code whose producer may use the GI mark today and could when the batch was made, and
        every kilogram of which was harvested in the product's protected towns by registered producers."""
        return (self.status_today.in_force and self.status_made.in_force and not self.withdrawn
                and self.origin_verified)

    @property
    def passed_test(self) -> bool:
        return self.batch.test_state == "passed"


def local_date(at: Optional[datetime], offset_min: Optional[int] = None) -> Optional[date]:
    """The calendar date of an instant where it happened (offset given) or in Zhongwei."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    if offset_min is not None:
        return (at.astimezone(timezone.utc) + timedelta(minutes=offset_min)).date()
    return at.astimezone(LOCAL_TZ).date()


def find_batch(conn, code: str, ref: ReferenceCache, english: bool = False):
    """The batch row (with producer, product, towns, unit context, scan count, decisions and its stored
    page in the language asked for) behind a code."""
    base = BATCH_QUERY.first(conn, {"code": code, "english": 1 if english else 0})
    if base is None:
        return None
    ref.get(conn)
    product = ref.products.get(base.product_id) or (None, None, None, None, None)
    decisions = ref.decisions.get(conn, base.producer_id, base.product_id, base.decisions_key)
    return BatchRow(*base, *product, *ref.region(base.origin_town_code), *ref.region(base.producer_town_code),
                    *ref.region(base.producer_county_code), decisions, ref.protected.get(base.product_id, frozenset()))


def _name(zh: Optional[str], en: Optional[str], english: bool) -> str:
    return (en or zh or "") if english else (zh or en or "")


@dataclass
class Record:
    """What a batch's history is made of: its ancestors, the events shown, and whether their chains verify."""

    ancestry: list
    events: list
    by_batch: dict
    verifies: bool
    parties: dict = field(default_factory=dict)  # producer id -> PartyRow (the owners along the chain)
    inputs: list = field(default_factory=list)  # [read_inputs.InputLine]: the season's inputs of the plots behind


def _record(ancestry: list, events: list, checked: Optional[dict] = None) -> Record:
    """A Record from a batch's ancestry (nearest first) and the events of its first MAX_TIMELINE_BATCHES.

    `checked` (building many records from one read): chain checks already made, by batch id, so an
    ancestor shared by many batches (a harvest behind 10,000 lots) is re-hashed once, not per record.
    """
    timeline_batches = ancestry[:MAX_TIMELINE_BATCHES]
    by_batch: dict[int, list] = {a.id: [] for a in timeline_batches}
    for ev in events:
        if ev.batch_id in by_batch:
            by_batch[ev.batch_id].append(ev)
    shown = [ev for a in timeline_batches for ev in by_batch[a.id]]
    # Every batch whose events are shown must verify on its own chain.
    verifies = True
    for a in timeline_batches:
        own = by_batch[a.id]
        ok = checked.get(a.id) if checked is not None else None
        if ok is None:
            ok = len(own) == a.event_count and check_events(a.code, a.head_hash, own).ok
            if checked is not None:
                checked[a.id] = ok
        if not ok:
            verifies = False
            break
    return Record(ancestry, shown, by_batch, verifies)


PARTIES_QUERY = Query("PartyRow", "SELECT id, name, kind, town_code FROM producer WHERE id IN ({ids})",
                      "id name kind town_code")


def read_parties(conn, ids) -> dict:
    """The owners along a chain (name, kind, town), by id: one statement."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    return {r.id: r for r in PARTIES_QUERY.for_ids(conn, wanted)}


def read_record(conn, batch_id: int) -> Record:
    """The batch's ancestors (nearest first) and the events of it and its nearest ancestors, chain-checked."""
    ancestry = ANCESTRY_QUERY.all(conn, {"batch_id": batch_id})
    timeline_batches = ancestry[:MAX_TIMELINE_BATCHES]
    events = EVENTS_QUERIES[len(timeline_batches)].all(conn, {f"b{i}": a.id for i, a in enumerate(timeline_batches)})
    record = _record(ancestry, events)
    record.parties = read_parties(conn, {a.producer_id for a in ancestry})
    record.inputs = read_inputs(conn, ancestry)
    return record


# The ancestors of many batches at once (for building stored pages in bulk): as ANCESTRY_QUERY, per root.
_MANY_ANCESTRY_SQL = f"""
WITH RECURSIVE up(root, id, depth) AS (
    SELECT id, id, 0 FROM batch WHERE id IN ({{ids}})
    UNION
    SELECT up.root, l.parent_id, up.depth + 1 FROM batchlink l JOIN up ON l.child_id = up.id
    WHERE up.depth < {MAX_DEPTH}
)
SELECT up.root, b.id, b.code, b.kind, b.head_hash, b.event_count, b.first_event_at, b.harvest_year,
       b.origin_town_code, b.producer_id, MIN(up.depth)
FROM up JOIN batch b ON b.id = up.id
GROUP BY up.root, b.id, b.code, b.kind, b.head_hash, b.event_count, b.first_event_at, b.harvest_year,
         b.origin_town_code, b.producer_id
ORDER BY up.root, MIN(up.depth), b.id
"""
MANY_ANCESTRY_QUERY = Query("RootedAncestor", _MANY_ANCESTRY_SQL, "root " + " ".join(ANCESTRY_QUERY.row._fields),
                            {"first_event_at": "time"})
MANY_EVENTS_QUERY = Query("EventRow", EVENTS_SQL, _EVENT_FIELDS, _EVENT_KINDS)
_MANY_CHUNK = 500


def read_records(conn, batch_ids: list[int]) -> dict[int, Record]:
    """`read_record` for many batches in a few statements (building stored pages in bulk)."""
    records: dict[int, Record] = {}
    ids = sorted({int(i) for i in batch_ids})
    for start in range(0, len(ids), _MANY_CHUNK):
        part = ids[start:start + _MANY_CHUNK]
        ancestry: dict[int, list] = {i: [] for i in part}
        for r in MANY_ANCESTRY_QUERY.for_ids(conn, part):
            rows = ancestry[r.root]
            if len(rows) <= MAX_SOURCES:
                rows.append(ANCESTRY_QUERY.row(*r[1:]))
        shown = sorted({a.id for rows in ancestry.values() for a in rows[:MAX_TIMELINE_BATCHES]})
        events: dict[int, list] = {}
        for at in range(0, len(shown), 2000):
            for ev in MANY_EVENTS_QUERY.for_ids(conn, shown[at:at + 2000]):
                events.setdefault(ev.batch_id, []).append(ev)
        checked: dict[int, bool] = {}  # one read: each batch's chain is the same for every record showing it
        parties = read_parties(conn, {a.producer_id for rows in ancestry.values() for a in rows})
        inputs = read_inputs_many(conn, ancestry)
        for root, rows in ancestry.items():
            if rows:
                records[root] = _record(rows, [ev for a in rows[:MAX_TIMELINE_BATCHES] for ev in events.get(a.id, ())],
                                        checked)
                records[root].parties = parties
                records[root].inputs = inputs.get(root, [])
    return records


def load_page(row: tuple, *, code: str, today: date) -> TracePage:
    """The live part of the page for a batch row found by `find_batch`: statuses today and when made."""
    decisions = row.decisions
    made_on = local_date(row.first_event_at) or local_date(row.created_at)
    state, breaking = origin_of_row(row)
    return TracePage(
        code=code, kind="unit" if row.serial is not None else "batch", batch=row, serial=row.serial,
        package_kg=row.package_kg, made_on=made_on, today=today, status_today=rules.status_on(decisions, today),
        status_made=rules.status_on(decisions, made_on),
        withdrawn=row.withdrawn_at is not None or row.recall_id is not None,
        origin_state=state, origin_break=breaking,
    )


def recall_of_row(row: tuple) -> Optional[recall.RecallInfo]:
    """The recall in force on a batch row found by `find_batch` (tracing.recall.RecallInfo), or None."""
    return recall.from_row(row.id, row.recall_id, row.recall_reason, row.recall_at, row.recall_source_code,
                           row.recall_source_id)


def origin_of_row(row: tuple) -> tuple[str, Optional[str]]:
    """The batch's origin for the GI mark from its row (tracing.origin's rule, without walking the lineage):
    a harvest batch by its town; a made batch by the projection kept on it."""
    if row.kind == "harvest":
        if row.origin_town_code and row.origin_town_code in row.protected_towns:
            return "verified", None
        return "outside", row.code
    if row.origin_state in ("verified", "declared", "outside"):
        return row.origin_state, row.origin_break_code
    return "verified", None  # made before origins were kept: the authorisation and test rules still apply

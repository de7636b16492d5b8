"""Stored trace pages: the part of a scan page that a batch's record makes, built when the record changes.

A batch's record only grows (events are appended, never edited; corrections are new events), so
what the public page shows of it — the timeline of the batch's and its nearest ancestors' events,
the harvests behind it, and whether those events' hash chains verify — changes only when an event is
written. The tracing services note every batch they append to (`tracing.chain.touch`). When that
transaction commits, the unit of work (`on_commit`, a step registered by `scan.page_jobs.init_app`) takes the
stored pages of the touched batches and of every batch made from them out of use — one statement, in
the same transaction, deleting their narrow `storedpagelive` rows (the page bodies stay until they are
replaced: deleting 10,000 bodies took a writer half a second) — and writes an outbox row; background jobs
(`scan.page_jobs`, run by the jobs workers; a big family in parts that several workers build at once)
then build those pages again, in both languages, from the same code a live page runs
(`scan.page_parts.history_html`, which makes each part shared by many pages of a family once per job).
Until they have, scans of those batches build the page live. A scan with a stored page reads one row with the batch instead of walking the lineage,
reading some fourteen events and re-hashing them. Why a page built from an older record is never
taken as current: see `invalidate`.

What can change without an event is never stored and is read on every scan: the producer's
authorisation (its decisions), names, the batch's test state and quantity, the package of a unit
code, the scan count.

A stored page is used only while it still matches (`usable`): the batch's head hash is the one the
page was built from (no event appended since), and its basis — page format, the page's wording in
both languages, the product's stages and grade scale, town names — is today's. Otherwise the scan
builds the page live, exactly as before there were stored pages, and `flask --app gi_trace pages
rebuild --stale` (run by scripts/run.sh at start) brings the stored ones up to date after a release
or a regulator's edit of a product.

The chain check on a stored page is the one made when it was built. `flask --app gi_trace verify`
re-checks every chain; a batch it finds broken is touched, so its page and those of the batches made
from it are built again and say that the record does not verify. `pages rebuild --check` compares every
stored page with a fresh build and replaces (and counts) any that differ.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import namedtuple
from typing import Callable, Iterable, Optional

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gi_trace import jobs
from gi_trace.db import notes
from gi_trace.scan import inputs_text, page_parts, page_text, read_path
from gi_trace.scan.models import StoredPage, StoredPageLive
from gi_trace.tracing.chain import TOUCHED
from gi_trace.types import utcnow

log = logging.getLogger(__name__)

PAGE_FORMAT = 5  # bump when what history_text or history_html make changes in a way the basis cannot see
LANGUAGES = ("zh", "en")
MAX_DESCENDANT_DEPTH = read_path.MAX_DEPTH


# The stored pages of some batches and of every batch made from them (writers' invalidation). On
# PostgreSQL the rows are locked in id order first, as `store` writes them: two writers, or a writer and
# a job, never wait for each other in a cycle. (SQLite runs one writer at a time.)
_DOWN = f"""
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 0 FROM batch WHERE id IN ({{ids}})
    UNION
    SELECT l.child_id, down.depth + 1 FROM batchlink l JOIN down ON l.parent_id = down.id
    WHERE down.depth < {MAX_DESCENDANT_DEPTH}
)"""
# The batches made from some batches (any depth), themselves included.
_FAMILY_SQL = _DOWN + "\nSELECT DISTINCT id FROM down ORDER BY id"
# Only the narrow `storedpagelive` rows go: the page bodies stay until the job replaces them.
_INVALIDATE_SQL = {
    "sqlite": _DOWN + "\nDELETE FROM storedpagelive WHERE batch_id IN (SELECT id FROM down)",
    "postgresql": _DOWN + """, doomed AS (
    SELECT batch_id FROM storedpagelive WHERE batch_id IN (SELECT id FROM down) ORDER BY batch_id FOR UPDATE
)
DELETE FROM storedpagelive WHERE batch_id IN (SELECT batch_id FROM doomed)""",
}

_words_digest: Optional[str] = None


def words_digest() -> str:
    """A digest of the page's wording in every language and of the stored part's template (both change
    only with a release)."""
    global _words_digest
    if _words_digest is None:
        env = current_app.jinja_env
        source = "".join(env.loader.get_source(env, name)[0] for name in (page_text.HISTORY_TEMPLATE, inputs_text.TEMPLATE))
        words = [page_parts.texts_in(lang) for lang in LANGUAGES] + [inputs_text.texts(lang) for lang in LANGUAGES]
        _words_digest = hashlib.sha1(repr(words + [source]).encode()).hexdigest()
    return _words_digest


def basis(ref: read_path.ReferenceCache, product_id: int) -> str:
    """What a page of this product is built with: format, wording, product definition, town names."""
    digest = ref.digests.get(product_id)
    if digest is None:
        product = ref.products.get(product_id)
        text = json.dumps([PAGE_FORMAT, words_digest(), product, ref.regions_digest], sort_keys=True,
                          ensure_ascii=False, default=str)
        digest = ref.digests[product_id] = hashlib.sha1(text.encode()).hexdigest()[:16]
    return digest


def usable(row: tuple, ref: read_path.ReferenceCache) -> bool:
    """Whether the stored page found with a batch row (`find_batch`) still matches it."""
    return (row.page_basis is not None and row.page_head == (row.head_hash or "")
            and row.page_basis == basis(ref, row.product_id))


# What page_parts.history_html needs of a batch row besides the record: its product and the product's
# stages and test parameters.
_ProductPart = namedtuple("_ProductPart", "product_id stage_template grade_scale max_moisture_pct")


def _build(conn, batch_ids: Iterable[int], ref: read_path.ReferenceCache,
           parts: Optional[page_parts.Parts] = None) -> list[tuple[dict, dict]]:
    """(StoredPage values, {batch id: head hash} of every batch the page was built from) for these
    batches (those that exist), built now from their records in a few statements per 500 batches
    (the same assembly as a live page: page_parts.history_html; `parts`: those made by earlier calls of
    the same job, reused)."""
    ids = sorted({int(i) for i in batch_ids})
    parts = parts or page_parts.Parts()
    built = []
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        rows = conn.exec_driver_sql(
            f"SELECT id, head_hash, product_id FROM batch WHERE id IN ({', '.join(map(str, part))})").all()
        records = read_path.read_records(conn, [r[0] for r in rows])
        built_at = utcnow()
        for batch_id, head_hash, product_id in rows:
            record = records[batch_id]
            inputs = {a.id: a.head_hash or "" for a in record.ancestry}  # the batch itself and its ancestors
            if inputs.get(batch_id, head_hash or "") != (head_hash or ""):
                inputs[batch_id] = None  # read across a write: never current, never stored
            product = ref.products.get(product_id) or (None, None, None, None, None)
            row = _ProductPart(product_id, *product[2:5])
            page = {"batch_id": batch_id, "head_hash": head_hash or "", "basis": basis(ref, product_id),
                    "entries": len(record.events), "verifies": record.verifies, "built_at": built_at}
            for lang in LANGUAGES:
                page[f"body_{lang}"] = str(page_parts.history_html(row, record, ref, lang, parts))
            built.append((page, inputs))
    return built


def build_many(conn, batch_ids: Iterable[int], ref: read_path.ReferenceCache) -> list[dict]:
    """StoredPage values for these batches, built now from their records (see `_build`)."""
    return [page for page, _inputs in _build(conn, batch_ids, ref)]


def family(conn, batch_ids: Iterable[int]) -> list[int]:
    """The ids of these batches and of every batch made from them, in order."""
    ids = sorted({int(i) for i in batch_ids})
    if not ids:
        return []
    rows = []
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        rows += conn.exec_driver_sql(_FAMILY_SQL.format(ids=", ".join(map(str, part)))).all()
    return sorted({r[0] for r in rows})


def store(conn, pages: list[dict]) -> None:
    """Write (insert or replace) these stored pages and mark them live, in batch id order (callers racing
    writers: `store_current`).

    Upserts, in id order like the writers' deletions (`invalidate`): two jobs storing the same page
    do not collide, and a job and a writer take the rows' locks in the same order (no deadlock).
    """
    if not pages:
        return
    pages = sorted(pages, key=lambda p: p["batch_id"])
    table = StoredPage.__table__
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    upsert = dialect_insert(table)
    columns = [c.name for c in table.columns if c.name != "batch_id"]
    conn.execute(upsert.on_conflict_do_update(index_elements=["batch_id"],
                                              set_={c: upsert.excluded[c] for c in columns}), pages)
    conn.execute(dialect_insert(StoredPageLive.__table__).on_conflict_do_nothing(index_elements=["batch_id"]),
                 [{"batch_id": p["batch_id"]} for p in pages])


def store_current(engine, built: list[tuple[dict, dict]]) -> int:
    """Store the pages whose every source batch still has the head hash the page was built from; how many.

    One short transaction that first takes the locks a writer of those records needs (PostgreSQL:
    FOR SHARE on the source batches' rows; SQLite: the database's write lock), then compares the
    heads, then writes. See `invalidate` for why a page built from an older record is never stored
    as current.
    """
    if not built:
        return 0
    sources = sorted({i for _page, inputs in built for i in inputs})
    with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if not postgres:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: no writer commits until we do
        heads = {}
        for start in range(0, len(sources), 1000):
            part = ", ".join(map(str, sources[start:start + 1000]))
            lock = " ORDER BY id FOR SHARE" if postgres else ""
            heads.update(conn.exec_driver_sql(f"SELECT id, head_hash FROM batch WHERE id IN ({part}){lock}").all())
        current = [page for page, inputs in built
                   if all(head is not None and (heads.get(i) or "") == head for i, head in inputs.items())]
        store(conn, current)
    return len(current)


def invalidate(conn, batch_ids: Iterable[int]) -> None:
    """In a writer's transaction: take the stored pages of these batches and of every batch made from
    them out of use (their `storedpagelive` rows; one statement per 500 touched batches), so scans build
    those pages live until a job stores them again. "Deleted" below means that row.

    Why a scan never takes a page built from an older record as current:

    - A page shows the records of its batch and of the batch's ancestors, and each of those batches'
      head hash changes with every event written to it. A descendant's own head does not change when
      an ancestor's record does, hence this deletion, done in the same transaction as the write.
    - A page is written only by `store_current`, in a transaction that first locks those source
      batches' rows (FOR SHARE; on SQLite it holds the database's write lock), then checks that each
      head is the one the page was built from. A writer updates its batch's row (head hash) before it
      gets here and holds that row until it commits. So for any write W to a source of page P:
      either W committed before the check, and the check sees the new head and P is not stored; or W
      had not yet written the row, then W waits for P's transaction to commit and this deletion (later
      in W's transaction) removes P. Either way W's outbox row makes the job build P again afterwards.
    - A page read across a write (ancestry and events read before and after it) carries mismatched
      heads and fails the same check.
    """
    ids = sorted({int(i) for i in batch_ids})
    for start in range(0, len(ids), 500):
        conn.exec_driver_sql(_INVALIDATE_SQL[conn.dialect.name].format(ids=", ".join(map(str, ids[start:start + 500]))))


def on_commit(session: Session) -> None:
    """Unit-of-work step of a transaction that changed records: invalidate the pages that show them (here,
    cheap) and leave their rebuilding to a job (an outbox row in the same transaction)."""
    touched = notes(session).get(TOUCHED)
    if touched:
        ids = sorted(touched)
        invalidate(session.connection(), ids)
        jobs.add(session, JOB_KIND, {"batches": ids})


JOB_KIND = "stored_pages"  # the outbox rows writers leave (their handler: scan.page_jobs)


def batches_to_build(conn, ref: read_path.ReferenceCache, after_id: int, limit: int, stale_only: bool,
                     last_id: Optional[int] = None):
    """The next `limit` batches after `after_id`: (ids to build, last id looked at or None, how many looked at)."""
    upto = f" AND b.id <= {int(last_id)}" if last_id is not None else ""
    rows = conn.exec_driver_sql(
        "SELECT b.id, b.product_id, b.head_hash, s.head_hash, s.basis FROM batch b "
        "LEFT JOIN storedpagelive l ON l.batch_id = b.id LEFT JOIN storedpage s ON s.batch_id = l.batch_id "
        f"WHERE b.id > {int(after_id)}{upto} ORDER BY b.id "
        f"LIMIT {int(limit)}").all()
    todo = [r[0] for r in rows
            if not stale_only or r[4] is None or r[3] != (r[2] or "") or r[4] != basis(ref, r[1])]
    return todo, (rows[-1][0] if rows else None), len(rows)


_COMPARED = ("head_hash", "basis", "entries", "verifies", "body_zh", "body_en")


def rebuild(engine, *, stale_only: bool = False, check: bool = False, chunk: int = 500,
            on_chunk: Optional[Callable[[int], None]] = None, first_id: int = 1,
            last_id: Optional[int] = None) -> dict:
    """Rebuild stored pages chunk by chunk (built, then stored in one short transaction each if still
    current); `stale_only`: only missing or stale ones; `check`: write (and count) only those that
    differ from a fresh build.

    Batches with ids first_id..last_id (default: all); the product and town names are read once per minute.
    Returns {"batches": batches looked at, "built": pages written, "differed": pages that differed}.
    """
    ref = read_path.ReferenceCache(ttl=60)
    parts = page_parts.Parts()
    seen = built = differed = 0
    after = first_id - 1
    table = StoredPage.__table__
    while True:
        with engine.connect() as conn:
            ref.get(conn)
            todo, last, looked = batches_to_build(conn, ref, after, chunk, stale_only, last_id)
            if last is None:
                break
            pages = _build(conn, todo, ref, parts)
            if check and pages:
                live = StoredPageLive.__table__
                old = {r.batch_id: r for r in conn.execute(
                    select(table.c.batch_id, *(table.c[f] for f in _COMPARED))
                    .join(live, live.c.batch_id == table.c.batch_id)
                    .where(table.c.batch_id.in_([p["batch_id"] for p, _inputs in pages])))}
                pages = [(p, inputs) for p, inputs in pages if p["batch_id"] not in old
                         or any(getattr(old[p["batch_id"]], f) != p[f] for f in _COMPARED)]
                differed += len(pages)
        built += store_current(engine, pages)  # writers may be at work: only pages still current
        seen += looked
        after = last
        if on_chunk:
            on_chunk(looked)
    return {"batches": seen, "built": built, "differed": differed}

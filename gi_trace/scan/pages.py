"""Stored trace pages: the part of a scan page that a batch's record makes, built when the record changes.

A batch's record only grows (events are appended, never edited; corrections are new events), so
what the public page shows of it — the timeline of the batch's and its nearest ancestors' events,
the harvests behind it, and whether those events' hash chains verify — changes only when an event is
written. The tracing services note every batch they append to (`tracing.chain.touch`); before that
transaction commits, `refresh` rebuilds the stored page of each touched batch and of every batch
made from it, in both languages, from the same code a live page runs (`scan.trace.history`,
`scan.page.history_text`). A scan then reads one row with the batch instead of walking the lineage,
reading some fourteen events and re-hashing them.

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
from it are rebuilt and say that the record does not verify. `pages rebuild --check` compares every
stored page with a fresh build and replaces (and counts) any that differ.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import namedtuple
from typing import Callable, Iterable, Optional

from flask import current_app
from flask_babel import force_locale
from markupsafe import Markup
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from gi_trace.db import add_commit_step, notes
from gi_trace.scan import page as page_view
from gi_trace.scan import trace
from gi_trace.scan.models import StoredPage
from gi_trace.tracing.chain import TOUCHED
from gi_trace.types import utcnow

log = logging.getLogger(__name__)

PAGE_FORMAT = 3  # bump when what history_text or history_html make changes in a way the basis cannot see
LANGUAGES = ("zh", "en")
MAX_DESCENDANT_DEPTH = trace.MAX_DEPTH

# The batches made from some batches (any depth), themselves included.
_FAMILY_SQL = f"""
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 0 FROM batch WHERE id IN ({{ids}})
    UNION
    SELECT l.child_id, down.depth + 1 FROM batchlink l JOIN down ON l.parent_id = down.id
    WHERE down.depth < {MAX_DESCENDANT_DEPTH}
)
SELECT DISTINCT id FROM down ORDER BY id
"""

_words_digest: Optional[str] = None


def _texts(lang: str):
    """The page's sentences in `lang`, whatever the current request's language."""
    cached = page_view.cached_texts(lang)
    if cached is not None:
        return cached
    with force_locale(lang):
        return page_view.texts(lang)


def words_digest() -> str:
    """A digest of the page's wording in every language and of the stored part's template (both change
    only with a release)."""
    global _words_digest
    if _words_digest is None:
        env = current_app.jinja_env
        source = env.loader.get_source(env, page_view.HISTORY_TEMPLATE)[0]
        _words_digest = hashlib.sha1(repr([_texts(lang) for lang in LANGUAGES] + [source]).encode()).hexdigest()
    return _words_digest


def basis(ref: trace.ReferenceCache, product_id: int) -> str:
    """What a page of this product is built with: format, wording, product definition, town names."""
    digest = ref.digests.get(product_id)
    if digest is None:
        product = ref.products.get(product_id)
        text = json.dumps([PAGE_FORMAT, words_digest(), product, ref.regions_digest], sort_keys=True,
                          ensure_ascii=False, default=str)
        digest = ref.digests[product_id] = hashlib.sha1(text.encode()).hexdigest()[:16]
    return digest


def usable(row: tuple, ref: trace.ReferenceCache) -> bool:
    """Whether the stored page found with a batch row (`find_batch`) still matches it."""
    return (row.page_basis is not None and row.page_head == (row.head_hash or "")
            and row.page_basis == basis(ref, row.product_id))


# What trace.history needs of a batch row besides the record: its product's stages and test parameters.
_ProductPart = namedtuple("_ProductPart", "stage_template grade_scale max_moisture_pct")


def history_html(row: tuple, record: trace.Record, ref: trace.ReferenceCache, lang: str) -> Markup:
    """The record's part of a batch's page in one language, as stored and as a scan without a stored page
    prints it (one function for both, so they cannot drift apart)."""
    t = _texts(lang)
    history = trace.history(row, record, english=lang == "en", ref=ref, words=t.words)
    return page_view.history_html(t, page_view.history_text(t, history))


def build_many(conn, batch_ids: Iterable[int], ref: trace.ReferenceCache) -> list[dict]:
    """StoredPage values for these batches (those that exist), built now from their records, in a few
    statements per 500 batches (the same assembly as a live page: trace.history, page.history_html)."""
    ids = sorted({int(i) for i in batch_ids})
    values = []
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        rows = conn.exec_driver_sql(
            f"SELECT id, head_hash, product_id FROM batch WHERE id IN ({', '.join(map(str, part))})").all()
        records = trace.read_records(conn, [r[0] for r in rows])
        built_at = utcnow()
        for batch_id, head_hash, product_id in rows:
            record = records[batch_id]
            product = ref.products.get(product_id) or (None, None, None, None, None)
            row = _ProductPart(*product[2:5])
            page = {"batch_id": batch_id, "head_hash": head_hash or "", "basis": basis(ref, product_id),
                    "entries": len(record.events), "verifies": record.verifies, "built_at": built_at}
            for lang in LANGUAGES:
                page[f"body_{lang}"] = str(history_html(row, record, ref, lang))
            values.append(page)
    return values


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
    """Replace the stored pages of these batches."""
    if not pages:
        return
    table = StoredPage.__table__
    conn.execute(delete(table).where(table.c.batch_id.in_([p["batch_id"] for p in pages])))
    conn.execute(insert(table), pages)


_LOCK_SPACE = 0x5CA9  # the first key of PostgreSQL advisory locks on stored pages (the second: the batch id)


def refresh(conn, batch_ids: Iterable[int], ref: Optional[trace.ReferenceCache] = None) -> int:
    """Rebuild the stored pages of these batches and of every batch made from them; how many.

    Two transactions that wrote to different parents of one batch both rebuild its page. On
    PostgreSQL each first takes a transaction lock per page (in id order, so never a deadlock) and
    only then reads the record, so the second waits for the first to commit and builds from both
    writes (READ COMMITTED: each statement sees what was committed before it). SQLite runs one
    writer at a time, so the question does not arise.
    """
    members = family(conn, batch_ids)
    if conn.dialect.name == "postgresql":
        for batch_id in members:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_SPACE}, {int(batch_id)})")
    ref = (ref or trace.ReferenceCache(ttl=3600)).get(conn)  # read now, once for the whole family
    try:
        pages = build_many(conn, members, ref)
    except Exception:  # noqa: BLE001 - a page that cannot be built must not stop the write it follows
        log.exception("stored trace pages of batches %s not built; their scans build them live", members)
        drop(conn, members)  # an older page must not stand in for the record
        return 0
    store(conn, pages)
    return len(pages)


def drop(conn, batch_ids: Iterable[int]) -> None:
    """Remove stored pages (their scans build the page live until it is stored again)."""
    ids = list(batch_ids)
    table = StoredPage.__table__
    for start in range(0, len(ids), 500):
        conn.execute(delete(table).where(table.c.batch_id.in_(ids[start:start + 500])))


def on_commit(session: Session) -> None:
    """Unit-of-work step: rebuild the pages of batches whose record changed, in the transaction that changed it."""
    touched = notes(session).get(TOUCHED)
    if touched:
        refresh(session.connection(), set(touched))


def init_app(app) -> None:
    """Refresh stored pages at every commit of this app's units of work."""
    add_commit_step(app, before=on_commit)


def batches_to_build(conn, ref: trace.ReferenceCache, after_id: int, limit: int, stale_only: bool,
                     last_id: Optional[int] = None):
    """The next `limit` batches after `after_id`: (ids to build, last id looked at or None, how many looked at)."""
    upto = f" AND b.id <= {int(last_id)}" if last_id is not None else ""
    rows = conn.exec_driver_sql(
        "SELECT b.id, b.product_id, b.head_hash, s.head_hash, s.basis FROM batch b "
        f"LEFT JOIN storedpage s ON s.batch_id = b.id WHERE b.id > {int(after_id)}{upto} ORDER BY b.id "
        f"LIMIT {int(limit)}").all()
    todo = [r[0] for r in rows
            if not stale_only or r[4] is None or r[3] != (r[2] or "") or r[4] != basis(ref, r[1])]
    return todo, (rows[-1][0] if rows else None), len(rows)


_COMPARED = ("head_hash", "basis", "entries", "verifies", "body_zh", "body_en")


def rebuild(engine, *, stale_only: bool = False, check: bool = False, chunk: int = 500,
            on_chunk: Optional[Callable[[int], None]] = None, first_id: int = 1,
            last_id: Optional[int] = None) -> dict:
    """Rebuild stored pages chunk by chunk (one transaction each); `stale_only`: only missing or stale
    ones; `check`: write (and count) only those that differ from a fresh build.

    Batches with ids first_id..last_id (default: all); the product and town names are read once per minute.
    Returns {"batches": batches looked at, "built": pages written, "differed": pages that differed}.
    """
    ref = trace.ReferenceCache(ttl=60)
    seen = built = differed = 0
    after = first_id - 1
    table = StoredPage.__table__
    while True:
        with engine.begin() as conn:
            ref.get(conn)
            todo, last, looked = batches_to_build(conn, ref, after, chunk, stale_only, last_id)
            if last is None:
                break
            pages = build_many(conn, todo, ref)
            if check and pages:
                old = {r.batch_id: r for r in conn.execute(
                    select(table.c.batch_id, *(table.c[f] for f in _COMPARED))
                    .where(table.c.batch_id.in_([p["batch_id"] for p in pages])))}
                pages = [p for p in pages if p["batch_id"] not in old
                         or any(getattr(old[p["batch_id"]], f) != p[f] for f in _COMPARED)]
                differed += len(pages)
            store(conn, pages)
            built += len(pages)
            seen += looked
            after = last
        if on_chunk:
            on_chunk(looked)
    return {"batches": seen, "built": built, "differed": differed}

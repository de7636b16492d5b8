"""The background work that makes stored pages current again after a write (see scan.stored_pages).

A writer's unit of work takes the stored pages of the batches it changed, and of every batch made from
them, out of use and leaves an outbox row of kind `stored_pages` (`stored_pages.on_commit`). Its
handler looks at the size of the family:

- at most PART_SIZE batches: it builds and stores them there and then, chunk by chunk (`refresh`),
  taking in the rows of later writes as it goes, so a run of corrections on one harvest costs one
  rebuild of its family after the last of them, not one per correction;
- more: it first waits for the writes to those batches to stop (QUIET_SECONDS without one, MAX_WAIT_SECONDS
  at most), taking in the rows of later writes: a run of corrections on a big harvest would otherwise
  have every worker rebuild 10,000 pages that the next correction takes out of use, taking the CPU and
  the database from the writer. Then, one worker at a time (SPLIT_LOCK), it writes the pages out of use
  that no waiting part row covers yet as `stored_pages_part` rows of PART_SIZE batches each, in one
  transaction, and is done. A part row is claimed on its own (`jobs.handle(..., claim=1)`) and a drain
  that leaves rows waiting wakes the queue, so every worker thread and process takes parts at once: a
  10,000-batch family is 20 parts.

Whoever builds a page and whenever, it is stored only if still current (`stored_pages.store_current`):
a part left by an earlier write that runs after a later one builds from the record as it is then (or
its page is refused), so a later correction's pages are never replaced by an earlier one's. A page
already in use is skipped, so work done twice (parts of two writes, a part retried after a crash)
costs a look-up.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from sqlalchemy import select

from gi_trace import jobs
from gi_trace.db import add_commit_step, get_engine, session_scope
from gi_trace.scan import page_parts, read_path, stored_pages

log = logging.getLogger(__name__)

PART_KIND = "stored_pages_part"
PART_SIZE = 500  # pages per part row; a family with more pages to build is built by several workers
JOB_CHUNK = 200  # pages built per round
STORE_CHUNK = 50  # pages stored per transaction (SQLite: the write lock is held that long)
QUIET_SECONDS = 1.0  # a big family is split once no write came for this long ...
MAX_WAIT_SECONDS = 10.0  # ... or after this long at most
SPLIT_LOCK = 7_310_001  # PostgreSQL advisory lock key: one worker writes parts at a time


def _not_in_use(conn, ids: list[int]) -> list[int]:
    """Those of these batches (in order) whose stored page is out of use or missing."""
    live: set[int] = set()
    for start in range(0, len(ids), 1000):
        part = ", ".join(map(str, ids[start:start + 1000]))
        live.update(r[0] for r in conn.exec_driver_sql(
            "SELECT l.batch_id FROM storedpagelive l JOIN storedpage s ON s.batch_id = l.batch_id "
            f"WHERE l.batch_id IN ({part})"))
    return [i for i in ids if i not in live]


def _make(engine, ids: list[int], ref: read_path.ReferenceCache, parts: page_parts.Parts) -> int:
    """Build and store the pages of these batches (at most JOB_CHUNK) that are out of use; how many were stored."""
    with engine.connect() as conn:
        ref.get(conn)
        built = stored_pages._build(conn, _not_in_use(conn, ids), ref, parts)
    stored = 0
    for start in range(0, len(built), STORE_CHUNK):  # short write transactions: writers wait less
        stored += stored_pages.store_current(engine, built[start:start + STORE_CHUNK])
    return stored


def refresh(app, batch_ids: Iterable[int], heartbeat: Callable[[], list] = lambda: []) -> int:
    """Build and store the missing pages of these batches and of every batch made from them; how many
    were stored.

    Chunk by chunk; after each, `heartbeat()` hands over the rows of later writes: their batches join
    the work, which goes over the (new) family again, skipping the pages in use.
    """
    engine = get_engine(app)
    ref = read_path.ReferenceCache(ttl=60)
    parts = page_parts.Parts()  # a family's shared parts (its harvest's events...), made once per job
    ids = {int(i) for i in batch_ids}
    with engine.connect() as conn:
        members = stored_pages.family(conn, ids)
    stored = position = 0
    while position < len(members):
        stored += _make(engine, members[position:position + JOB_CHUNK], ref, parts)
        position += JOB_CHUNK
        later = {int(i) for payload in heartbeat() or () for i in payload.get("batches", ())}
        if later:
            ids |= later
            with engine.connect() as conn:
                members = stored_pages.family(conn, ids)
            position = 0
    log.info("stored pages: %s of %s batches stored", stored, len(members))
    return stored


def _heads(engine, ids: set[int]) -> dict:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql(
            f"SELECT id, head_hash FROM batch WHERE id IN ({', '.join(map(str, sorted(ids)))})").all())


def _quiet(engine, ids: set[int], heartbeat: Callable[[], list]) -> set[int]:
    """`ids` and those of the rows handed over, once QUIET_SECONDS passed without a write to these batches
    (their head hashes, read four times a second) or a row handed over (a heartbeat a second: each is a
    write); MAX_WAIT_SECONDS at most."""
    started = last = beat = time.monotonic()
    heads = _heads(engine, ids)
    while True:
        time.sleep(min(0.25, QUIET_SECONDS))
        now = time.monotonic()
        done = now - last >= QUIET_SECONDS or now - started >= MAX_WAIT_SECONDS
        later: set[int] = set()
        if done or now - beat >= 1.0:
            later = {int(i) for payload in heartbeat() or () for i in payload.get("batches", ())}
            beat = now
        now_heads = _heads(engine, ids | later)
        if later - ids or now_heads != heads:
            ids |= later
            heads, last = now_heads, time.monotonic()
        if done and (last < now or now - started >= MAX_WAIT_SECONDS):
            return ids


def _waiting_parts(conn) -> set[int]:
    """The batches of part rows no worker has taken yet: whoever runs them reads the record after now."""
    rows = conn.execute(select(jobs.OUTBOX.c.payload).where(jobs.OUTBOX.c.kind == PART_KIND,
                                                          jobs.OUTBOX.c.claim == "")).all()
    return {int(i) for (payload,) in rows for i in (payload or {}).get("batches", ())}


def _refresh_job(app, payloads: list, heartbeat: Callable[[], list]) -> None:
    """The outbox rows of writes: their families' pages, here or in parts for all the workers."""
    ids = {int(i) for p in payloads for i in p.get("batches", ())}
    engine = get_engine(app)
    with engine.connect() as conn:
        members = len(stored_pages.family(conn, ids))  # (a write takes all their pages out of use)
    if members <= PART_SIZE:
        refresh(app, ids, heartbeat)
        return
    ids = _quiet(engine, ids, heartbeat)
    with session_scope(app) as session:
        conn = session.connection()
        # One worker splits at a time, so one that waited beside us (for the same writes) sees our parts.
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SPLIT_LOCK})")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        waiting = _waiting_parts(conn)
        todo = [i for i in _not_in_use(conn, stored_pages.family(conn, ids)) if i not in waiting]
        for start in range(0, len(todo), PART_SIZE):
            jobs.add(session, PART_KIND, {"batches": todo[start:start + PART_SIZE]})
    log.info("stored pages: %s to build, in %s parts", len(todo), -(-len(todo) // PART_SIZE))


def _part_job(app, payloads: list, heartbeat: Callable[[], list]) -> None:
    """A part of a big family: the pages of its batches that are still out of use."""
    engine = get_engine(app)
    ref = read_path.ReferenceCache(ttl=60)
    parts = page_parts.Parts()
    stored = 0
    for payload in payloads:
        ids = sorted({int(i) for i in payload.get("batches", ())})
        for start in range(0, len(ids), JOB_CHUNK):
            stored += _make(engine, ids[start:start + JOB_CHUNK], ref, parts)
            heartbeat()  # renews the claim (a part claims no more rows)
    log.info("stored pages: %s stored (a part)", stored)


def init_app(app) -> None:
    """Stored pages follow the records: a step of every commit, and the jobs that rebuild them."""
    add_commit_step(app, before=stored_pages.on_commit)
    jobs.handle(app, stored_pages.JOB_KIND, _refresh_job)
    jobs.handle(app, PART_KIND, _part_job, claim=1)

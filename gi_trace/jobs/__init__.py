"""Background jobs: work that outlives the request, survives a crash and shows its progress.

1. The transaction that causes the work records it: `add(session, kind, payload)` writes an outbox
   row in that same transaction (usually from a unit-of-work step, e.g. the stored trace pages'
   refresh). If the process dies right after the commit, the row is still there.
2. Once committed, the unit of work wakes the queue (huey, `gi_trace.jobs.queue`); best effort.
3. A worker (`flask --app gi_trace jobs worker`) runs `drain`: it claims outbox rows for a lease,
   runs the handler registered for their kind (`handle`) — each handler commits its own units of
   work — and deletes the rows only once that work has committed. The worker drains again every
   few seconds and when it starts, so a lost wake-up or a worker killed mid-job (its lease runs out)
   delays the work but loses nothing. Handlers are idempotent: work done twice is only slower.
   Work that several workers can share (the parts of a big stored-page rebuild) is written as many
   rows of a kind claimed a few at a time (`handle(..., claim=1)`): a drain that claims rows and
   leaves others waiting wakes the queue again, so each idle worker thread or process takes some.
4. A long job someone asked for (a label sheet, a report, a recall list): `start` writes a `Job`
   row (who asked, kind, status, progress, result) with its outbox row; the function registered with
   `register_job` (from the area's `tasks.py`: `def register(app)`, called by `create_app` in the web
   processes and the worker alike) gets a `JobContext` (params, `progress(done, total)`) and returns
   a `Result` (bytes, file name, type). `/jobs/<id>` shows the progress (HTML, or JSON for API clients) and
   `/jobs/<id>/result` downloads the result (gi_trace.web.views_jobs).

Tests need no worker: they call `drain(app)`, the function the worker's task calls.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Optional

from flask import Flask, current_app
from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session

from gi_trace.db import get_engine, notes, session_scope
from gi_trace.errors import DomainError
from gi_trace.jobs.models import Job, OutboxEntry
from gi_trace.observability.logs import job_context
from gi_trace.types import utcnow

log = logging.getLogger(__name__)

OUTBOX = OutboxEntry.__table__
_KEY = "gi_trace.jobs"
WOKEN = "outbox_written"  # transaction note: the after-commit step wakes the queue
CLAIM_BATCH = 500  # outbox rows of one kind handled together (e.g. 50 corrections: one page rebuild)
MAX_BACKOFF_SECONDS = 300

# handler(app, payloads, heartbeat): does the work of these outbox rows (all of one kind), committing
# its own units of work. `heartbeat()`, called now and then during long work, extends the claim and
# claims the rows of the same kind that arrived meanwhile, returning their payloads: the handler must do
# their work too (they are deleted with the others when it returns), and can fold it into the work under
# way (e.g. 50 corrections of one harvest in a row: one rebuild of its pages, not 50).
Handler = Callable[[Flask, list, Callable[[], None]], None]


@dataclass(frozen=True)
class Result:
    """What a long job made: the bytes to download, their file name and media type."""

    data: bytes
    name: str
    mime: str = "application/octet-stream"


@dataclass(frozen=True)
class QueueCounts:
    """Outbox rows waiting (claimed or not), those whose last attempt failed, and failed long jobs."""

    pending: int
    failing: int
    jobs_failed: int


class _Registry:
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {"job": _run_jobs}
        self.claims: dict[str, int] = {}  # rows claimed at once, by kind (default CLAIM_BATCH)
        self.jobs: dict[str, Callable[["JobContext"], Result]] = {}
        self.labels: dict[str, Any] = {}
        self.wake: Callable[[], None] = lambda: None  # another drain, for another worker (jobs.queue)


def _registry(app: Flask) -> _Registry:
    return app.extensions.setdefault(_KEY, _Registry())


def handle(app: Flask, kind: str, handler: Handler, claim: int = CLAIM_BATCH) -> None:
    """Register the handler that does the outbox rows of `kind`, `claim` rows at a time at most (heartbeats
    included): 1 for rows that are parts of one piece of work, for several workers to share."""
    registry = _registry(app)
    registry.handlers[kind] = handler
    registry.claims[kind] = max(1, int(claim))


def on_more_work(app: Flask, wake: Callable[[], None]) -> None:
    """How a drain asks for another drain when it leaves rows waiting (set by jobs.queue: a queue wake-up)."""
    _registry(app).wake = wake


def register_job(app: Flask, kind: str, run: Callable[["JobContext"], Result], label: Any = None) -> None:
    """Register a kind of long job: `run(context)` returns its Result (raise DomainError to fail with a
    message for the person who asked); `label` (a lazy_gettext string) names it on the progress page."""
    registry = _registry(app)
    registry.jobs[kind] = run
    registry.labels[kind] = label


def job_label(kind: str, app: Optional[Flask] = None) -> str:
    """What people call a kind of long job (its registered label)."""
    from flask_babel import gettext as _

    label = _registry(app or current_app).labels.get(kind)
    return str(label) if label else _("Background job")


def add(session: Session, kind: str, payload: dict) -> None:
    """Record work to do once this transaction commits (an outbox row in the same transaction)."""
    session.add(OutboxEntry(kind=kind, payload=payload))
    notes(session)[WOKEN] = True


def start(session: Session, kind: str, requested_by: Optional[int], params: Optional[dict] = None,
          total: int = 0) -> Job:
    """Queue a long job of a registered kind; the worker runs it after this transaction commits."""
    job = Job(kind=kind, requested_by=requested_by, params=params or {}, total=total)
    session.add(job)
    session.flush()
    add(session, "job", {"job_id": job.id})
    return job


def counts(conn_or_session) -> QueueCounts:
    """How much background work waits and how much failed (for metrics and `jobs status`)."""
    pending, failing = conn_or_session.execute(
        select(func.count(), func.count().filter(OUTBOX.c.last_error != "")).select_from(OUTBOX)).one()
    jobs_failed = conn_or_session.execute(
        select(func.count()).select_from(Job.__table__).where(Job.__table__.c.status == "failed")).scalar_one()
    return QueueCounts(int(pending), int(failing or 0), int(jobs_failed))


def metric_samples(engine) -> list[tuple[str, str, int]]:
    """The queue's gauges for /metrics (gi_trace.observability.metrics reads them at each scrape)."""
    with engine.connect() as conn:
        queued = counts(conn)
    return [("gi_trace_outbox_pending", "Outbox rows waiting for the jobs worker (claimed or not).",
             queued.pending),
            ("gi_trace_outbox_failing", "Outbox rows whose last attempt failed (they are retried).",
             queued.failing),
            ("gi_trace_jobs_failed", "Long jobs that ended failed.", queued.jobs_failed)]


def _claimable(now):
    return or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now)


def has_claimable(engine) -> bool:
    """Whether some outbox row waits for a worker now."""
    with engine.connect() as conn:
        return conn.execute(select(OUTBOX.c.id).where(_claimable(utcnow())).limit(1)).first() is not None


def _claim(engine, lease: float, claims: dict[str, int]):
    """Claim up to `claims[kind]` (default CLAIM_BATCH) waiting rows of the oldest waiting kind: (kind, token,
    rows) or None."""
    now = utcnow()
    token = secrets.token_hex(8)
    with engine.begin() as conn:
        first = conn.execute(select(OUTBOX.c.kind).where(_claimable(now)).order_by(OUTBOX.c.id).limit(1)).first()
        if first is None:
            return None
        ids = select(OUTBOX.c.id).where(_claimable(now), OUTBOX.c.kind == first.kind) \
            .order_by(OUTBOX.c.id).limit(claims.get(first.kind, CLAIM_BATCH))
        # The claimable test is repeated on the row itself: a concurrent claimer's update is re-checked
        # against it (PostgreSQL) or runs after ours (SQLite), so a row is never claimed twice at once.
        conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), _claimable(now))
                     .values(claim=token, claimed_until=now + timedelta(seconds=lease),
                             attempts=OUTBOX.c.attempts + 1))
        rows = conn.execute(select(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.attempts)
                            .where(OUTBOX.c.claim == token).order_by(OUTBOX.c.id)).all()
    return first.kind, token, rows


def _wake(app: Flask, registry: _Registry) -> None:
    try:
        registry.wake()
    except Exception:  # noqa: BLE001 - best effort: the worker's sweep finds the rows anyway
        log.exception("jobs: waking another worker failed")


def drain(app: Optional[Flask] = None, *, lease: Optional[float] = None) -> int:
    """Do the waiting outbox work until none is left that can be claimed; how many rows were done.

    What the worker's task runs (and tests, synchronously). A failing handler's rows wait a growing
    while (up to five minutes) before the next attempt, with the error kept for `jobs status`.
    """
    app = app or current_app._get_current_object()
    engine = get_engine(app)
    lease = float(lease if lease is not None else app.config.get("JOBS_LEASE_SECONDS", 60))
    registry = _registry(app)
    done = 0
    while True:
        claimed = _claim(engine, lease, registry.claims)
        if claimed is None:
            return done
        kind, token, rows = claimed
        if has_claimable(engine):  # rows left waiting: another worker may take them meanwhile
            _wake(app, registry)

        known = {row.id for row in rows}

        def heartbeat(token=token, kind=kind, known=known) -> list:
            now = utcnow()
            until = now + timedelta(seconds=lease)
            room = registry.claims.get(kind, CLAIM_BATCH) - len(known)
            with engine.begin() as conn:
                conn.execute(update(OUTBOX).where(OUTBOX.c.claim == token).values(claimed_until=until))
                if room <= 0:
                    return []
                waiting = select(OUTBOX.c.id).where(_claimable(now), OUTBOX.c.kind == kind) \
                    .order_by(OUTBOX.c.id).limit(room)
                conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(waiting), _claimable(now))
                             .values(claim=token, claimed_until=until, attempts=OUTBOX.c.attempts + 1))
                new = [row for row in conn.execute(select(OUTBOX.c.id, OUTBOX.c.payload)
                                                   .where(OUTBOX.c.claim == token).order_by(OUTBOX.c.id))
                       if row.id not in known]
            known.update(row.id for row in new)
            return [row.payload for row in new]

        try:
            handler = registry.handlers.get(kind)
            if handler is None:
                raise LookupError(f"no handler for outbox rows of kind {kind!r}")
            with app.app_context(), job_context(kind, job_id=f"outbox-{token}", rows=len(rows)):
                handler(app, [row.payload for row in rows], heartbeat)
        except Exception as exc:  # noqa: BLE001 - kept on the rows, logged, retried later
            log.warning("outbox rows of %s failed and wait for a retry: %s", kind, exc)
            wait = min(MAX_BACKOFF_SECONDS, 5 * 2 ** (max(row.attempts for row in rows) - 1))
            with engine.begin() as conn:
                conn.execute(update(OUTBOX).where(OUTBOX.c.claim == token).values(
                    claim="", claimed_until=utcnow() + timedelta(seconds=wait),
                    last_error=f"{type(exc).__name__}: {exc}"[:2000]))
            continue
        with engine.begin() as conn:  # their work has committed: now they may go
            done += conn.execute(delete(OUTBOX).where(OUTBOX.c.claim == token)).rowcount


# --- long jobs ------------------------------------------------------------------------------------

class JobContext:
    """What a long job's function gets: its parameters and a way to report progress."""

    def __init__(self, app: Flask, job: Job, heartbeat: Callable[[], None]):
        self.app = app
        self.job_id = job.id
        self.kind = job.kind
        self.params: dict[str, Any] = dict(job.params or {})
        self.requested_by = job.requested_by
        self._heartbeat = heartbeat

    def progress(self, done: int, total: Optional[int] = None) -> None:
        """Record how far the job is (its own small commit, so the page polling it sees it at once)."""
        values = {"done": int(done)}
        if total is not None:
            values["total"] = int(total)
        with get_engine(self.app).begin() as conn:
            conn.execute(update(Job.__table__).where(Job.__table__.c.id == self.job_id).values(**values))
        self._heartbeat()


def _run_jobs(app: Flask, payloads: list, heartbeat: Callable[[], list]) -> None:
    """The outbox handler of long jobs: run each one not finished yet (and those queued meanwhile)."""
    waiting = list(payloads)

    def renew() -> None:
        waiting.extend(heartbeat())

    while waiting:
        run_job(app, int(waiting.pop(0)["job_id"]), renew)
        renew()


def run_job(app: Flask, job_id: int, heartbeat: Callable[[], None] = lambda: None) -> None:
    """Run one long job and keep its result or its error (a job found finished is left alone)."""
    with session_scope(app) as session:
        job = session.get(Job, job_id)
        if job is None or job.status in ("done", "failed"):
            return
        job.status, job.started_at = "running", utcnow()
        session.add(job)
        context = JobContext(app, job, heartbeat)
    run = _registry(app).jobs.get(context.kind)
    try:
        if run is None:
            raise LookupError(f"no job of kind {context.kind!r}")
        with job_context(context.kind, job_id=f"job-{job_id}"):
            result = run(context)
    except Exception as exc:  # noqa: BLE001 - the job failed: the person who asked sees why
        log.exception("job %s (%s) failed", job_id, context.kind)
        message = exc.message if isinstance(exc, DomainError) else "The job failed; the error has been logged."
        with session_scope(app) as session:
            job = session.get(Job, job_id)
            job.status, job.error, job.finished_at = "failed", message, utcnow()
            session.add(job)
        return
    with session_scope(app) as session:
        job = session.get(Job, job_id)
        job.status, job.finished_at = "done", utcnow()
        job.result, job.result_name, job.result_mime = result.data, result.name, result.mime
        job.done = max(job.done, job.total)
        session.add(job)

"""The task queue behind the outbox: huey (https://huey.readthedocs.io).

`JOBS_URL` chooses where huey keeps its messages:

- `sqlite:///path/jobs.sqlite3` (default: `instance/jobs.sqlite3`): SqliteHuey, a file beside the
  app; no server to run. The web processes and the worker must share the machine (and the file).
- `redis://host:6379/0` (or `rediss://`): RedisHuey, for workers on their own machines.

The queue only carries wake-ups ("drain the outbox"): the work itself is in the database's outbox,
written in the transaction that caused it, so a lost message, a queue that was down or a worker
killed mid-job costs time, never work. One task, `drain_outbox`, runs `gi_trace.jobs.drain`; it is
enqueued after each commit that wrote outbox rows, by huey's scheduler every minute, and by the
worker (`run_worker`) when it starts and every `JOBS_SWEEP_SECONDS` (default 5) while rows wait
(huey's periodic tasks have minute resolution).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab

from gi_trace import jobs
from gi_trace.db import add_commit_step, get_engine
from gi_trace.observability import metrics

log = logging.getLogger(__name__)

_KEY = "gi_trace.huey"


def make_huey(url: str):
    """The huey instance for a JOBS_URL (sqlite:///file or redis://...)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("gi_trace", url=url, results=False)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        # fsync=False: a wake-up lost in a power cut costs a few seconds (the sweep), never work (the outbox).
        return SqliteHuey("gi_trace", filename=str(path), results=False, fsync=False)
    raise ValueError(f"JOBS_URL must start with sqlite:/// or redis://, not {url.split(':', 1)[0]!r}")


class Queue:
    """The app's huey and its one task (made on first use: nothing is opened at import or app start)."""

    def __init__(self, app: Flask):
        self.app = app
        self._huey = None
        self._drain_task = None
        self._lock = threading.Lock()

    @property
    def huey(self):
        if self._huey is None:
            with self._lock:
                if self._huey is None:
                    huey = make_huey(self.app.config["JOBS_URL"])
                    self._drain_task = huey.task(name="drain_outbox")(self._drain)
                    huey.periodic_task(crontab(minute="*"), name="drain_outbox_every_minute")(self._drain)
                    self._huey = huey
        return self._huey

    def _drain(self) -> int:
        with self.app.app_context():
            return jobs.drain(self.app)

    def wake(self) -> None:
        """Enqueue a drain unless one is already waiting (best effort: the outbox keeps the work).

        A waiting drain starts after this commit, and a running one claims again until nothing is
        left, so either does this transaction's rows; a burst of writes enqueues one drain, not one each.
        """
        huey = self.huey
        if huey.pending_count() == 0:
            self._drain_task()


def queue(app: Flask) -> Queue:
    """The app's queue."""
    return app.extensions[_KEY]


def _wake_after_commit(app: Flask):
    def wake(_session, done: dict) -> None:
        if done.get(jobs.WOKEN) and app.config.get("JOBS_WAKE", True):
            queue(app).wake()
    return wake


def init_app(app: Flask) -> None:
    """The queue, and the after-commit step that wakes it when a transaction wrote outbox rows."""
    app.extensions[_KEY] = Queue(app)
    add_commit_step(app, after=_wake_after_commit(app))
    jobs.on_more_work(app, lambda: queue(app).wake() if app.config.get("JOBS_WAKE", True) else None)
    metrics.add_scrape_reader(app, lambda: jobs.metric_samples(get_engine(app)))


def run_worker(app: Flask, workers: int = 2, sweep_seconds: Optional[float] = None) -> None:
    """Run the huey consumer in this process until it is stopped (SIGTERM/SIGINT), draining the outbox."""
    q = queue(app)
    huey = q.huey
    sweep = float(sweep_seconds if sweep_seconds is not None else app.config.get("JOBS_SWEEP_SECONDS", 5))
    stop = threading.Event()

    def sweeper() -> None:
        engine = get_engine(app)
        while not stop.wait(sweep):
            try:
                if huey.pending_count() == 0 and jobs.has_claimable(engine):
                    q.wake()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("jobs: sweep failed")

    q.wake()  # whatever was left when the last worker stopped (or died)
    thread = threading.Thread(target=sweeper, name="outbox-sweeper", daemon=True)
    thread.start()
    # Poll the queue at least every second when idle (huey backs off to 10 s by default; Redis blocks instead).
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True, max_delay=1.0)
    try:
        consumer.run()
    finally:
        stop.set()

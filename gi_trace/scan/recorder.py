"""Write-behind scan logging: scans are buffered per process and written in one transaction a few
times a second, so the scan page itself only reads.

On SQLite every write takes the database's single write lock; with one transaction per page view,
2 workers × 32 connections spend their time waiting for it. Buffering turns thousands of small
transactions into a handful, grouped by (code, network). The page shows the stored count plus this
process's scans not yet written, so a shopper's second scan is counted at once; another process's
unwritten scans appear within one flush interval. A crash loses at most one interval of scan counts
(signals, not evidence: events and decisions are never written this way).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy.engine import Engine

from gi_trace.observability import metrics
from gi_trace.scan import services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """What this process holds for a code that the database does not show yet."""

    scans: int
    first_at: Optional[datetime]


class ScanRecorder:
    """A per-process buffer of scans and the thread that writes it every `interval` seconds."""

    def __init__(self, engine: Engine, interval: float, limits: dict[str, tuple[int, int]]):
        self.engine = engine
        self.limits = limits
        self.interval = interval
        self._lock = threading.Lock()
        self._buffer: list[services.Scans] = []
        self._unwritten: dict[str, list] = {}  # code -> [scans, first_at] buffered or being written
        self._wake = threading.Event()
        self._stopped = False
        self._pid = None
        self._thread: Optional[threading.Thread] = None

    def add(self, *, code: str, kind: str, batch_id: Optional[int], producer_id: Optional[int], network_hash: str,
            now: datetime) -> Pending:
        """Buffer one scan; return this process's unwritten scans of the code (this one included)."""
        self._ensure_thread()
        with self._lock:
            self._buffer.append(services.Scans(code, kind, batch_id, producer_id, network_hash, 1, now, now))
            unwritten = self._unwritten.get(code)
            if unwritten is None:
                unwritten = self._unwritten[code] = [0, now]
            unwritten[0] += 1
            return Pending(unwritten[0], unwritten[1])

    def pending(self, code: str) -> Pending:
        with self._lock:
            unwritten = self._unwritten.get(code)
            return Pending(unwritten[0], unwritten[1]) if unwritten else Pending(0, None)

    def flush(self) -> int:
        """Write everything buffered in one transaction; return the number of scans written."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return 0
        written = 0
        try:
            with self.engine.begin() as conn:
                services.record_scans(conn, batch, self.limits)
            written = len(batch)
        except Exception:
            log.exception("writing %s buffered scans failed; they are dropped", len(batch))
            metrics.scan_flush_failed(len(batch))
        finally:
            with self._lock:
                for item in batch:
                    unwritten = self._unwritten.get(item.code)
                    if unwritten is not None:
                        unwritten[0] -= item.count
                        if unwritten[0] <= 0:
                            del self._unwritten[item.code]
        return written

    def _ensure_thread(self) -> None:
        # gunicorn forks workers after the app is built: each process starts its own writer.
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="scan-recorder", daemon=True)
            self._thread.start()
            atexit.register(self.flush)

    def close(self) -> None:
        """Write what is buffered and stop the writer thread."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.flush()
        atexit.unregister(self.flush)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # pragma: no cover - logged; the next interval tries again
                log.exception("scan recorder flush failed")

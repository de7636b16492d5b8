"""A few database connections kept aside for the scan page's reads.

The page reads with three plain SELECTs. Going through the engine's pool costs, on PostgreSQL, a
pre-ping round trip at checkout and a ROLLBACK round trip at return; these connections are taken
out of the pool once (connect events, such as SQLite's PRAGMAs, have run), put in autocommit on
PostgreSQL so no transaction is ever open, and reused. Writes never use them.
"""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import Engine


class ReadConnection:
    """A DBAPI connection and its dialect's name (what `scan.read_path.Query` needs)."""

    __slots__ = ("dialect_name", "dbapi")

    def __init__(self, dialect_name: str, dbapi) -> None:
        self.dialect_name = dialect_name
        self.dbapi = dbapi


def _close_all(idle: list) -> None:
    while idle:
        _fairy, dbapi = idle.pop()
        try:
            dbapi.close()
        except Exception:  # pragma: no cover - closing at exit is best effort
            pass


class ReadConnections:
    """Up to `keep` idle read connections per process, handed out one per request."""

    def __init__(self, engine: Engine, keep: int = 8):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.keep = keep
        self._idle: list = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        weakref.finalize(self, _close_all, self._idle)

    def _new(self):
        fairy = self.engine.raw_connection()
        dbapi = fairy.driver_connection
        fairy.detach()
        if self.dialect == "postgresql":
            dbapi.rollback()  # the pool's pre-ping may have opened a transaction
            dbapi.autocommit = True
        return fairy, dbapi

    @contextmanager
    def connection(self) -> Iterator[ReadConnection]:
        if self._pid != os.getpid():  # a forked worker must not share its parent's sockets
            with self._lock:
                self._idle[:] = []
                self._pid = os.getpid()
        with self._lock:
            entry = self._idle.pop() if self._idle else None
        if entry is None:
            entry = self._new()
        try:
            yield ReadConnection(self.dialect, entry[1])
        except BaseException:
            entry[1].close()  # its state is unknown after an error: do not reuse it
            raise
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(entry)
                entry = None
        if entry is not None:
            entry[1].close()

    def close(self) -> None:
        with self._lock:
            _close_all(self._idle)

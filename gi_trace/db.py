"""Database engine, the one-session-per-request rule, and the one commit point (the unit of work).

Nothing connects at import time: `init_app` builds the engine from the app's config.

Services take a session, `add` and `flush`, and never commit or roll back; views and API handlers do
not either. The boundary does, once (as indico's request handler does):

- a request: `finish_request` commits the request's session when the view returned a status below 400
  and did not declare failure (`fail()`, e.g. a form that shows a service's refusal with a 200), and
  rolls it back otherwise; an exception rolls back too (the session is closed at teardown);
- a CLI command or a background job: `session_scope` commits at the end of the block or rolls back.

Both go through `commit(session)`, which first runs the app's before-commit steps in the same
transaction (what an area derives from the changes: e.g. the stored pages' invalidation and the
outbox rows of the jobs that refresh them, see gi_trace.jobs) and, once committed, its after-commit
steps (best effort, e.g. waking the worker). Areas register those steps explicitly at app start
(`add_commit_step`); nothing is registered by importing a module.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

_ENGINE_KEY = "gi_trace.engine"
_STEPS_KEY = "gi_trace.commit_steps"
_FAILED = "gi_trace_request_failed"  # in `g`: the view declared that the request failed
# In `session.info`: what the transaction changed, noted by services for the before-commit steps
# (e.g. tracing.chain.touch); cleared when the transaction ends either way.
NOTES = "gi_trace.transaction_notes"

log = logging.getLogger(__name__)


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine with the settings this app relies on for each backend."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("in-memory SQLite is not supported: give a file path")
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=not echo,  # a logged database error must not carry the row's values
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            # WAL lets readers (the scan page) run while a writer holds the lock.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, echo=echo, hide_parameters=not echo, pool_pre_ping=True, pool_size=5,
                         max_overflow=10)


def get_engine(app: Flask | None = None) -> Engine:
    """The engine bound to the (current) app."""
    app = app or current_app
    return app.extensions[_ENGINE_KEY]


def get_session() -> Session:
    """The request's (or CLI command's) session, opened on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the session at the end of the request; roll back anything uncommitted."""
    session = g.pop("db_session", None)
    g.pop(_FAILED, None)
    if session is not None:
        session.info.pop(NOTES, None)
        session.close()


def notes(session: Session) -> dict:
    """What the session's current transaction changed, as noted by services (cleared at commit/rollback)."""
    return session.info.setdefault(NOTES, {})


def add_commit_step(app: Flask, before: Optional[Callable[[Session], None]] = None,
                    after: Optional[Callable[[Session, dict], None]] = None) -> None:
    """Register what the unit of work does at every commit of this app.

    `before(session)` runs inside the transaction, after a flush, and may write (one commit with the
    change). `after(session, notes)` runs once the transaction committed, with the notes it had;
    it must not need to succeed (its errors are logged, never raised).
    """
    app.extensions.setdefault(_STEPS_KEY, []).append((before, after))


def _steps(app: Flask | None) -> list:
    if app is None:
        app = current_app._get_current_object() if has_app_context() else None
    return app.extensions.get(_STEPS_KEY, []) if app is not None else []


def commit(session: Session, app: Flask | None = None) -> None:
    """The one commit point: the before-commit steps, COMMIT, then the after-commit steps."""
    done = before_commit(session, app)
    session.commit()
    after_commit(session, done, app)


def before_commit(session: Session, app: Flask | None = None) -> dict:
    """Run the before-commit steps in the session's transaction; return (and clear) its notes."""
    if notes(session):
        session.flush()
        for before, _after in _steps(app):
            if before is not None:
                before(session)
    return session.info.pop(NOTES, {})


def after_commit(session: Session, done: dict, app: Flask | None = None) -> None:
    """Run the after-commit steps with the committed transaction's notes (errors logged, not raised)."""
    if not done:
        return
    for _before, after in _steps(app):
        if after is not None:
            try:
                after(session, done)
            except Exception:  # noqa: BLE001 - the write is committed; what follows is best effort
                log.exception("after-commit step failed (the outbox keeps the work for the worker)")


def rollback(session: Session) -> None:
    """Undo the session's transaction and forget what it noted."""
    session.info.pop(NOTES, None)
    session.rollback()


def open_for_savepoints(session: Session) -> None:
    """Make sure the session's transaction is open before work in savepoints (`session.begin_nested()`): pysqlite
    opens its transaction only at the first INSERT/UPDATE/DELETE, and a SAVEPOINT released outside a transaction
    commits, so a refused import or capture would leave its first rows behind."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("UPDATE batch SET id = id WHERE 0")


def fail() -> None:
    """Declare the current request failed: nothing it wrote is committed, whatever its status."""
    setattr(g, _FAILED, True)


def failed() -> bool:
    """Whether the current request was declared failed."""
    return bool(g.get(_FAILED))


def finish_request(response):
    """Commit the request's session if the request succeeded, else roll it back (the request boundary).

    Succeeded: the view returned a status below 400 and did not call `fail()`. Called by the app's
    `dispatch_request` right after the view, so an error raised by the commit is answered by the
    error handlers like any other. A request that never opened a session (the scan page) costs a lookup.
    """
    session = g.get("db_session")
    if session is None:
        return response
    if response.status_code >= 400 or failed():
        rollback(session)
    else:
        commit(session)
    return response


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A unit of work for a CLI command, script or job: commits once at the end, or rolls back."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        try:
            yield session
            commit(session, app)
        except BaseException:
            rollback(session)
            raise


def is_postgres(session_or_engine) -> bool:
    """True when the session or engine talks to PostgreSQL."""
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def init_app(app: Flask) -> None:
    """Build the engine and register teardown."""
    app.extensions[_ENGINE_KEY] = make_engine(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False))
    # Per request as well: a request inside an app context that is already pushed (a test's, a
    # CLI command's) shares that context's `g`, and must still not leave its session to the next one.
    app.teardown_request(close_session)
    app.teardown_appcontext(close_session)

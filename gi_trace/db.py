"""Database engine and the one-session-per-request rule.

Nothing connects at import time: `init_app` builds the engine from the app's config.
Services take a session and never commit; the view or CLI command commits once.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

_ENGINE_KEY = "gi_trace.engine"


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine with the settings this app relies on for each backend."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("in-memory SQLite is not supported: give a file path")
        engine = create_engine(
            url,
            echo=echo,
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
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)


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
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session that commits once at the end or rolls back (for scripts and CLI)."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
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

"""Shared fixtures: a real database (SQLite by default, PostgreSQL when DATABASE_URL says so).

The schema is created once per test session; each test starts from empty tables plus the
reference data (regions, 中宁枸杞), so tests never see each other's rows.
"""
from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

_TMP = Path(tempfile.mkdtemp(prefix="gi_trace_tests_"))
# The app writes its generated secret into the instance folder: keep tests out of the repo's.
os.environ.setdefault("GI_TRACE_INSTANCE", str(_TMP / "instance"))

from gi_trace import create_app  # noqa: E402
from gi_trace.config import normalise_database_url  # noqa: E402
from gi_trace.db import make_engine  # noqa: E402
import gi_trace.models  # noqa: E402,F401
from gi_trace.registry.reference import ensure_reference_data  # noqa: E402

TEST_DATABASE_URL = normalise_database_url(os.environ.get("DATABASE_URL") or f"sqlite:///{_TMP / 'test.sqlite3'}")
IS_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


def pytest_report_header(config):
    return f"database: {TEST_DATABASE_URL.split('@')[-1]}"


@pytest.fixture(scope="session")
def database_url() -> str:
    """The URL of the test database (schema created once per session)."""
    engine = make_engine(TEST_DATABASE_URL)
    with engine.begin() as conn:
        if IS_POSTGRES:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            SQLModel.metadata.drop_all(conn)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    return TEST_DATABASE_URL


def _empty_tables(engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as conn:
        if IS_POSTGRES:
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                conn.execute(table.delete())
            if _has_sqlite_sequence(conn):
                conn.execute(text("DELETE FROM sqlite_sequence"))
            conn.execute(text("PRAGMA foreign_keys=ON"))


def _has_sqlite_sequence(conn) -> bool:
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


@pytest.fixture
def app_config(database_url) -> dict:
    """The test configuration; override keys in a test module with its own `app_config` fixture."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "SCAN_SALT": "test-salt",
        "PUBLIC_BASE_URL": "https://trace.example.cn",
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }


@pytest.fixture
def app(app_config):
    """A fresh app over empty tables with the reference data loaded."""
    application = create_app(app_config)
    from gi_trace.db import get_engine

    engine = get_engine(application)
    _empty_tables(engine)
    with Session(engine) as session:
        ensure_reference_data(session)
        session.commit()
    yield application
    engine.dispose()


class UnitOfWorkSession(Session):
    """A test's session: `commit()` is the app's unit of work (gi_trace.db.commit), as at the end of a
    request, so a test that writes and commits leaves what a request would (stored pages, outbox rows)."""

    def commit(self) -> None:
        from gi_trace import db

        done = db.before_commit(self)
        super().commit()
        db.after_commit(self, done)

    def rollback(self) -> None:
        from gi_trace import db

        self.info.pop(db.NOTES, None)
        super().rollback()


@pytest.fixture
def session(app):
    """A session on the test database, inside an app context (services need one for messages)."""
    from gi_trace.db import get_engine

    with app.test_request_context():
        with UnitOfWorkSession(get_engine(app), expire_on_commit=False) as s:
            from tests import factories

            factories.bind(s)
            yield s
            factories.bind(None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """A CSRF token for the client's session, read from a page's meta tag."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def login(client, username: str, password: str = "password123"):
    """Log the test client in through the real login form."""
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under test-output/ for screenshots and files a test saves."""
    path = OUTPUT_DIR / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def empty_database_url(tmp_path, database_url):
    """A brand-new empty database of the backend under test (a file, or a PostgreSQL database dropped after)."""
    if not IS_POSTGRES:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"gi_trace_tmp_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

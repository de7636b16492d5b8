"""Real server and CLI processes for the crash tests: gunicorn and `flask --app gi_trace` as subprocesses
against the test database, killed with SIGKILL (the whole process group: master and workers)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def process_env(database_url: str, instance: Path, **extra: str) -> dict:
    """The environment of an app process on the test database (rate limits off, its own instance folder)."""
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url, "GI_TRACE_INSTANCE": str(instance), "SECRET_KEY": "test-secret",
                "SCAN_SALT": "test-salt", "RATELIMIT_ENABLED": "0", "PUBLIC_BASE_URL": "https://trace.example.cn"})
    env.update(extra)
    return env


def flask(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `flask --app gi_trace ARGS` to completion."""
    return subprocess.run([str(BIN / "flask"), "--app", "gi_trace", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessGroup:
    """A subprocess started in its own process group (`self.proc`), stopped or killed as a whole."""

    proc: subprocess.Popen

    def kill(self) -> None:
        """SIGKILL the process and its children at once (no graceful shutdown, no atexit)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.closed()

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()
        self.closed()

    def closed(self) -> None:
        """Called once the process is gone."""


class Gunicorn(ProcessGroup):
    """gunicorn serving the app on 127.0.0.1 in its own process group."""

    def __init__(self, env: dict, workers: int = 2, port: int | None = None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "gi_trace:create_app()"],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("gunicorn did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def post_json(url: str, body: dict, token: str, timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"{}")
    except http.client.IncompleteRead as exc:  # killed while answering: as gone as a refused connection
        raise ConnectionResetError("the server went away in the middle of its answer") from exc


def writer_active(database_url: str, engine) -> bool:
    """Whether another connection holds an open write transaction (the import's write phase)."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(database_url).database, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")).scalar_one())


class JobsWorker(ProcessGroup):
    """`flask --app gi_trace jobs worker` in its own process group."""

    def __init__(self, env: dict, log_path: Path | None = None):
        self.log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen([str(BIN / "flask"), "--app", "gi_trace", "jobs", "worker"], cwd=ROOT, env=env,
                                     start_new_session=True, stdout=self.log, stderr=self.log)

    def closed(self) -> None:
        if self.log is not subprocess.DEVNULL and not self.log.closed:
            self.log.close()

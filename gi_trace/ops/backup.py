"""Consistent online backups and restores.

SQLite: the sqlite3 online-backup API copies a consistent snapshot in one step while the app keeps
serving (in WAL mode readers and writers do not wait for it). PostgreSQL: `pg_dump --format=custom`, which reads
one consistent snapshot; restore with `pg_restore --clean --if-exists`.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Sequence

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("the SQLite URL names no file")
    return Path(database)


def _pg_args(url: str) -> tuple[list[str], dict]:
    u = make_url(url)
    args = ["--host", u.host or "127.0.0.1", "--port", str(u.port or 5432), "--username", u.username or "postgres",
            "--dbname", u.database or ""]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    return args, env


def _pg_run(tool: str, url: str, options: list[str], tail: Sequence[str] = ()) -> None:
    """Run a PostgreSQL client tool (options, then the connection, then tail) on the database at `url`."""
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (Debian: apt-get install postgresql-client)")
    args, env = _pg_args(url)
    result = subprocess.run([tool, *options, *args, *tail], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {result.stderr.strip()}")


def backup(url: str, dest: "Path | str", progress=None) -> Path:
    """Write a consistent copy of the database at `url` to `dest` (a file); return the file."""
    is_folder = str(dest).endswith(os.sep)
    dest = Path(dest)
    if dest.is_dir() or is_folder:
        dest = dest / ("gi_trace.sqlite3" if url.startswith("sqlite") else "gi_trace.pgdump")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(tmp)
        try:
            def _progress(status, remaining, total):
                if progress:
                    progress(total - remaining, total)
            # One step, inside one read snapshot: in WAL mode writers carry on meanwhile. A step of N
            # pages would restart from the first page whenever another connection commits, and under
            # a steady stream of writes might never finish.
            source.backup(target, pages=-1, progress=_progress)
        finally:
            target.close()
            source.close()
    elif url.startswith("postgresql"):
        try:
            _pg_run("pg_dump", url, ["--format=custom", "--file", str(tmp)])
        except BackupError:
            tmp.unlink(missing_ok=True)
            raise
    else:
        raise BackupError(f"no backup method for {url.split(':')[0]}")
    os.replace(tmp, dest)  # a half-written backup never carries the final name
    return dest


def restore(url: str, source: Path) -> None:
    """Replace the database at `url` with the backup in `source`. Stop the app servers first."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    if url.startswith("sqlite"):
        check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} fails SQLite's integrity check")
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not an SQLite backup: {exc}") from exc
        finally:
            check.close()
        target_path = _sqlite_path(url)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target_path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    elif url.startswith("postgresql"):
        _pg_run("pg_restore", url, ["--clean", "--if-exists", "--no-owner", "--single-transaction"], [str(source)])
    else:
        raise BackupError(f"no restore method for {url.split(':')[0]}")

"""Structured logs: one pipeline (structlog over the standard library) for requests, CLI commands and jobs.

Every line is an event name plus fields. LOG_FORMAT=json writes one JSON object per line (production:
what a log shipper reads); LOG_FORMAT=console writes readable lines (development). Unset, the format is
console when FLASK_DEBUG is on or stderr is a terminal, JSON otherwise (gunicorn under systemd, a
container, CI). Calls to the standard library's `logging` (app.logger, module loggers) come out of the
same handler in the same format, with the same context (request id, command or job id).

What is never logged: passwords, tokens, Authorization or Cookie headers, request bodies or query
strings, complaint contents, contacts, household names, raw paths (they carry trace codes) and client
IP addresses. The request line names the route by its endpoint, never the path, and the user by id;
fields whose name says they are secret or personal are masked as a last guard (see `SENSITIVE_KEYS`).
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from contextlib import contextmanager
from typing import Iterator, Optional

import structlog
from flask import Flask, g, has_request_context
from sqlalchemy import inspect as sa_inspect

HANDLER_NAME = "gi_trace"
REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is kept only when it is short and plain (a proxy's or a client's correlation
# id); anything else (spaces, quotes, control characters, very long) is replaced by a fresh one.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
SENSITIVE_KEYS = frozenset({"password", "passwd", "token", "secret", "authorization", "cookie", "contact",
                            "phone", "text", "name", "username", "ip", "remote_addr", "path", "query"})
MASK = "[masked]"

request_log = structlog.get_logger("gi_trace.request")
command_log = structlog.get_logger("gi_trace.command")
job_log = structlog.get_logger("gi_trace.job")


class _StderrHandler(logging.StreamHandler):
    """Writes to the process's standard error (file descriptor 2), never to a stand-in for it: a CLI
    command's printed output stays its own even when a caller captures sys.stderr (click's test runner
    mixes the two)."""

    def __init__(self) -> None:
        super().__init__()
        self.name = HANDLER_NAME

    @property
    def stream(self):
        return sys.__stderr__ or sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it
        pass


def _mask_sensitive(_logger, _method, event_dict: dict) -> dict:
    """Last guard: a field named like a secret or a personal detail is never written."""
    for key in SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = MASK
    return event_dict


def user_id_of(user) -> Optional[int]:
    """A user's id from the object's identity, never from the database (the request's transaction may
    have failed, or been committed and expired, by the time its line is written)."""
    if user is None:
        return None
    try:
        identity = sa_inspect(user).identity
    except Exception:  # noqa: BLE001 - not a mapped object: no id to give
        return None
    return identity[0] if identity else None


def current_user_id() -> Optional[int]:
    """The id of the request's authenticated user (g.actor, set by gi_trace.access), or None."""
    return user_id_of(g.get("actor")) if has_request_context() else None


def _add_user(_logger, _method, event_dict: dict) -> dict:
    """Inside a request, the authenticated user's id (never a name)."""
    if "user_id" not in event_dict and has_request_context():
        event_dict["user_id"] = current_user_id()
    return event_dict


_SHARED = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
)


def log_format(app: Flask) -> str:
    """json or console: LOG_FORMAT, else console in debug mode or on a terminal, else json."""
    chosen = (app.config.get("LOG_FORMAT") or "").strip().lower()
    if chosen in ("json", "console"):
        return chosen
    if app.debug or os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes"):
        return "console"
    return "console" if sys.stderr.isatty() else "json"


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        final = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(ensure_ascii=False)]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, _add_user],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _mask_sensitive, *final],
    )


def configure(app: Flask) -> None:
    """Route structlog and the standard library's logging through one stderr handler (idempotent)."""
    fmt = log_format(app)
    level = logging.getLevelName(str(app.config.get("LOG_LEVEL") or "INFO").upper())
    if not isinstance(level, int):
        level = logging.INFO
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.name == HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    if getattr(handler, "gi_format", None) != fmt:
        handler.setFormatter(_formatter(fmt))
        handler.gi_format = fmt
    root.setLevel(level)
    # The development server's access lines carry the client's full address and the raw path: the
    # request line below replaces them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)  # app.logger propagates to the handler above
    if not structlog.is_configured():
        structlog.configure(
            processors=[structlog.stdlib.filter_by_level, *_SHARED, _add_user,
                        structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )


def new_id() -> str:
    return uuid.uuid4().hex


def request_id_from(value: Optional[str]) -> str:
    """The caller's X-Request-ID when it is sane, else a new id."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return new_id()


@contextmanager
def job_context(kind: str, job_id: Optional[str] = None, **fields) -> Iterator[str]:
    """Log a background job's start and end (duration, outcome) with its id bound to every line inside."""
    job_id = job_id or new_id()
    tokens = structlog.contextvars.bind_contextvars(job_id=str(job_id), job=kind)
    started = time.perf_counter()
    job_log.info("job started", **fields)
    try:
        yield job_id
    except BaseException as exc:
        job_log.error("job failed", error=type(exc).__name__, duration_ms=_ms(started), **fields)
        raise
    else:
        job_log.info("job finished", duration_ms=_ms(started), **fields)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

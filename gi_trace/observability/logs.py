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
import json
import re
import sys
import time
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

# Set by configure(): structlog loggers whose lines name these loggers.
request_log = command_log = job_log = structlog.get_logger()


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


def _add_request(_logger, _method, event_dict: dict) -> dict:
    """Inside a request: its id and the authenticated user's id (never a name)."""
    if has_request_context():
        if "request_id" not in event_dict:
            event_dict["request_id"] = g.get("request_id")
        if "user_id" not in event_dict:
            event_dict["user_id"] = current_user_id()
    return event_dict


_second = -1
_second_text = ""


def _time(_logger, _method, event_dict: dict) -> dict:
    """UTC time in ISO 8601 with microseconds (the date part is formatted once a second)."""
    global _second, _second_text
    now = time.time()
    second = int(now)
    if second != _second:
        _second_text, _second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)), second
    event_dict["time"] = f"{_second_text}.{int((now - second) * 1_000_000):06d}Z"
    return event_dict


# One encoder for every line (json.dumps with options builds a new one per call).
_JSON = json.JSONEncoder(ensure_ascii=False, default=repr)


def _renderers(fmt: str) -> list:
    if fmt == "json":
        return [structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=lambda obj, **_kw: _JSON.encode(obj))]
    return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]


def log_format(app: Flask) -> str:
    """json or console: LOG_FORMAT, else console in debug mode or on a terminal, else json."""
    chosen = (app.config.get("LOG_FORMAT") or "").strip().lower()
    if chosen in ("json", "console"):
        return chosen
    if app.debug or os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes"):
        return "console"
    return "console" if sys.stderr.isatty() else "json"


def _formatter(fmt: str) -> logging.Formatter:
    """For the standard library's records: the same fields and the same rendering as structlog's events."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
                           structlog.stdlib.add_logger_name, _time, _add_request],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _mask_sensitive,
                    *_renderers(fmt)],
    )


def _loggers() -> None:
    global request_log, command_log, job_log
    request_log = structlog.get_logger().bind(logger="gi_trace.request")
    command_log = structlog.get_logger().bind(logger="gi_trace.command")
    job_log = structlog.get_logger().bind(logger="gi_trace.job")


_CONFIGURED: tuple = ()


def configure(app: Flask) -> None:
    """One format for everything on standard error (idempotent; a new format or level applies at once).

    structlog's own events (the request, command and job lines) are rendered by structlog and written
    straight to the stream: the standard library's record, caller lookup and handler chain would cost
    more than the rest of a scan page's logging. Records of the standard library's loggers go through
    one root handler whose formatter runs the same processors.
    """
    global _CONFIGURED
    fmt = log_format(app)
    level = logging.getLevelName(str(app.config.get("LOG_LEVEL") or "INFO").upper())
    if not isinstance(level, int):
        level = logging.INFO
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.name == HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    if (fmt, level) != _CONFIGURED:
        handler.setFormatter(_formatter(fmt))
        structlog.configure(
            processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level, _time,
                        _add_request, _mask_sensitive, *_renderers(fmt)],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__ or sys.stderr),
            cache_logger_on_first_use=True,
        )
        _loggers()  # loggers cached under the previous configuration are replaced
        _CONFIGURED = (fmt, level)
    root.setLevel(level)
    # The development server's access lines carry the client's full address and the raw path: the
    # request line replaces them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)  # app.logger propagates to the handler above


def new_id() -> str:
    """A random 128-bit id in hex (as uuid4().hex, at a fifth of its cost)."""
    return os.urandom(16).hex()


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
        if isinstance(exc, Exception):
            from gi_trace.observability import metrics

            metrics.job_failed(kind)
        raise
    else:
        job_log.info("job finished", duration_ms=_ms(started), **fields)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

"""Prometheus metrics (prometheus_client), served at /metrics to loopback or to a metrics token.

Under gunicorn every worker is its own process: with PROMETHEUS_MULTIPROC_DIR set (by scripts/run.sh,
before any Python starts) each process writes its counters to files there and a scrape, answered by
any worker, adds them up (prometheus_client's multiprocess mode; gunicorn.conf.py marks dead workers).
Without the variable the process's own registry is served (flask run, tests).

Labels stay bounded: a request is counted by its endpoint name (e.g. `scan.trace_page`), method and
status, never by its path (which carries a trace code per label printed).
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from typing import Callable, Iterable

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               disable_created_metrics, generate_latest)
from prometheus_client.core import GaugeMetricFamily

from gi_trace.access import PUBLIC, access
from gi_trace.db import add_commit_step, notes

disable_created_metrics()  # no `*_created` series beside every counter: nothing here reads them

# Requests ---------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter("gi_trace_http_requests", "HTTP requests answered, by endpoint, method and status.",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("gi_trace_http_request_duration_seconds",
                          "Time from the start of the request's handling to its response, by endpoint.",
                          ["route"], buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))

# The scan page, by what the shopper was shown ----------------------------------------------------
SCANS = Counter("gi_trace_scans", "Trace pages served to a scan, by outcome.", ["outcome"])
SCAN_OUTCOMES = ("genuine", "flagged", "withdrawn", "unknown", "malformed")
_SCAN = {outcome: SCANS.labels(outcome) for outcome in SCAN_OUTCOMES}
SCAN_RECORDER_FLUSH_FAILURES = Counter("gi_trace_scan_recorder_flush_failures",
                                       "Write-behind scan flushes that failed (their scans are dropped).")
SCAN_RECORDER_DROPPED = Counter("gi_trace_scan_recorder_dropped_scans",
                                "Scans dropped because their flush failed.")

# Writes: noted by the services, counted when the unit of work commits (a rollback forgets them) --------
EVENTS_RECORDED = Counter("gi_trace_events_recorded",
                          "Trace events recorded (committed), corrections included.")
BATCHES_CREATED = Counter("gi_trace_batches_created",
                          "Batches created (committed): opened, or made by a split, merge or transformation.")
_WRITES = {"event": EVENTS_RECORDED, "batch": BATCHES_CREATED}
_WRITES_NOTE = "metrics_writes"  # in the transaction's notes (gi_trace.db.notes)

# Background work (gi_trace.jobs): failures counted where they happen, the queue read at scrape time ------
JOB_FAILURES = Counter("gi_trace_job_failures",
                       "Background work that raised (outbox handlers and long jobs), by kind.", ["job"])



_REQUEST_SERIES: dict = {}


def request_done(route: str, method: str, status: int, seconds: float) -> None:
    """Count an answered request and its duration (the series are looked up once per combination)."""
    key = (route, method, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        series = _REQUEST_SERIES[key] = (HTTP_REQUESTS.labels(route, method, status),
                                         HTTP_DURATION.labels(route))
    series[0].inc()
    series[1].observe(seconds)


def scan(outcome: str) -> None:
    """Count one scan of a trace page by what it showed."""
    _SCAN[outcome].inc()


def scan_flush_failed(scans: int) -> None:
    SCAN_RECORDER_FLUSH_FAILURES.inc()
    SCAN_RECORDER_DROPPED.inc(scans)


def job_failed(kind: str) -> None:
    JOB_FAILURES.labels(kind).inc()


def wrote(session, kind: str, count: int = 1) -> None:
    """Note a write ('event' or 'batch') in the session's transaction; it is counted if that commits."""
    written = notes(session).setdefault(_WRITES_NOTE, {})
    written[kind] = written.get(kind, 0) + count


def _count_committed_writes(_session, done: dict) -> None:
    for kind, count in done.get(_WRITES_NOTE, {}).items():
        _WRITES[kind].inc(count)


# Read at scrape time: what lives in the database, shared by every process (e.g. the job queue) -------
_READERS_KEY = "gi_trace.metrics_readers"


def add_scrape_reader(app, read: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
    """Expose gauges read at each scrape: `read()` gives (name, documentation, value) for each."""
    app.extensions.setdefault(_READERS_KEY, []).append(read)


class _ScrapeTimeGauges:
    def __init__(self, readers: Iterable) -> None:
        self.readers = list(readers)

    def collect(self):
        for read in self.readers:
            try:
                samples = list(read())
            except Exception:  # noqa: BLE001 - a scrape shows what it can; the failure is logged
                current_app.logger.exception("metrics could not be read from %s",
                                             getattr(read, "__qualname__", read))
                continue
            for name, documentation, value in samples:
                family = GaugeMetricFamily(name, documentation)
                family.add_metric([], float(value))
                yield family


class _Forward:
    """The process-wide registry, inside a scrape's own registry."""

    def collect(self):
        return REGISTRY.collect()


def exposition(app) -> bytes:
    """The text the scrape reads: every process's metrics (multiprocess mode) or this one's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward())
    readers = app.extensions.get(_READERS_KEY)
    if readers:
        registry.register(_ScrapeTimeGauges(readers))
    return generate_latest(registry)


# The endpoint -----------------------------------------------------------------------------------
_FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def from_loopback() -> bool:
    """The socket peer is this machine and no proxy forwarded the request.

    The peer is read before ProxyFix (PROXY_HOPS) rewrites it, and any forwarding header disqualifies:
    a remote client cannot become "loopback" by sending X-Forwarded-For: 127.0.0.1, and a proxy on this
    machine (whose own address is loopback) passing on a remote scrape needs the token.
    """
    environ = request.environ
    peer = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", environ.get("REMOTE_ADDR")) or ""
    if not _is_loopback(peer):
        return False
    return not any(name in request.headers for name in _FORWARDING_HEADERS)


def _token_state() -> str:
    """'ok' for the right bearer token, 'wrong' for another, 'none' when none is offered."""
    header = request.headers.get("Authorization", "")
    if not header[:7].lower() == "bearer ":
        return "none"
    expected = current_app.config.get("METRICS_TOKEN") or ""
    if expected and hmac.compare_digest(header[7:].strip().encode(), expected.encode()):
        return "ok"
    return "wrong"


bp = Blueprint("observability", __name__)


@bp.get("/metrics")
@access(PUBLIC)  # the rule is narrower than any role: loopback or the metrics token, checked inside
def metrics():
    """Prometheus metrics for the scraper: from this machine, or with the metrics token as a bearer."""
    token = _token_state()
    if token == "wrong":
        abort(403)
    if token != "ok" and not from_loopback():
        abort(404)  # to the world there is nothing here
    app = current_app._get_current_object()
    return Response(exposition(app), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                              "Cache-Control": "no-store"})


def init_app(app) -> None:
    """Serve /metrics and count the writes of every committed unit of work."""
    app.register_blueprint(bp)
    add_commit_step(app, after=_count_committed_writes)

"""What an operator sees: structured logs (logs.py) and Prometheus metrics (metrics.py).

`init_app` is called last in the factory: it configures the log pipeline, times and logs every request
(request id in and out as X-Request-ID, user id, endpoint, method, status, duration), counts it, serves
/metrics, and wraps every CLI command so that it logs the same way under a command id.
"""
from __future__ import annotations

import time
from functools import wraps

import click
import structlog
from flask import Flask, g, request

from gi_trace.observability import logs, metrics

_STARTED = "gi_trace_started"
_UNMATCHED = "unmatched"  # 404s of no route and 405s: one label, whatever the path


def _begin_request() -> None:
    setattr(g, _STARTED, time.perf_counter())
    # In `g`, not in structlog's context variables: a processor adds it to every line of the request.
    g.request_id = logs.request_id_from(request.headers.get(logs.REQUEST_ID_HEADER))


def _finish(status: int) -> None:
    started = g.pop(_STARTED, None)
    if started is None:
        return
    elapsed = time.perf_counter() - started
    route = request.endpoint or _UNMATCHED
    method = request.method
    metrics.request_done(route, method, status, elapsed)
    logs.request_log.info("request", route=route, method=method, status=status,
                          duration_ms=round(elapsed * 1000, 2), request_id=g.get("request_id"),
                          user_id=logs.current_user_id())


def _after_request(response):
    response.headers[logs.REQUEST_ID_HEADER] = g.get("request_id") or ""
    _finish(response.status_code)
    return response


def _teardown_request(exc) -> None:
    if exc is not None:
        _finish(500)  # an exception no handler answered (after_request did not run)


def _wrap_command(command: click.Command) -> None:
    callback = command.callback
    if callback is None or getattr(callback, "gi_trace_logged", False):
        return

    @wraps(callback)
    def logged(*args, **kwargs):
        name = click.get_current_context().command_path.split(" ", 1)[-1]
        tokens = structlog.contextvars.bind_contextvars(command_id=logs.new_id(), command=name)
        started = time.perf_counter()
        logs.command_log.info("command started")
        try:
            result = callback(*args, **kwargs)
        except click.exceptions.Exit as exc:
            outcome = "ok" if exc.exit_code == 0 else "failed"
            logs.command_log.info("command finished", outcome=outcome, exit_code=exc.exit_code,
                                  duration_ms=logs._ms(started))
            raise
        except (click.ClickException, click.Abort) as exc:
            logs.command_log.warning("command finished", outcome="refused", error=type(exc).__name__,
                                     duration_ms=logs._ms(started))
            raise
        except BaseException as exc:
            logs.command_log.exception("command failed", outcome="error", error=type(exc).__name__,
                                       duration_ms=logs._ms(started))
            raise
        else:
            logs.command_log.info("command finished", outcome="ok", duration_ms=logs._ms(started))
            return result
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    logged.gi_trace_logged = True
    command.callback = logged


def _wrap_commands(group: click.Group) -> None:
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _wrap_commands(command)
        else:
            _wrap_command(command)


def init_app(app: Flask) -> None:
    """Logs, request timing and counting, /metrics, and logged CLI commands (call last in the factory)."""
    logs.configure(app)
    # First of the before-request functions, so the duration covers authentication and the others.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    metrics.init_app(app)
    _wrap_commands(app.cli)

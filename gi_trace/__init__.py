"""gi-trace: geographical-indication traceability for Zhongwei city (中卫市)."""
from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path
from typing import Any, Mapping, Optional

from flask import Flask

from gi_trace.config import PROJECT_ROOT, load_config, normalise_database_url

# Each area of the app: a package owning its models, services and faces. Its modules named
# views*.py export a blueprint `bp`, api*.py add routes to the shared API blueprint, and cli*.py
# (commands) and tasks*.py (kinds of background job) have `register(app)`; they are found by name, so
# an area adds a face without touching this file.
AREAS = ("jobs", "accounts", "registry", "authorisation", "tracing", "scan", "oversight", "ops", "demo", "web")


def _area_modules(area: str, prefix: str) -> list:
    """Modules of an area whose name starts with `prefix` (views, views_import, api, cli, ...)."""
    package = importlib.import_module(f"gi_trace.{area}")
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith(prefix))
    return [importlib.import_module(f"gi_trace.{area}.{name}") for name in names]


class GiTrace(Flask):
    """The Flask app with the request's unit of work: the view's result decides commit or rollback."""

    def dispatch_request(self):
        from gi_trace.db import finish_request

        return finish_request(self.make_response(super().dispatch_request()))


def create_app(test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Application factory: defaults, then the environment, then `test_config`."""
    instance_path = Path(os.environ.get("GI_TRACE_INSTANCE", PROJECT_ROOT / "instance"))
    app = GiTrace(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(instance_path))
    if test_config:
        app.config.from_mapping(test_config)
        app.config["DATABASE_URL"] = normalise_database_url(app.config["DATABASE_URL"])
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from gi_trace import access, db, errors, i18n, models  # noqa: F401  (models registers tables)
    from gi_trace.extensions import csrf, limiter, login_manager

    db.init_app(app)
    from gi_trace.jobs import queue
    from gi_trace.scan import page_jobs

    queue.init_app(app)  # background jobs: the outbox, woken after each commit that wrote to it
    page_jobs.init_app(app)  # stored trace pages follow the records they show (a step of every commit)
    i18n.init_app(app)
    errors.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from gi_trace.api import api_bp

    _connect_areas(app)
    for area in AREAS:
        # Import API modules first: they add routes to the shared API blueprint.
        _area_modules(area, "api")
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens only, never cookies
    app.register_blueprint(api_bp)

    for area in AREAS:
        for views in _area_modules(area, "views"):
            app.register_blueprint(views.bp)
        for cli in _area_modules(area, "cli"):
            cli.register(app)
        for tasks in _area_modules(area, "tasks"):
            tasks.register(app)  # the area's kinds of background job (gi_trace.jobs.register_job)

    from gi_trace import web
    from gi_trace.migrate import db_cli

    app.cli.add_command(db_cli)
    web.init_app(app)
    from gi_trace.accounts.services import user_for_token

    access.init_app(app, user_for_token)
    from gi_trace import observability

    observability.init_app(app)  # last: it wraps every CLI command and times every request
    return app


def _connect_areas(app: Flask) -> None:
    """Where a higher area extends a lower one, said once, here: a lower area never imports a higher
    one (tests/unit/test_layers.py), so the app factory connects them."""
    from gi_trace.authorisation import imports as authorisation_imports
    from gi_trace.authorisation import views as authorisation_views
    from gi_trace.scan import services as scan_services
    from gi_trace.scan import public_verdict as scan_verdict
    from gi_trace.tracing import test_reports

    authorisation_imports.register()  # the register's import page and CLI offer authorisation decisions
    # the register's producer list and producer page show authorisation statuses, history and decisions
    app.extensions["registry_producer_statuses"] = authorisation_views.PRODUCER_STATUSES
    app.extensions["tracing_scan_counts"] = scan_services.batch_scan_counts  # the producer portal's scan counts
    # the public trace JSON carries the scan page's one verdict
    app.extensions["tracing_public_verdict"] = scan_verdict.public_verdict
    # the regulator's decision form offers the producer's latest passing test report from the record
    app.extensions["authorisation_latest_test_report"] = test_reports.latest_passing

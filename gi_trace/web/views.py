"""Home page and the bare health endpoint."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from gi_trace.access import PUBLIC, access

bp = Blueprint("web", __name__)


@bp.get("/")
@access(PUBLIC)
def index():
    """The home page: what this is, and where each kind of user goes."""
    return render_template("index.html")


@bp.get("/healthz")
@access(PUBLIC)
def healthz():
    """A bare endpoint that returns a short string (liveness, and the benchmarks' floor)."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/favicon.ico")
@access(PUBLIC)
def favicon():
    """Browsers ask for /favicon.ico on every page that names none; answer with the SVG icon."""
    return current_app.send_static_file("img/favicon.svg"), 200, {"Cache-Control": "public, max-age=604800"}

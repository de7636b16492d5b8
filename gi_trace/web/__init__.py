"""What every face of the app shares: template helpers, the home page, health check, headers."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from gi_trace.access import actor


def _template_globals():
    return {
        "current_actor": actor(),
        "current_locale": str(get_locale() or "zh"),
        "csrf_token": generate_csrf,
    }


def lang_url(lang: str) -> str:
    """The current page in another language."""
    args = request.args.to_dict()
    args["lang"] = lang
    from urllib.parse import urlencode

    return request.path + "?" + urlencode(args)


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    )
    return response


def init_app(app: Flask) -> None:
    from gi_trace.web import filters

    app.context_processor(_template_globals)
    app.jinja_env.globals["lang_url"] = lang_url
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    filters.register(app)
    app.after_request(_security_headers)

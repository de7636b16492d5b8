"""What every face of the app shares: template helpers, the home page, health check, headers."""
from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import ImmutableMultiDict

from gi_trace.access import actor
from gi_trace.errors import ValidationError


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


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul():
    """No real input holds a NUL character, and PostgreSQL text cannot store one (a query with it fails
    with a DataError, i.e. a 500). In a path it names nothing (404); query parameters lose it; a form
    or JSON body holding one is refused (422) before any view runs, so nothing recorded is altered."""
    from flask import abort


    if "\x00" in request.path:
        abort(404)
    if b"%00" in request.query_string or b"\x00" in request.query_string:
        # Query parameters are filters and page numbers: drop the NULs, the views judge what is left.
        request.args = ImmutableMultiDict([(k.replace("\x00", ""), v.replace("\x00", ""))
                                           for k, v in request.args.items(multi=True)])
    if request.method in ("POST", "PUT", "PATCH"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            name = next((k for k, v in request.form.items(multi=True) if "\x00" in k or "\x00" in v), None)
        elif request.is_json:
            view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
            if getattr(view, "reads_own_body", False):
                return  # it bounds, parses and checks its body itself (e.g. EPCIS capture, tracing.epcis_capture)
            try:
                name = "body" if _has_nul(request.get_json(silent=True)) else None
            except RecursionError:  # nested deeper than the parser goes: not a body anyone means
                abort(400)
        else:
            name = None
        if name is not None:
            raise ValidationError(_("%(field)s contains a character that is not allowed.", field=name), field=name)


def init_app(app: Flask) -> None:
    from gi_trace.web import filters

    app.context_processor(_template_globals)
    app.jinja_env.globals["lang_url"] = lang_url
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    filters.register(app)
    app.after_request(_security_headers)
    app.before_request(_refuse_nul)
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust exactly `hops` proxies' X-Forwarded-For/-Proto: rate limits and the scan page's network
        # counts then see the client's address instead of the load balancer's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

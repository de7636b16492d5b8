"""Domain errors and how the web layer answers them.

Services raise these with a user-facing message (already translated where it matters) and,
where it fits, the field. API requests get `{"error": {"code", "message", "field"}}`; pages get
an HTML error page. A 500 is a bug.
"""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base class: a rule of the domain refused something."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, code: str | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.extra = extra

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message, "field": self.field}
        body.update(self.extra)
        return {"error": body}


class ValidationError(DomainError):
    """Input that is malformed or incomplete."""

    status = 422
    code = "invalid"


class Refused(DomainError):
    """Well-formed input that a rule does not allow (e.g. outside the protected area)."""

    status = 422
    code = "refused"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"


def wants_json() -> bool:
    """API paths and JSON clients get JSON errors; browsers get pages."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _http_code_name(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_")


def init_app(app: Flask) -> None:
    """Register handlers that turn domain and HTTP errors into JSON or pages."""

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        if wants_json():
            return exc.to_dict(), exc.status
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        messages = {
            400: _("The request could not be understood."),
            401: _("Please log in."),
            403: _("You do not have permission to do this."),
            404: _("Page not found."),
            405: _("This method is not allowed here."),
            410: _("This record has been withdrawn."),
            413: _("The upload is too large."),
            415: _("This kind of body is not accepted here."),
            429: _("Too many requests. Please wait a moment and try again."),
        }
        message = messages.get(exc.code, exc.description or exc.name)
        if wants_json():
            body = {"error": {"code": _http_code_name(exc), "message": message, "field": None}}
            response = app.json.response(body)
            response.status_code = exc.code or 500
            for key, value in exc.get_headers():
                if key.lower() != "content-type":
                    response.headers[key] = value
            return response
        response = app.make_response((render_template("error.html", status=exc.code, message=message), exc.code))
        for key, value in exc.get_headers():
            if key.lower() in ("retry-after", "www-authenticate", "allow"):
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # pragma: no cover - exercised only by bugs
        app.logger.exception("unhandled error")
        if app.config.get("PROPAGATE_EXCEPTIONS") or app.testing:
            raise exc
        message = _("Something went wrong on our side. The error has been logged.")
        if wants_json():
            return {"error": {"code": "internal", "message": message, "field": None}}, 500
        return render_template("error.html", status=500, message=message), 500

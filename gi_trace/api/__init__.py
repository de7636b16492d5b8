"""The JSON API under /api/v1: the shared blueprint, body parsing and the OpenAPI registry.

Each area adds its routes in `gi_trace/<area>/api.py` and describes them with `openapi_paths`.
"""
from __future__ import annotations

from typing import Any

import hashlib

from flask import Blueprint, current_app, request
from flask_limiter.util import get_remote_address

from gi_trace.access import PUBLIC, access
from gi_trace.errors import ValidationError
from gi_trace.extensions import client_key, limiter

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _api_rate_key() -> str:
    """Count per token when one is sent (a token is a client), else per network address."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + client_key()


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_api_rate_key)(api_bp)


def _auth_failure_key() -> str:
    from gi_trace.scan.network import network_of

    return "api-401:" + network_of(get_remote_address())


# Guessing tokens: each guess would be a new per-token budget, so refused tokens (401) also count per
# network (/24, /48); once a network has used its budget, its API calls wait (429) until the window ends.
limiter.limit(lambda: current_app.config.get("API_AUTH_FAILURE_LIMIT", "60 per minute"), key_func=_auth_failure_key,
              deduct_when=lambda response: response.status_code == 401)(api_bp)

# path -> {method -> operation}, filled by the areas' api modules
OPENAPI_PATHS: dict[str, dict[str, Any]] = {}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": ["string", "null"]},
                },
            }
        },
    }
}


def openapi_paths(paths: dict[str, dict[str, Any]], schemas: dict[str, Any] | None = None) -> None:
    """Register an area's operations in the OpenAPI document."""
    for path, ops in paths.items():
        OPENAPI_PATHS.setdefault(path, {}).update(ops)
    OPENAPI_SCHEMAS.update(schemas or {})


def json_body() -> dict:
    """The request's JSON object, or a 400-class error that says what is wrong."""
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("The body must be a JSON object (Content-Type: application/json).", field="body")
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", field="body")
    return data


_ERROR_RESPONSE = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
# Answers any operation can give, whatever its area documented: rate limits and oversized bodies.
_COMMON_RESPONSES = {"429": "Too many requests (per token, or per network for refused tokens); see Retry-After"}
_BODY_RESPONSES = {"413": "The request body is larger than the server accepts (MAX_CONTENT_LENGTH)"}


def _with_common_responses(paths: dict) -> dict:
    result = {}
    for path, ops in paths.items():
        result[path] = {}
        for method, op in ops.items():
            extra = dict(_COMMON_RESPONSES, **(_BODY_RESPONSES if "requestBody" in op else {}))
            responses = dict(op.get("responses", {}))
            for code, description in extra.items():
                responses.setdefault(code, {"description": description, **_ERROR_RESPONSE})
            result[path][method] = {**op, "responses": responses}
    return result


def openapi_document() -> dict:
    """The OpenAPI 3.1 description of the whole API."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "gi-trace API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": OPENAPI_SCHEMAS,
        },
        "paths": _with_common_responses(OPENAPI_PATHS),
    }


@api_bp.get("/openapi.json")
@access(PUBLIC)
def openapi_json():
    """The OpenAPI document."""
    return openapi_document()

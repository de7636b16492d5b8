"""The JSON API under /api/v1: the shared blueprint, its rate limits, request/response models, OpenAPI.

How to add an endpoint
----------------------
1. Models, in `gi_trace/<area>/schemas.py` (pydantic; base classes in `gi_trace/schemas.py`):
   a request body is a `Body` (`XCreate`: strict JSON types), query parameters a `Query`
   (`XQuery`: text converted), a response a `Public` (`XPublic`: fields without a default are
   always present, fields with a default only when the constructor names them). Document a field
   with `Field(description=...)`; give bounds with `Field(ge=..., le=...)`: they are enforced and
   published alike.
2. The route, in `gi_trace/<area>/api*.py` (any module of the area whose name starts with `api`
   is imported by `create_app`)::

       @api_bp.post("/things/<code>/parts")
       @access("producer")
       @operation(body=PartCreate, responses={201: PartPublic}, errors={404: "Unknown thing"},
                  path={"code": "The thing's code"})
       def add_part(code: str, body: Load[PartCreate]):
           \"\"\"Add a part to a thing (first line = the OpenAPI summary).\"\"\"
           thing = services.own_thing(get_session(), actor(), code)   # 404 first, whatever the body
           given = body()                            # validated here (422 naming the field)
           part = services.add_part(get_session(), thing, given.quantity_kg)
           return PartPublic.of(part)                # or (model, status) for another documented status

   The decorator validates the query before the view (`query=`) and the body when the view calls
   `body()` (a body never read is reported as a bug); a refusal is a 422
   `{"error": {"code", "message", "field"}}` with a translated message. It serialises the returned
   model, and the route appears in /api/v1/openapi.json with 401/403 (from `@access`),
   400/413/422 (a body), 422 (a query), 429 (all) and the `errors` you name. Views do not commit:
   the request commits once. A view may return a `flask.Response` itself (e.g. another media type).
3. Tests: `tests/functional/test_api_openapi.py` checks that every route is documented and that the
   document is valid OpenAPI; add a call of your route to its tour so its real response is
   validated against the documented schema; the fuzz test (`tests/security/test_security_api_fuzz.py`)
   picks the new operation up by itself.
"""
from __future__ import annotations

import copy
import hashlib

from flask import current_app, request
from flask_limiter.util import get_remote_address

from gi_trace.access import PUBLIC, access
from gi_trace.api.operations import ApiBlueprint, Load, json_body, operation
from gi_trace.extensions import client_key, limiter
from gi_trace.network import network_of

__all__ = ["Load", "api_bp", "json_body", "operation", "openapi_document"]

api_bp = ApiBlueprint("api", __name__, url_prefix="/api/v1")


def _api_rate_key() -> str:
    """Count per token when one is sent (a token is a client), else per network address."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + client_key()


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_api_rate_key)(api_bp)


def _auth_failure_key() -> str:
    return "api-401:" + network_of(get_remote_address())


# Guessing tokens: each guess would be a new per-token budget, so refused tokens (401) also count per
# network (/24, /48); once a network has used its budget, its API calls wait (429) until the window ends.
limiter.limit(lambda: current_app.config.get("API_AUTH_FAILURE_LIMIT", "60 per minute"), key_func=_auth_failure_key,
              deduct_when=lambda response: response.status_code == 401)(api_bp)


_generated: dict[int, dict] = {}


def _document() -> dict:
    """The document, generated once per route table (~70 ms): routes do not change once the app is built."""
    from gi_trace.api.openapi import openapi_document as generate

    key = len(api_bp.routes)
    if key not in _generated:
        _generated.clear()
        _generated[key] = generate(api_bp)
    return _generated[key]


def openapi_document() -> dict:
    """The OpenAPI 3.1 description of the whole API (import the areas' api modules first); yours to change."""
    return copy.deepcopy(_document())


@api_bp.get("/openapi.json")
@access(PUBLIC)
@operation(responses={200: None}, hidden=True)
def openapi_json():
    """The OpenAPI document."""
    return current_app.json.response(_document())

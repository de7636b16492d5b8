"""`GET /api/v1/me`: who a token belongs to (lets API clients check their token)."""
from __future__ import annotations

from gi_trace.access import ANY_USER, access, actor
from gi_trace.api import api_bp, openapi_paths


@api_bp.get("/me")
@access(*ANY_USER)
def me():
    """The token's user."""
    user = actor()
    return {"username": user.username, "role": user.role, "county_code": user.county_code,
            "producer_id": user.producer_id}


openapi_paths({
    "/me": {"get": {
        "summary": "The user the bearer token belongs to",
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "The user", "content": {"application/json": {"schema": {
                "type": "object", "required": ["username", "role"],
                "properties": {"username": {"type": "string"}, "role": {"type": "string"},
                               "county_code": {"type": ["string", "null"]},
                               "producer_id": {"type": ["integer", "null"]}}}}}},
            "401": {"description": "No valid token",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }},
})

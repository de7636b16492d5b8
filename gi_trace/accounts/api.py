"""`GET /api/v1/me`: who a token belongs to (lets API clients check their token)."""
from __future__ import annotations

from gi_trace.access import ANY_USER, access, actor
from gi_trace.accounts.schemas import UserPublic
from gi_trace.api import api_bp, operation


@api_bp.get("/me")
@access(*ANY_USER)
@operation(responses={200: UserPublic})
def me():
    """The user the bearer token belongs to."""
    return UserPublic.of(actor())

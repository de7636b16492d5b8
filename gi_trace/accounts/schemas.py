"""What the API says about accounts."""
from __future__ import annotations

from typing import Optional

from gi_trace.accounts.models import User
from gi_trace.schemas import Public


class UserPublic(Public):
    """The user a bearer token belongs to."""

    username: str
    role: str
    county_code: Optional[str]
    producer_id: Optional[int]

    @classmethod
    def of(cls, user: User) -> "UserPublic":
        return cls(username=user.username, role=user.role, county_code=user.county_code,
                   producer_id=user.producer_id)

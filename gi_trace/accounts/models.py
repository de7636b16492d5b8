"""User accounts and API tokens."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from gi_trace.types import UTCDateTime, utcnow

ROLES = ("admin", "regulator", "producer")


class User(SQLModel, table=True):
    """A person who logs in: admin, regulator (city-wide or one county) or producer (bound to one)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    display_name: str = Field(default="", max_length=100)
    # A regulator with a county code sees and decides only in that county.
    county_code: Optional[str] = Field(default=None, foreign_key="region.code", max_length=12)
    producer_id: Optional[int] = Field(default=None, foreign_key="producer.id", index=True)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    # Copied into the login session; raising it ends every session of the user (logout, log out everywhere).
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    # After this moment the token is refused (API_TOKEN_LIFETIME_DAYS after it was issued).
    expires_at: datetime = Field(sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… user={self.user_id}>"

"""Accounts: creating users, checking passwords, issuing and resolving API tokens."""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from gi_trace.accounts.models import ROLES, ApiToken, User
from gi_trace.errors import Conflict, NotFound, ValidationError
from gi_trace.types import utcnow

MIN_PASSWORD_LENGTH = 8
# A fixed hash to compare against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def create_user(session: Session, username: str, password: str, role: str, *, display_name: str = "",
                county_code: Optional[str] = None, producer_id: Optional[int] = None) -> User:
    """Add a user after checking the role's binding rules."""
    username = (username or "").strip()
    if not username:
        raise ValidationError("A username is required.", field="username")
    if role not in ROLES:
        raise ValidationError(f"Role must be one of {', '.join(ROLES)}.", field="role")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if role == "producer" and producer_id is None:
        raise ValidationError("A producer account must be bound to a producer.", field="producer_id")
    if role != "producer" and producer_id is not None:
        raise ValidationError("Only producer accounts are bound to a producer.", field="producer_id")
    if role != "regulator" and county_code:
        raise ValidationError("Only regulator accounts are limited to a county.", field="county_code")
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"The username {username!r} is taken.", field="username")
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                display_name=display_name or username, county_code=county_code or None, producer_id=producer_id)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> Optional[User]:
    """The active user with this username and password, else None."""
    user = session.exec(select(User).where(User.username == (username or "").strip())).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not user.is_active or not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    return user


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Issue a token; the raw value is returned once and never stored."""
    raw = "gt_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash_token(raw), prefix=raw[:10])
    session.add(token)
    session.flush()
    return token, raw


def user_for_token(session: Session, raw: str) -> Optional[User]:
    """The active user a bearer token belongs to, else None."""
    if not raw or not raw.startswith("gt_") or len(raw) > 100:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(raw))).first()
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    return user


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def get_user_by_username(session: Session, username: str) -> User:
    """The user with this username, or NotFound."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"No user {username!r}.", field="username")
    return user

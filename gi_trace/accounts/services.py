"""Accounts: creating users, checking passwords, issuing and resolving API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
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
    """The active user with this username and password, else None.

    Exactly one password hash is checked whatever the outcome (unknown user, inactive user, wrong
    password), so the time a login takes does not tell whether an account exists or is active.
    """
    user = session.exec(select(User).where(User.username == (username or "").strip())).first()
    matches = check_password_hash(user.password_hash if user is not None else _DUMMY_HASH, password or "")
    if user is None or not matches or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def end_sessions(user: User) -> int:
    """End every login session of the user (the session version they carry no longer matches)."""
    user.session_version = (user.session_version or 0) + 1
    return user.session_version


def session_is_current(user: Optional[User], version) -> bool:
    """True when a login session carrying `version` still belongs to the active user."""
    return user is not None and user.is_active and version == (user.session_version or 0)


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


DEFAULT_TOKEN_LIFETIME_DAYS = 90


def create_token(session: Session, user: User, name: str = "", *,
                 lifetime_days: int = DEFAULT_TOKEN_LIFETIME_DAYS) -> tuple[ApiToken, str]:
    """Issue a token valid for `lifetime_days`; the raw value is returned once and never stored."""
    if lifetime_days < 1:
        raise ValidationError("A token lives at least one day.", field="lifetime_days")
    raw = "gt_" + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash_token(raw), prefix=raw[:10],
                     created_at=now, expires_at=now + timedelta(days=lifetime_days))
    session.add(token)
    session.flush()
    return token, raw


def user_for_token(session: Session, raw: str) -> Optional[User]:
    """The active user a bearer token belongs to, else None."""
    if not raw or not raw.startswith("gt_") or len(raw) > 100:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(raw))).first()
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    return user


def revoke_token(session: Session, user: Optional[User], token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (any user's when `user` is None: the admin CLI)."""
    token = session.get(ApiToken, token_id)
    if token is None or (user is not None and token.user_id != user.id):
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def list_tokens(session: Session, user: Optional[User] = None) -> list[tuple[ApiToken, User]]:
    """Tokens with their users, newest first (one user's when given)."""
    query = select(ApiToken, User).where(ApiToken.user_id == User.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.exec(query.order_by(ApiToken.id.desc())).all())


def token_state(token: ApiToken) -> str:
    """'revoked', 'expired' or 'active'."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= utcnow() else "active"


def get_user_by_username(session: Session, username: str) -> User:
    """The user with this username, or NotFound."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"No user {username!r}.", field="username")
    return user

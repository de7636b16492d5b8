"""Login, logout and the user's API tokens."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gi_trace.access import ANY_USER, PUBLIC, access, actor
from gi_trace.accounts import services
from gi_trace.accounts.models import ApiToken, User
from gi_trace.db import get_session
from gi_trace.extensions import limiter, login_manager
from gi_trace.types import utcnow

bp = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[Length(max=100)])


# The login session carries the user's session version; logout raises the version on the user,
# so a copy of the cookie taken before logout is refused on its next request.
_SESSION_VERSION_KEY = "_sv"


@login_manager.user_loader
def _load_user(user_id: str):
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if services.session_is_current(user, cookie_session.get(_SESSION_VERSION_KEY)) else None


def _start_session(user: User) -> None:
    login_user(user)
    cookie_session[_SESSION_VERSION_KEY] = user.session_version or 0


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@access(PUBLIC)
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Log in with username and password."""
    form = LoginForm()
    if form.validate_on_submit():
        session = get_session()
        user = services.authenticate(session, form.username.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Wrong username or password."))
        else:
            _start_session(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("web.index"))
    return render_template("accounts/login.html", form=form), (200 if not form.errors else 400)


@bp.post("/logout")
@access(*ANY_USER)
def logout():
    """Log out: the session ends on the server too, so no copy of its cookie works afterwards."""
    services.end_sessions(actor())
    logout_user()
    cookie_session.pop(_SESSION_VERSION_KEY, None)
    return redirect(url_for("web.index"))


@bp.post("/account/logout-everywhere")
@access(*ANY_USER)
def logout_everywhere():
    """End every other login session of the user (other browsers, copied cookies); this one continues."""
    user = actor()
    services.end_sessions(user)
    cookie_session[_SESSION_VERSION_KEY] = user.session_version
    flash(_("Every other session has been logged out."), "success")
    return redirect(url_for("accounts.tokens"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@access(*ANY_USER)
def tokens():
    """List the user's API tokens and create a new one (its value is shown once)."""
    session = get_session()
    user = actor()
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _token, new_token = services.create_token(session, user, form.name.data or "",
                                                  lifetime_days=current_app.config["API_TOKEN_LIFETIME_DAYS"])
    rows = session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).all()
    return render_template("accounts/tokens.html", form=form, tokens=rows, new_token=new_token, now=utcnow())


@bp.post("/account/tokens/<int:token_id>/revoke")
@access(*ANY_USER)
def revoke_token(token_id: int):
    """Revoke one of the user's tokens."""
    session = get_session()
    services.revoke_token(session, actor(), token_id)
    flash(_("Token revoked."), "success")
    return redirect(url_for("accounts.tokens"))

"""Login, logout and the user's API tokens."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
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

bp = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[Length(max=100)])


@login_manager.user_loader
def _load_user(user_id: str):
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.is_active else None


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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("web.index"))
    return render_template("accounts/login.html", form=form), (200 if not form.errors else 400)


@bp.post("/logout")
@access(*ANY_USER)
def logout():
    """Log out."""
    logout_user()
    return redirect(url_for("web.index"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@access(*ANY_USER)
def tokens():
    """List the user's API tokens and create a new one (its value is shown once)."""
    session = get_session()
    user = actor()
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _token, new_token = services.create_token(session, user, form.name.data or "")
    rows = session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).all()
    return render_template("accounts/tokens.html", form=form, tokens=rows, new_token=new_token)


@bp.post("/account/tokens/<int:token_id>/revoke")
@access(*ANY_USER)
def revoke_token(token_id: int):
    """Revoke one of the user's tokens."""
    session = get_session()
    services.revoke_token(session, actor(), token_id)
    flash(_("Token revoked."), "success")
    return redirect(url_for("accounts.tokens"))

"""Who may call what: every view declares its rule; anything undeclared is denied.

    @access(PUBLIC)                    anyone
    @access("producer")               logged-in producers
    @access("regulator", "admin")     regulators and admins

Pages authenticate with the login session; `/api/` authenticates with bearer tokens only, so a
browser's cookie can never drive the API without CSRF protection. The current user is `g.actor`
(an accounts User). This module is plumbing below every area: the app factory gives it the accounts
area's token lookup (`init_app(app, user_for_token)`), so it imports no area.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_login import current_user

from gi_trace.db import get_session

User = Any  # gi_trace.accounts.models.User: what the login session and the token lookup give

PUBLIC = "public"
ANY_USER = ("admin", "regulator", "producer")


def access(*rule: str) -> Callable:
    """Declare who may call a view: PUBLIC, or one or more roles."""
    if not rule:
        raise ValueError("access() needs PUBLIC or at least one role")
    value = PUBLIC if rule == (PUBLIC,) else frozenset(rule)

    def decorate(view: Callable) -> Callable:
        view.access_rule = value
        return view

    return decorate


def access_rule_of(view: Optional[Callable]):
    """The declared rule of a view function, or None when it declares none."""
    return getattr(view, "access_rule", None)


def actor() -> Optional[User]:
    """The authenticated user of this request, if any."""
    return g.get("actor")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _bearer_user() -> Optional[User]:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return current_app.extensions["access_user_for_token"](get_session(), header[7:].strip())


def enforce() -> None:
    """before_request: authenticate, then check the endpoint's declared rule."""
    g.actor = None
    if request.endpoint is None:  # 404s and 405s are answered by the router, on a page that still shows
        if not is_api_request() and current_user.is_authenticated:  # who is logged in (not "log in")
            g.actor = current_user._get_current_object()
        return None
    view = current_app.view_functions.get(request.endpoint)
    rule = access_rule_of(view)
    if is_api_request():
        g.actor = _bearer_user()
    elif current_user.is_authenticated:
        g.actor = current_user._get_current_object()
    if rule == PUBLIC:
        return None
    if rule is None:
        abort(403)  # deny by default: a route without a rule is a bug, not an open door
    if g.actor is None:
        if is_api_request():
            abort(401)
        return redirect(url_for("accounts.login", next=request.full_path if request.query_string else request.path))
    if g.actor.role not in rule:
        abort(403)
    return None


def init_app(app: Flask, user_for_token: Callable[[Any, str], Optional[User]]) -> None:
    """Check every request; `user_for_token(session, token)` authenticates the API's bearer tokens."""
    app.extensions["access_user_for_token"] = user_for_token
    app.before_request(enforce)
    # Flask's own static route is public.
    app.view_functions["static"] = access(PUBLIC)(app.view_functions["static"])


def role_in(*roles: str) -> bool:
    """True when the current actor has one of the roles."""
    user = actor()
    return user is not None and user.role in roles

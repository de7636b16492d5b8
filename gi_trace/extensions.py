"""Flask extensions, created unbound and initialised in the factory."""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from gi_trace.network import client_of, network_of


def client_key() -> str:
    """Who a rate limit counts: the IPv4 address, or the IPv6 /48 (one subscriber's whole network, which
    a client can otherwise rotate through to get a fresh budget for every request); see gi_trace.network."""
    return client_of(get_remote_address())


def network_key() -> str:
    """Per-network limits (scan page, Digital Link resolver): the client's /24 or /48."""
    return "net:" + network_of(get_remote_address())


def is_loopback() -> bool:
    """This machine (the benchmark, a probe, or a local proxy that does not pass on the client's address)."""
    address = get_remote_address() or ""
    return address.startswith("127.") or address == "::1"


def user_key() -> str:
    """Per-user limits (label sheets, exports): the logged-in user, else the client's address."""
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        return "user:" + current_user.get_id()
    return "client:" + client_key()


def export_limit() -> str:
    """EXPORT_RATE_LIMIT: the regulators' long exports (annual report, recall lists), per user."""
    from flask import current_app

    return current_app.config["EXPORT_RATE_LIMIT"]


csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Rate-limit state lives in RATELIMIT_STORAGE_URI (memory:// for one process, redis:// for many).
limiter = Limiter(key_func=client_key, default_limits=[])

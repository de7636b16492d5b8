"""Flask extensions, created unbound and initialised in the factory."""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from gi_trace.network import client_of


def client_key() -> str:
    """Who a rate limit counts: the IPv4 address, or the IPv6 /48 (one subscriber's whole network, which
    a client can otherwise rotate through to get a fresh budget for every request); see gi_trace.network."""
    return client_of(get_remote_address())


csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Rate-limit state lives in RATELIMIT_STORAGE_URI (memory:// for one process, redis:// for many).
limiter = Limiter(key_func=client_key, default_limits=[])

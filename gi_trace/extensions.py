"""Flask extensions, created unbound and initialised in the factory."""
from __future__ import annotations

import ipaddress

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect


def client_key() -> str:
    """Who a rate limit counts: the IPv4 address, or the IPv6 /64 (one subscriber's whole network, which
    a client can otherwise rotate through to get a fresh budget for every request)."""
    address = get_remote_address() or ""
    if ":" in address:
        try:
            ip = ipaddress.IPv6Address(address.split("%", 1)[0])
        except ValueError:
            return address
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return address


csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Rate-limit state lives in RATELIMIT_STORAGE_URI (memory:// for one process, redis:// for many).
limiter = Limiter(key_func=client_key, default_limits=[])

"""Flask extensions, created unbound and initialised in the factory."""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Rate-limit state lives in RATELIMIT_STORAGE_URI (memory:// for one process, redis:// for many).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

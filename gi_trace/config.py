"""Configuration: defaults, then the environment, then the test mapping (flaskr's order)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else generated once into instance/ and reused."""
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two workers starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# Whole-number limits that the environment may set (see the README's security section); when unset,
# the code's defaults apply (gi_trace.scan.services.DEFAULT_THRESHOLDS, gi_trace.registry.imports.FileLimits).
INTEGER_SETTINGS = (
    "SCAN_UNIT_FLAG_NETWORKS", "SCAN_UNIT_FLAG_DAYS", "SCAN_BATCH_FLAG_NETWORKS", "SCAN_BATCH_FLAG_DAYS",
    "IMPORT_FILE_BYTES", "IMPORT_XLSX_UNCOMPRESSED_BYTES", "IMPORT_XLSX_MEMBERS", "IMPORT_XLSX_RATIO",
    "IMPORT_XLSX_SHARED_STRINGS", "IMPORT_ROWS", "IMPORT_COLUMNS", "IMPORT_FIELD_CHARS", "IMPORT_MAX_BYTES",
    "EPCIS_CAPTURE_MAX_BYTES",
)


def load_config(instance_path: Path) -> dict:
    """Build the configuration mapping from defaults and the environment."""
    default_db = f"sqlite:///{instance_path / 'gi_trace.sqlite3'}"
    integers = {name: int(os.environ[name]) for name in INTEGER_SETTINGS if os.environ.get(name)}
    return {
        **integers,
        "SECRET_KEY": _secret_key(instance_path),
        "DATABASE_URL": normalise_database_url(os.environ.get("DATABASE_URL", default_db)),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Salt for hashing scanners' network addresses; never store a raw IP.
        "SCAN_SALT": os.environ.get("SCAN_SALT") or _secret_key(instance_path) + ":scan",
        # Proxies in front of the app (load balancer, nginx) that append X-Forwarded-For: with 0 the
        # header is ignored (it could be forged); set it so limits and scan counts see the client's address.
        "PROXY_HOPS": int(os.environ.get("PROXY_HOPS", "0")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") != "0",
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Per token (or per network for anonymous API calls).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        # Refused bearer tokens (401) per network (/24, /48): guessing tokens is slow.
        "API_AUTH_FAILURE_LIMIT": os.environ.get("API_AUTH_FAILURE_LIMIT", "60 per minute"),
        # The public scan page per network: a market hall of shoppers behind one NAT stays well below it.
        "SCAN_PAGE_RATE_LIMIT": os.environ.get("SCAN_PAGE_RATE_LIMIT", "600 per minute"),
        "SCAN_REPORT_RATE_LIMIT": os.environ.get("SCAN_REPORT_RATE_LIMIT", "5 per 10 minutes;20 per day"),
        # The GS1 Digital Link resolver /01/... per network (same network definition as the scan page).
        "DIGITAL_LINK_RATE_LIMIT": os.environ.get("DIGITAL_LINK_RATE_LIMIT", "600 per minute"),
        # Per user: label sheets (print view, ZIP, PDF: at most 500 labels each) and the regulators' exports.
        "LABELS_RATE_LIMIT": os.environ.get("LABELS_RATE_LIMIT", "20 per minute;200 per day"),
        "EXPORT_RATE_LIMIT": os.environ.get("EXPORT_RATE_LIMIT", "10 per minute;100 per day"),
        # API tokens are refused this many days after they were issued.
        "API_TOKEN_LIFETIME_DAYS": int(os.environ.get("API_TOKEN_LIFETIME_DAYS", "90")),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 20 * 1024 * 1024)),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LOCAL_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ("zh", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SQL_ECHO": os.environ.get("SQL_ECHO", "0") == "1",
        # Logs: json (one object per line) or console; unset: console in debug or on a terminal, else json.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", ""),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # /metrics answers loopback, and anyone sending `Authorization: Bearer <METRICS_TOKEN>` (unset: nobody).
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Background jobs (gi_trace.jobs.queue): where huey keeps its messages. The default needs no
        # server; redis://host:6379/0 lets workers run on other machines.
        "JOBS_URL": os.environ.get("JOBS_URL", f"sqlite:///{instance_path / 'jobs.sqlite3'}"),
        # How long a worker holds outbox rows before another may take them (it renews while working).
        "JOBS_LEASE_SECONDS": float(os.environ.get("JOBS_LEASE_SECONDS", "60")),
        # How often a worker looks for outbox rows that no wake-up reached.
        "JOBS_SWEEP_SECONDS": float(os.environ.get("JOBS_SWEEP_SECONDS", "5")),
    }

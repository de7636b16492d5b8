#!/usr/bin/env bash
# Run gi-trace locally: virtualenv, install, migrate, demo data on first start, serve on 127.0.0.1:5000.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" ""
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"
.venv/bin/flask --app gi_trace db upgrade
# Loads the demo dataset only when the database has no producers yet; prints the demo logins.
.venv/bin/flask --app gi_trace demo-data --if-empty
# Stored trace pages missing or out of date after an upgrade (none on a fresh database: events store them).
.venv/bin/flask --app gi_trace pages rebuild --stale
echo
echo "gi-trace is running at http://$HOST:$PORT/   (Ctrl-C stops it)"
echo
exec .venv/bin/gunicorn --workers "${WORKERS:-2}" --bind "$HOST:$PORT" --access-logfile - "gi_trace:create_app()"

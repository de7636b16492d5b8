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
# Prometheus multiprocess mode: every worker writes its metrics here and /metrics adds them up. The
# directory must be empty at each start (old files would be added to the new counts).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${GI_TRACE_INSTANCE:-$PWD/instance}/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
echo
echo "gi-trace is running at http://$HOST:$PORT/   (Ctrl-C stops it; metrics: http://$HOST:$PORT/metrics)"
echo
# No --access-logfile: the app logs each request itself (request id, user id, endpoint, status, duration),
# without the client's address or the path (gunicorn's access log has both).
exec .venv/bin/gunicorn --workers "${WORKERS:-2}" --bind "$HOST:$PORT" "gi_trace:create_app()"

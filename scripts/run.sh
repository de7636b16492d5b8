#!/usr/bin/env bash
# Run gi-trace locally: virtualenv, install, migrate, demo data on first start, serve on 127.0.0.1:5000.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" ""
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
# The annual report's PDF (WeasyPrint) lays text out with pango and embeds a CJK font from the system:
# Debian's libpango-1.0-0, libpangoft2-1.0-0 and fonts-noto-cjk.
missing=()
for pkg in libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk; do
  command -v dpkg >/dev/null 2>&1 && ! dpkg -s "$pkg" >/dev/null 2>&1 && missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]}: the annual report's PDF cannot be made (apt-get install ${missing[*]})" >&2
  fi
fi
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"
.venv/bin/flask --app gi_trace db upgrade
# Loads the demo dataset only when the database has no producers yet; prints the demo logins.
.venv/bin/flask --app gi_trace demo-data --if-empty
# Stored trace pages missing or out of date after an upgrade (the jobs worker keeps them current after writes).
.venv/bin/flask --app gi_trace pages rebuild --stale
# Prometheus multiprocess mode: every worker writes its metrics here and /metrics adds them up. The
# directory must be empty at each start (old files would be added to the new counts).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${GI_TRACE_INSTANCE:-$PWD/instance}/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
# The background jobs workers (stored-page refreshes, long jobs) beside the web server: JOB_PROCESSES
# processes (default 2, one per core of a small machine: a big stored-page rebuild is split into parts
# that every process builds at once) of JOB_WORKERS threads each. All run in the background so that
# this script, stopped by Ctrl-C or SIGTERM, stops them all (by their PIDs).
WORKER_PIDS=()
for _ in $(seq "${JOB_PROCESSES:-2}"); do
  .venv/bin/flask --app gi_trace jobs worker --workers "${JOB_WORKERS:-2}" &
  WORKER_PIDS+=($!)
done
# No --access-logfile: the app logs each request itself (request id, user id, endpoint, status, duration),
# without the client's address or the path (gunicorn's access log has both).
.venv/bin/gunicorn --workers "${WORKERS:-2}" --bind "$HOST:$PORT" "gi_trace:create_app()" &
WEB_PID=$!
stop_all() {
  kill -TERM "$WEB_PID" "${WORKER_PIDS[@]}" 2>/dev/null || true
  wait "$WEB_PID" "${WORKER_PIDS[@]}" 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo
echo "gi-trace is running at http://$HOST:$PORT/   (Ctrl-C stops it; metrics: http://$HOST:$PORT/metrics;"
echo "  web pid $WEB_PID, jobs worker pids ${WORKER_PIDS[*]})"
echo
wait "$WEB_PID"

#!/usr/bin/env bash
# Before the first release only: rewrite the single initial migration from the models.
# (After release, add migrations with `flask --app gi_trace db revision -m "..."` instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f gi_trace/migrations/versions/*_initial_schema.py
DATABASE_URL="sqlite:///$tmp/empty.sqlite3" GI_TRACE_INSTANCE="$tmp/instance" \
  .venv/bin/flask --app gi_trace db revision -m "initial schema"
rm -rf "$tmp"

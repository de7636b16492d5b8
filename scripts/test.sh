#!/usr/bin/env bash
# Run the whole test suite: virtualenv with test extras, Debian's chromium for the browser tests, pytest.
# Uses SQLite unless DATABASE_URL names a PostgreSQL database. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" "[test]"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the end-to-end tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "chromium is missing and cannot be installed here (need root and apt-get): end-to-end tests will fail" >&2
  fi
fi
echo "database: ${DATABASE_URL:-SQLite (temporary file)}"
exec .venv/bin/python -m pytest "$@"

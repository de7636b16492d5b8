#!/usr/bin/env bash
# Run the whole test suite: virtualenv with test extras, Debian's chromium for the browser tests, pytest.
# Uses SQLite unless DATABASE_URL names a PostgreSQL database. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" "[test]"
# Debian packages the tests use: the browser, CJK fonts for screenshots and PDFs, poppler-utils
# (pdftotext, pdftoppm, pdffonts) to read the annual report's PDF back, pango for WeasyPrint.
missing=()
for pkg in chromium fonts-noto-cjk poppler-utils libpango-1.0-0 libpangoft2-1.0-0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages for the end-to-end tests: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]} and cannot install (need root and apt-get): end-to-end tests will fail" >&2
  fi
fi
echo "database: ${DATABASE_URL:-SQLite (temporary file)}"
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Installs what the test suite needs from Debian when missing: headless Chromium and its driver
# (browser tests) and the sqlite3 shell (the audit tamper test edits a row with it).
# Needs root (CI and the dev machines run as root); elsewhere, install the two packages yourself.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
   && command -v sqlite3 >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "browser tests need chromium and chromium-driver: apt-get install chromium chromium-driver" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium chromium-driver sqlite3 >/dev/null

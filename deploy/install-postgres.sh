#!/usr/bin/env bash
# Installs the PostgreSQL server from Debian's packages when missing: the test setup starts a
# throwaway cluster with its initdb and pg_ctl (connector/devkit/pgcluster.py) for the PostgreSQL
# run of `make test`. Needs root (CI and the dev machines run as root); elsewhere, install the
# package yourself (apt-get install postgresql) or point TEST_POSTGRES_URL at a server.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "the PostgreSQL tests need the server binaries: apt-get install postgresql" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# The package's own cluster is not wanted: the tests make theirs in a temporary directory.
apt-get install -y -qq --no-install-recommends postgresql >/dev/null

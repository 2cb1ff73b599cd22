#!/bin/sh
# The container's one entrypoint: `web`, `worker`, `backup-loop`, `migrate`, or any deskguard
# command. The image, its compose file and this script are documented in docs/deploy.md.
set -eu

case "${1:-web}" in
  web)
    shift || true
    exec deskguard serve --host 0.0.0.0 --port "${PORT:-8000}" "$@"
    ;;
  worker)
    shift
    # The one scheduler: run exactly one `worker` container per ledger.
    deskguard migrate
    exec deskguard worker "$@"
    ;;
  backup-loop)
    shift
    # One verified backup now and then every BACKUP_INTERVAL_SECONDS (default 6 h).
    interval="${BACKUP_INTERVAL_SECONDS:-21600}"
    while :; do
      deskguard backup "$@"
      sleep "$interval" &
      wait $!
    done
    ;;
  *)
    exec deskguard "$@"
    ;;
esac

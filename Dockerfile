# Deskguard sidecar image: `web` (gunicorn), `worker` (queue + the one scheduler) or `backup-loop`,
# all from one image sharing one ledger volume at /data. See docs/deploy.md and compose.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DESKGUARD_DB_PATH=/data/deskguard.db \
    DESKGUARD_BACKUP_DIR=/data/backups \
    DESKGUARD_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md LICENSE NOTICE.md constraints.txt ./
COPY connector ./connector
COPY adapters ./adapters
COPY migrations ./migrations
COPY deploy/docker/entrypoint.sh /usr/local/bin/deskguard-entrypoint
# pg_dump / pg_restore for `deskguard backup` on a PostgreSQL ledger (compose.postgres.yaml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
# The runtime dependencies only (no dev extras), pinned by the same constraints file `make` uses.
RUN pip install --constraint constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin deskguard \
    && mkdir -p /data \
    && chown deskguard:deskguard /data

USER deskguard
VOLUME ["/data"]
EXPOSE 8000
# Ready = the ledger opens, is writable and migrated (see /readyz in docs/operations.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["deskguard-entrypoint"]
CMD ["web"]

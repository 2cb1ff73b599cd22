"""A throwaway PostgreSQL cluster for tests and benchmarks (dev kit; the product never imports it).

It uses the server binaries from Debian's ``postgresql`` package (``initdb``, ``pg_ctl``; found on
PATH or under ``/usr/lib/postgresql/<version>/bin``). The cluster lives in a new temporary
directory, listens only on a Unix socket in that directory (no TCP port to collide with), trusts
local connections, and is stopped and removed by ``stop``. PostgreSQL refuses to run as root, so
under root the server runs as the ``postgres`` user the package creates.

    python -m connector.devkit.pgcluster start   # prints the URL and the directory
    python -m connector.devkit.pgcluster stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

DATABASE = "deskguard"
USER = "deskguard"


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries here: install Debian's ``postgresql`` package."""


def find_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise ClusterUnavailable(
        f"{name} not found: install the PostgreSQL server (apt-get install postgresql)"
    )


def _as_server_user() -> list[str]:
    """The prefix that runs a server command as a non-root user when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterUnavailable("running as root and there is no 'postgres' user") from exc
    return ["runuser", "-u", "postgres", "--"]


def _chown_to_server(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Cluster:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str = DATABASE, *, schema: str | None = None) -> str:
        url = f"postgresql://{USER}@/{database}?host={quote(str(self.socket_dir), safe='')}"
        if schema:
            url += "&options=" + quote(f"-csearch_path={schema}", safe="")
        return url

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*_as_server_user(), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr or done.stdout}")

    def start(self, *, max_connections: int = 300, durable: bool = False) -> Cluster:
        """Start the server. ``durable=False`` (tests) turns fsync off; benchmarks use
        ``durable=True``, PostgreSQL's defaults, so commits really reach the disk."""
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        _chown_to_server(self.root)
        self._run(
            initdb,
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
            "--locale=C.UTF-8",
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}'"
            f" -c max_connections={max_connections}"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        # -w: pg_ctl returns once the server accepts connections (it polls for readiness).
        self._run(
            pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-t",
            "120",
            "-l",
            str(self.root / "server.log"),
            "start",
        )
        self._run(find_bin("createdb"), "-h", str(self.socket_dir), "-U", USER, DATABASE)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def new_schema(base_url: str, prefix: str = "s") -> tuple[str, str]:
    """A fresh empty schema in ``base_url``'s database: (the URL whose connections use it, its
    name)."""
    import uuid

    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


def start_cluster(*, durable: bool = False) -> Cluster:
    root = Path(tempfile.mkdtemp(prefix="deskguard-pg-"))
    cluster = Cluster(root)
    try:
        return cluster.start(durable=durable)
    except BaseException:
        cluster.stop()
        raise


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        cluster = start_cluster()
        print(cluster.url())
        print(cluster.root)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        Cluster(Path(argv[1])).stop()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

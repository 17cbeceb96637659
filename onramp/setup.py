"""One-shot setup of a deployment: create the topics, then apply every service's migrations.

``python -m onramp.setup`` is what the Kubernetes Job and the compose ``setup`` service run before
the services start; running it again changes nothing. It reads the same ``ONRAMP_*`` settings as
the services (TLS and SASL/SCRAM included) plus two of its own:

- ``ONRAMP_TOPIC_REPLICATION_FACTOR`` (default 1; 3 on a real cluster),
- ``ONRAMP_TOPIC_MIN_INSYNC_REPLICAS`` (default: the broker's; 2 with a replication factor of 3,
  so that ``acks=all`` means two copies).

Topics that exist already are left as they are, even with fewer partitions (adding partitions
moves keys between them, which breaks per-aggregate order: do it deliberately). Migrations run as
``python -m services.<name> migrate`` side by side, each under its schema's advisory lock, so
two setups at once are safe too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import Field

from shared.events.topics import ALL_TOPICS, dlt
from shared.kafka import client_options
from shared.logs import configure_logging, get_logger
from shared.settings import Settings

log = get_logger("onramp.setup")

SERVICES = ("feedback", "rollout", "notify")
TOPICS: tuple[str, ...] = (*ALL_TOPICS, *(dlt(topic) for topic in ALL_TOPICS))
_POLL_S = 0.5


class SetupError(RuntimeError):
    pass


class SetupSettings(Settings):
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int | None = Field(default=None, ge=1)


async def wait_for_kafka(settings: Settings, timeout: float) -> None:
    """Until an admin client connects with the configured options; SetupError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=5000)
        try:
            await admin.start()
            return
        except (KafkaError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise SetupError(f"Kafka not reachable within {timeout:g} s: {exc!r}") from exc
            log.info("setup.waiting_for_kafka", error=type(exc).__name__)
        finally:
            await admin.close()
        await asyncio.sleep(_POLL_S)


async def ensure_topics(
    settings: Settings,
    names: Sequence[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the topics that do not exist; returns the names created now."""
    configs = (
        {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
    )
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15_000)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(name, partitions, replication_factor, topic_configs=configs)
                for name in names
            ]
        )
        created: list[str] = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise SetupError(f"creating topic {name} failed with Kafka error code {code}")
        await _wait_for_leaders(admin, names, timeout=30.0)
        return sorted(created)
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: Sequence[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics(list(names))
        if len(described) == len(names) and all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        if time.monotonic() >= deadline:
            raise SetupError(f"topics have no leader after {timeout:g} s")
        await asyncio.sleep(_POLL_S)


async def run(
    settings: SetupSettings,
    *,
    topics: bool = True,
    migrations: bool = True,
    partitions: int | None = None,
    wait_s: float = 120.0,
) -> None:
    if topics:
        await wait_for_kafka(settings, wait_s)
        created = await ensure_topics(
            settings,
            TOPICS,
            partitions=partitions or settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            min_insync_replicas=settings.topic_min_insync_replicas,
        )
        log.info("setup.topics", created=created, existing=sorted(set(TOPICS) - set(created)))
    if migrations:
        if not settings.database_url:
            raise SetupError("ONRAMP_DATABASE_URL is not set")
        # Each service's own `migrate` command knows its migrations folder; each runs under its
        # schema's advisory lock, so they may run side by side.
        await asyncio.gather(*(_migrate(service, wait_s) for service in SERVICES))


async def _migrate(service: str, timeout: float) -> None:
    argv = [sys.executable, "-m", f"services.{service}", "migrate"]
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if code != 0:
        raise SetupError(f"`{' '.join(argv[1:])}` exited with code {code}")
    log.info("setup.migrated", service=service)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m onramp.setup", description="Create the topics and apply the migrations."
    )
    parser.add_argument("--no-topics", action="store_true", help="do not create topics")
    parser.add_argument("--no-migrations", action="store_true", help="do not migrate")
    parser.add_argument("--partitions", type=int, help="default: ONRAMP_TOPIC_PARTITIONS (6)")
    parser.add_argument(
        "--wait", type=float, default=120.0, help="seconds to wait for Kafka and each migration"
    )
    args = parser.parse_args(argv)
    settings = SetupSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        asyncio.run(
            run(
                settings,
                topics=not args.no_topics,
                migrations=not args.no_migrations,
                partitions=args.partitions,
                wait_s=args.wait,
            )
        )
    except Exception as exc:  # Kafka or PostgreSQL unreachable, a migration failed, ...
        log.error("setup.failed", error=str(exc) or repr(exc))
        return 1
    log.info("setup.done")
    return 0


if __name__ == "__main__":
    sys.exit(main())

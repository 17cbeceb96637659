"""A stand-alone outbox relay, run as a child process so a test can kill it with SIGKILL."""

from __future__ import annotations

import asyncio
import sys

from shared import db
from shared.kafka import Publisher
from shared.outbox import OutboxRelay
from shared.settings import Settings


async def main(schema: str, batch_size: int) -> None:
    settings = Settings()
    assert settings.database_url
    pool = await db.create_pool(settings.database_url, schema)
    publisher = Publisher(settings, client_id="test-relay-process")
    relay = OutboxRelay(
        pool,
        publisher,
        url=settings.database_url,
        schema=schema,
        batch_size=batch_size,
        poll_interval_s=0.1,
    )
    await relay.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))

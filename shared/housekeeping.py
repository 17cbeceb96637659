"""Deletes plumbing rows nobody needs any more, in every service schema, from worker processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared import db
from shared.logs import get_logger

log = get_logger("onramp.housekeeping")

# Inbox marks must outlive any redelivery: keep them well past the topics' retention (7 days).
RETENTION: dict[str, tuple[str, timedelta]] = {
    "inbox": ("processed_at", timedelta(days=30)),
    "idempotency_keys": ("created_at", timedelta(hours=24)),
    "rate_limits": ("window_start", timedelta(days=1)),
}


async def purge(pool: db.Pool) -> dict[str, int]:
    """One pass; returns rows deleted per table."""
    deleted: dict[str, int] = {}
    for table, (column, keep) in RETENTION.items():
        async with db.transaction(pool) as conn:
            status = await conn.execute(
                f"DELETE FROM {table} WHERE {column} < now() - $1::interval", keep
            )
        deleted[table] = int(status.split()[-1])
    return deleted


async def run(pool: db.Pool, every_s: float = 600.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            deleted = await purge(pool)
            log.info("housekeeping.purged", **deleted)
        except Exception as exc:  # the database may be away; try again next round
            log.warning("housekeeping.failed", error=repr(exc))

"""The inbox: a consumer's "already processed" marks, committed with the effect they guard."""

from __future__ import annotations

from shared.db import Conn


async def claim(conn: Conn, consumer: str, source: str, event_id: str) -> bool:
    """True the first time (consumer, source, id) is seen; False for a redelivery."""
    claimed = await conn.fetchval(
        """INSERT INTO inbox (consumer, source, event_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        consumer,
        source,
        event_id,
    )
    return claimed is True

"""The inbox: a consumer's "already processed" marks, committed with the effect they guard."""

from __future__ import annotations

from collections.abc import Sequence

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


async def claim_many(
    conn: Conn, consumer: str, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Claim a batch of (source, id) in one statement; returns those seen for the first time.

    A key repeated within ``keys`` is claimed once.
    """
    rows = await conn.fetch(
        """INSERT INTO inbox (consumer, source, event_id)
           SELECT $1, source, event_id FROM unnest($2::text[], $3::text[]) AS t(source, event_id)
           ON CONFLICT DO NOTHING RETURNING source, event_id""",
        consumer,
        [source for source, _ in keys],
        [event_id for _, event_id in keys],
    )
    return {(row[0], row[1]) for row in rows}

"""Per-person rate limits, counted in PostgreSQL so that every instance shares one budget."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from fastapi import HTTPException

from shared.db import Conn


async def enforce(conn: Conn, bucket: str, *, limit: int, window_s: int) -> None:
    """Count one hit in the current fixed window; 429 with ``Retry-After`` once over ``limit``.

    In a request's transaction, a request that fails later does not use up the budget; a route
    without one (``shared.deps.Autocommit``) counts every attempt. The counters are unlogged:
    a database crash resets them.
    """
    now = time.time()
    start = math.floor(now / window_s) * window_s
    hits: int = await conn.fetchval(
        """INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
           ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
           RETURNING hits""",
        bucket,
        datetime.fromtimestamp(start, UTC),
    )
    if hits > limit:
        retry_after = max(1, math.ceil(start + window_s - now))
        raise HTTPException(
            429,
            f"at most {limit} requests per {window_s} s",
            headers={"Retry-After": str(retry_after)},
        )

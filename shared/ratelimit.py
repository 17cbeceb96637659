"""Per-person rate limits, counted in PostgreSQL so that every instance shares one budget.

A request counts one hit in its bucket's current fixed window: :func:`count_hit` is the
statement, meant as a writable CTE of a statement the route runs anyway (no round trip of its
own; the route may also make its write depend on the count), and :meth:`Hit.check` refuses
what is over the limit. :class:`OverLimit` becomes a 429
with ``Retry-After`` (``shared.http``).

In a request's transaction, a request that fails later does not use up the budget; a route
without one counts every attempt. The counters are unlogged: a database crash resets them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime


def count_hit(bucket: str, window_start: str) -> str:
    """The statement that counts a hit and returns the window's hits so far, this one included;
    ``bucket`` and ``window_start`` name its parameters (``$1``, ``$2``, ...)."""
    return f"""INSERT INTO rate_limits (bucket, window_start, hits)
               VALUES ({bucket}, {window_start}, 1)
               ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
               RETURNING hits"""


class OverLimit(Exception):
    def __init__(self, limit: int, window_s: int, retry_after_s: int) -> None:
        super().__init__(f"at most {limit} requests per {window_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Hit:
    """One request against ``bucket``: at most ``limit`` per fixed window of ``window_s``."""

    bucket: str
    limit: int
    window_s: int
    at: float  # when, in seconds since the epoch

    @property
    def window_start(self) -> datetime:
        return datetime.fromtimestamp(math.floor(self.at / self.window_s) * self.window_s, UTC)

    def check(self, hits: int) -> None:
        """Raise :class:`OverLimit` if ``hits`` (this one included) are over the limit."""
        if hits > self.limit:
            ends = self.window_start.timestamp() + self.window_s
            raise OverLimit(self.limit, self.window_s, max(1, math.ceil(ends - self.at)))


def hit(bucket: str, *, limit: int, window_s: int) -> Hit:
    return Hit(bucket, limit, window_s, time.time())

"""External delivery: who owns a delivery (its shard) and what to do after a failed attempt."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    initial: timedelta
    cap: timedelta

    def after_failure(self, attempts: int, *, permanent: bool) -> timedelta | None:
        """How long to wait after the ``attempts``-th failed attempt; None means give up."""
        if permanent or attempts >= self.max_attempts:
            return None
        doublings = min(attempts - 1, 30)
        wait: timedelta = min(self.cap, self.initial * 2**doublings)
        return wait


def shard_of(recipient_id: str, shards: int) -> int:
    """Stable across processes (unlike ``hash``): one person's messages share a shard, so they
    go out in order."""
    return zlib.crc32(recipient_id.encode()) % shards

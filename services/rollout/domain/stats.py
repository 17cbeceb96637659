"""Confidence bounds for a share of yes-answers."""

from __future__ import annotations

import math
from statistics import NormalDist


def z_score(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 at 95 %."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval (without continuity correction) of ``successes`` out of ``n``.

    Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and n successes,
    which small pilots hit all the time. With no observations it is the whole of [0, 1].
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n")
    if n == 0:
        return 0.0, 1.0
    z = z_score(confidence)
    share = successes / n
    denominator = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)

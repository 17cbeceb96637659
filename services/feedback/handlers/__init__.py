"""Feedback use cases. Each takes the caller's connection; the edge owns the transaction.

``submission`` (HTTP and survey-tool intake), ``lifecycle`` (the case of an issue),
``queries``, ``projections`` (what other services' events teach this one), ``events`` (what it
publishes).
"""


class NotFound(Exception):
    """No such feedback or rollout, or none the caller may see."""


class UnknownRollout(Exception):
    """Feedback for a rollout this service has not heard of (from onramp.rollout)."""

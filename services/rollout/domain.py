"""Rollout rules: pure functions, no I/O."""

from __future__ import annotations


def counts_toward_feedback(kind: str) -> bool:
    """Every kind of feedback counts as received; the gate issue refines what counts as evidence."""
    return kind in ("survey", "issue", "comment")

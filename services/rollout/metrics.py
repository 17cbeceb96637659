"""Prometheus metrics of the rollout service (served at ``/metrics`` with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GATE_SECONDS = Histogram(
    "onramp_rollout_gate_evaluation_seconds",
    "Time to read a gate's evidence and evaluate it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHANGES = Counter(
    "onramp_rollout_changes_total",
    "Rollout state changes written to the timeline, by kind (stage_advanced, paused, ...).",
    ["kind"],
)

"""Rollout rules: pure functions and values, no I/O, the clock a parameter.

- ``plan``: the plan and its validation (overlapping cohorts, impossible thresholds);
- ``cohorts``: who a stage covers (stable percentage by hashing staff id);
- ``stats``: Wilson score bounds;
- ``evidence``, ``criteria``, ``gate``: the gate algebra of DESIGN §3;
- ``approvals``, ``advance``: who may approve, and whether a stage may be left;
- ``guardrails``: what pauses a running stage;
- ``lifecycle``: which command each state allows.
"""

from services.rollout.domain.outcomes import ORDER, Outcome, worst

__all__ = ["ORDER", "Outcome", "worst"]

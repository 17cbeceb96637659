"""The rollout service: plans, evidence-gated stages, approvals, guardrails and the timeline."""

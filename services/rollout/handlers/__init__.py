"""Rollout use cases. Each takes the caller's connection; the edge owns the transaction.

- ``commands``: create, start, advance, vote (HTTP); ``controls``: pause, resume, rollback;
- ``projections``: consumers of directory, training and feedback events;
- ``evaluation``: re-evaluation on events and timers (gate changes, guardrails, auto mode);
- ``stages``: entering the next stage or completing, and the timers a stage arms;
- ``reading``: the evidence of a gate, read in the caller's transaction, and its evaluation;
- ``publish``: ``rollout.*`` events and the timeline, written together;
- ``views``, ``errors``: what commands return and why they refuse.
"""

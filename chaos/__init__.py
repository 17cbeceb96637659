"""Fault injection with a history checker: the three services, the broker and PostgreSQL run as
real processes; a steady mixed load goes in while faults are injected; a checker then proves
nothing accepted was lost, nothing was applied twice, per-rollout order held and every poison
record reached its dead-letter topic. ``python -m chaos --help``; see docs/reliability.md."""

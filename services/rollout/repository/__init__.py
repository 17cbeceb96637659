"""All SQL of the rollout service: ``projections`` (directory, training, feedback) and
``rollouts`` (rollouts and their members) and ``trail`` (votes and the timeline)."""

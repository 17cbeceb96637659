"""Every scenario by name, in the order a run takes them."""

from __future__ import annotations

from chaos.faults import (
    BrokerRestart,
    Kill9,
    Kill9BetweenCommitAndPublish,
    Kill9MidBatch,
    PostgresOutage,
    Rebalance,
    Scenario,
    SigStop,
    SigTerm,
)
from chaos.inputs import Duplicates, Poison

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Kill9(),
        Kill9MidBatch(),
        Kill9BetweenCommitAndPublish(),
        SigStop(),
        Rebalance(),
        PostgresOutage(),
        BrokerRestart(),
        Poison(),
        Duplicates(),
        SigTerm(),
    )
}

"""The notify service's Prometheus metrics (served with the plumbing's at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

NOTIFICATIONS = Counter(
    "onramp_notify_notifications_total", "Notifications put in inboxes, by template.", ["template"]
)
DELIVERIES = Counter(
    "onramp_notify_deliveries_total",
    "External delivery attempts by channel and outcome (sent, retry, failed, held).",
    ["channel", "outcome"],
)
DELIVERY_LATENESS = Histogram(
    "onramp_notify_delivery_lateness_seconds",
    "From a delivery's due time to its successful sending.",
    ["channel"],
    buckets=_LATENESS_BUCKETS,
)
ESCALATION_LATENESS = Histogram(
    "onramp_notify_escalation_lateness_seconds",
    "From an escalation level's due time to its paging.",
    buckets=_LATENESS_BUCKETS,
)
CASES = Counter(
    "onramp_notify_cases_total", "Escalation case transitions by kind.", ["kind", "action"]
)

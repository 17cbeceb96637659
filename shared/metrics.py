"""Prometheus metrics shared by every service; each process exposes them at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "onramp_consumer_records_total",
    "Records handled by a consumer, by outcome (applied, duplicate, ignored, dead_lettered).",
    ["consumer", "outcome"],
)
RETRIES = Counter(
    "onramp_consumer_retries_total", "Handler attempts that failed and were retried.", ["consumer"]
)
HANDLER_SECONDS = Histogram(
    "onramp_consumer_handler_seconds",
    "Time from decode to commit of one record.",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_PUBLISHED = Counter(
    "onramp_outbox_published_total", "Outbox rows published to Kafka.", ["service"]
)
OUTBOX_CONTENDED = Counter(
    "onramp_outbox_contended_total",
    "Outbox relay claims that found another instance's relay publishing.",
    ["service"],
)
OUTBOX_LAG = Gauge(
    "onramp_outbox_oldest_unsent_seconds", "Age of the oldest unsent outbox row.", ["service"]
)
TIMERS_FIRED = Counter(
    "onramp_timers_fired_total", "Durable timers that fired, by kind.", ["service", "kind"]
)
HTTP_REQUESTS = Histogram(
    "onramp_http_request_seconds",
    "HTTP request duration by route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

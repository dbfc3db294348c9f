"""Prometheus metrics every service exposes on /metrics."""

from prometheus_client import Counter, Histogram

EVENTS_PUBLISHED = Counter("crimerec_outbox_published_total", "Outbox events acknowledged by the broker.")
EVENTS_HANDLED = Counter("crimerec_events_handled_total", "Events handled by a consumer.", ["consumer"])
EVENTS_DUPLICATE = Counter("crimerec_events_duplicate_total", "Redelivered events skipped by the inbox.", ["consumer"])
EVENTS_DEAD_LETTERED = Counter("crimerec_events_dead_lettered_total", "Events sent to a .dlq topic.", ["consumer"])
CONSUMER_TRANSIENT_RETRIES = Counter(
    "crimerec_consumer_transient_retries_total", "Retries after a transient fault.", ["consumer"]
)
CONSUMER_REBALANCES = Counter(
    "crimerec_consumer_rebalances_total", "Assignments a consumer was given (one a rebalance).", ["consumer"]
)
REQUEST_SECONDS = Histogram("crimerec_http_request_seconds", "HTTP request latency.", ["method", "route", "status"])

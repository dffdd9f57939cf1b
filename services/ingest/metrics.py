"""Ingest's Prometheus metrics, on a registry the composition root owns (no module-level collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "touchpoint_ingest_requests",
            "Requests by source and response status",
            ["source", "status"],
            registry=registry,
        )
        self.events = Counter(
            "touchpoint_ingest_events_produced",
            "Events acknowledged by Kafka, by topic",
            ["topic"],
            registry=registry,
        )
        self.produce_latency = Histogram(
            "touchpoint_ingest_produce_seconds",
            "Time from send to broker ack",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.in_flight = Gauge("touchpoint_ingest_in_flight_requests", "Requests being handled now", registry=registry)
        self.smtp_sessions = Counter(
            "touchpoint_ingest_smtp_sessions", "SMTP connections accepted by our server", registry=registry
        )
        self.smtp_messages = Counter(
            "touchpoint_ingest_smtp_messages",
            "SMTP transactions by result: accepted (250), unavailable (451), too_large (552), "
            "rejected_recipient (550), invalid (554), error (451 after an unexpected failure)",
            ["result"],
            registry=registry,
        )

"""The named failures that cross module boundaries. Third-party exceptions are translated into these at
the edge, so callers decide between "try later" and "dead-letter" by type, never by message."""

from __future__ import annotations


class TouchpointError(Exception):
    """Base class of Touchpoint's own exceptions."""


class RetryLater(TouchpointError):
    """A dependency (Kafka, PostgreSQL) is unavailable or slow; the same work may succeed later. Start-up waits
    on it (`lifecycle.retry_until_ready`); the classifier's batch loop retries its own transient errors."""


class KafkaUnavailable(RetryLater):
    """The broker did not acknowledge in time, or the producer is not connected."""


class DatabaseUnavailable(RetryLater):
    """PostgreSQL could not be reached at start-up, or the connection broke while migrating."""


class StartupRefused(TouchpointError):
    """A start-up check failed in a way that waiting cannot fix (a changed migration, a topic with the wrong
    settings, a refused secret): the process stops with the reason instead of retrying."""


class InvalidRecord(TouchpointError):
    """A consumed record can never be applied (undecodable, invalid); it belongs in the dead-letter topic."""

    def __init__(self, reason: str, error_class: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class


class TooManyInvalid(TouchpointError):
    """So many invalid records in a row that a bad deploy is likelier than bad data: stop, don't dead-letter."""

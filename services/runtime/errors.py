"""The named failures that cross module boundaries. Third-party exceptions are translated into these at
the edge, so callers decide between "try later" and "dead-letter" by type, never by message."""

from __future__ import annotations


class TouchpointError(Exception):
    """Base class of Touchpoint's own exceptions."""


class KafkaUnavailable(TouchpointError):
    """The broker did not acknowledge in time, or the producer is not connected: the same work may succeed later."""


class InvalidRecord(TouchpointError):
    """A consumed record can never be applied (undecodable, invalid); it belongs in the dead-letter topic."""

    def __init__(self, reason: str, error_class: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class


class TooManyInvalid(TouchpointError):
    """So many invalid records in a row that a bad deploy is likelier than bad data: stop, don't dead-letter."""

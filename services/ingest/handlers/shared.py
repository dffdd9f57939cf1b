"""What the call handlers share: the company facts from settings, and the last guard before publishing."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from schemas.events import CallEvent
from services.ingest.normalize_parties import CallContext, call_context
from services.ingest.problems import unprocessable
from services.ingest.settings import IngestSettings


def call_context_of(settings: IngestSettings) -> CallContext:
    return call_context(settings.default_region, settings.timezone, settings.own_numbers)


def normalized(build: Callable[[], CallEvent]) -> CallEvent:
    """Input models bound what they accept so that a valid input makes a valid `CallEvent`; should a value
    still not fit the contract, the sender gets a 422 naming the event field, never a 500."""
    try:
        return build()
    except ValidationError as exc:
        raise unprocessable(exc, "event.") from exc

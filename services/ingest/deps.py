"""What ingest's handlers need, built by the composition root and kept under one typed app key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from services.ingest.email.parsing_pool import ParsingPool
from services.ingest.email.replay_cache import TokenClaims, TokenReplayCache
from services.ingest.limits import LoadLimits
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.health import CachedReadiness

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class IngestDeps:
    settings: IngestSettings
    publisher: EventPublisher
    metrics: IngestMetrics
    clock: Clock
    ready: CachedReadiness
    # One-use tokens (Mailgun): the composition root shares them through PostgreSQL; tests that need no sharing
    # get a fresh in-memory store each.
    mailgun_tokens: TokenClaims = field(default_factory=TokenReplayCache)
    # Where large emails are parsed; the composition root gives it a bounded pool of its own.
    parsing: ParsingPool = field(default_factory=ParsingPool)
    # Shared with the SMTP server by the composition root, sized from the settings.
    limits: LoadLimits = field(default_factory=LoadLimits)


DEPS = web.AppKey("deps", IngestDeps)

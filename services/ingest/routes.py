"""Every webhook route of ingest: method, path, source name (metrics label) and handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from services.ingest.handlers import generic


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    source: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


ROUTES: tuple[Route, ...] = (Route("POST", "/webhooks/generic", "generic", generic.handle),)

"""Every webhook route of ingest: method, path, source name (metrics label) and handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from services.ingest.handlers import freeswitch, generic, mango, twilio, zadarma
from services.ingest.handlers import mailgun as mailgun_handler
from services.ingest.handlers import postmark as postmark_handler


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    source: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


ROUTES: tuple[Route, ...] = (
    Route("POST", "/webhooks/generic", "generic", generic.handle),
    Route("POST", "/webhooks/mailgun", "mailgun", mailgun_handler.handle),
    Route("POST", "/webhooks/postmark", "postmark", postmark_handler.handle),
    Route("POST", "/webhooks/twilio", "twilio", twilio.handle),
    Route("POST", mango.PATH, "mango", mango.handle),
    # GET answers the zd_echo URL check, POST the notifications; one route so the source name stays unique.
    Route("*", "/webhooks/zadarma", "zadarma", zadarma.handle),
    Route("POST", "/webhooks/freeswitch", "freeswitch", freeswitch.handle),
)

"""The source registry: every webhook ingest serves, in one list that both the app's routes and the OpenAPI
document are built from."""

from __future__ import annotations

from services.ingest.calls import freeswitch, generic, mango, twilio, zadarma
from services.ingest.email import mailgun, postmark
from services.ingest.http.webhook import Webhook

SOURCES: tuple[Webhook, ...] = (
    generic.SOURCE,
    mailgun.SOURCE,
    postmark.SOURCE,
    twilio.SOURCE,
    mango.SOURCE,
    zadarma.SOURCE,
    freeswitch.SOURCE,
)

"""The registry entry of one source (route, methods, content types, secrets, handler, OpenAPI) and the OpenAPI
fragments the entries share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel

from services.ingest.deps import IngestDeps
from services.ingest.http.problems import Problem, not_configured, unauthorized
from services.ingest.publish import IngestEvent

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Webhook:
    """`name` is the route name and metrics label; `operations` maps each method to its OpenAPI operation;
    `secrets` are the settings fields (env `TOUCHPOINT_<FIELD>`) without which the source is refused."""

    name: str
    title: str
    route: str
    handler: Handler
    operations: Mapping[str, Mapping[str, Any]]
    secrets: tuple[str, ...]
    content_types: tuple[str, ...] = ()
    openapi_path: str = ""
    schemas: tuple[type[BaseModel], ...] = ()

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(method.upper() for method in self.operations)

    @property
    def path(self) -> str:
        """The route as OpenAPI writes it (without aiohttp's `{name:regex}`)."""
        return self.openapi_path or self.route

    def not_configured(self) -> Problem:
        variables = " and ".join(f"TOUCHPOINT_{name.upper()}" for name in self.secrets)
        return not_configured(f"{self.title} ({variables})")


async def publish_event(deps: IngestDeps, event: IngestEvent) -> None:
    """Names the event in the request's log line, then returns once Kafka acknowledged it."""
    structlog.contextvars.bind_contextvars(event_id=event.event_id)
    await deps.publisher.publish([event])


def refuse_stale(signed_at: datetime, now: datetime, window_s: int, field: str) -> None:
    """401 naming `field` when a signed event time is more than `window_s` from now: a captured request is not
    accepted forever (inside the window a replay repeats an event id the classifier already has)."""
    offset = abs((now - signed_at).total_seconds())
    if offset > window_s:
        raise unauthorized(f"{field} is {offset:.0f}s from now, more than {window_s}s: a replayed request", field)


def accepted(event: IngestEvent, status: int) -> web.Response:
    return web.json_response({"event_id": event.event_id, "status": "accepted"}, status=status)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

ACCEPTED_DOC: dict[str, Any] = {
    "description": "Durably written to Kafka",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["event_id", "status"],
                "properties": {"event_id": {"type": "string"}, "status": {"const": "accepted"}},
            }
        }
    },
}
EMAIL_ACCEPTED_DOC: dict[str, Any] = {
    **ACCEPTED_DOC,
    "description": "Durably written to Kafka (the providers retry anything but 200)",
}


def problem_response(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


WEBHOOK_ERRORS: dict[str, Any] = {
    "400": problem_response("Malformed body (not JSON, wrong charset, undecodable form)"),
    "401": problem_response("Missing, wrong or stale signature / credentials"),
    "403": problem_response("The source has no secret configured and is refused"),
    "408": problem_response("The body did not arrive within the body read timeout; the connection is closed"),
    "413": problem_response("Body larger than the configured limit"),
    "415": problem_response("Unsupported Content-Type"),
    "422": problem_response("Body is well-formed but not a valid event; `errors` names the fields"),
    "503": problem_response(
        "Kafka did not acknowledge in time, or ingest is at its load limit; retry after Retry-After seconds",
        retry_after=True,
    ),
}


def schema_ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def header_parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}


def form_schema(models: list[type[BaseModel]], required: list[str], description: str) -> dict[str, Any]:
    """A form body: every value is a string on the wire; enums and patterns of the model are kept."""
    properties: dict[str, Any] = {}
    for model in models:
        for name, prop in model.model_json_schema(by_alias=True)["properties"].items():
            options = prop.get("anyOf", [prop])
            plain: dict[str, Any] = next((o for o in options if o.get("type") != "null"), {})
            schema: dict[str, Any] = {"type": "string"}
            for keyword in ("enum", "pattern", "maxLength"):
                if keyword in plain:
                    schema[keyword] = plain[keyword]
            if "const" in plain:
                schema["enum"] = [plain["const"]]
            properties.setdefault(name, schema)
    return {"type": "object", "description": description, "required": required, "properties": properties}

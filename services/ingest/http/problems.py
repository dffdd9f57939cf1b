"""RFC 9457 problem responses. Every error ingest returns is one of these, naming the offending field."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

PROBLEM_CONTENT_TYPE = "application/problem+json"
E = TypeVar("E", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


@dataclass
class Problem(Exception):
    """Raised by handlers and turned into a problem+json response by the middleware."""

    status: int
    slug: str
    title: str
    detail: str = ""
    errors: Sequence[FieldError] = ()
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    def response(self) -> web.Response:
        body: dict[str, object] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return web.Response(
            status=self.status,
            body=json.dumps(body).encode(),
            content_type=PROBLEM_CONTENT_TYPE,
            headers=self.headers,
        )


def unauthorized(detail: str, field_name: str | None = None) -> Problem:
    errors = [FieldError(field_name, detail)] if field_name else []
    return Problem(401, "unauthorized", "Request not authenticated", detail, errors)


def unprocessable(exc: ValidationError, prefix: str = "") -> Problem:
    errors = [
        FieldError(
            prefix + ".".join(str(p) for p in err["loc"]) if err["loc"] else prefix.rstrip(".") or "body",
            err["msg"],
        )
        for err in exc.errors(include_url=False, include_input=False)
    ]
    fields = ", ".join(e.field for e in errors[:5])
    return Problem(422, "invalid-event", "Event failed validation", f"invalid fields: {fields}", errors)


def bad_request(detail: str, field_name: str = "body") -> Problem:
    return Problem(400, "malformed-body", "Malformed request body", detail, [FieldError(field_name, detail)])


def unsupported_media_type(got: str, expected: Sequence[str]) -> Problem:
    detail = f"Content-Type {got or '(none)'} is not accepted; send {' or '.join(expected)}"
    return Problem(
        415, "unsupported-media-type", "Unsupported media type", detail, [FieldError("Content-Type", detail)]
    )


def too_large(limit: int) -> Problem:
    detail = f"body is larger than {limit} bytes"
    return Problem(413, "body-too-large", "Request body too large", detail, [FieldError("body", detail)])


def unavailable(retry_after_s: int, detail: str) -> Problem:
    return Problem(
        503,
        "kafka-unavailable",
        "Event store temporarily unavailable",
        detail,
        (),
        {"Retry-After": str(retry_after_s)},
    )


def not_configured(source: str) -> Problem:
    return Problem(
        403,
        "source-not-configured",
        "Source not configured",
        f"no secret is configured for {source}; this source is refused until one is set",
    )


def normalized(build: Callable[[], E]) -> E:
    """Input models bound what they accept so that a valid input makes a valid event; should a value still not
    fit the contract, the sender gets a 422 naming the event field, never a 500."""
    try:
        return build()
    except ValidationError as exc:
        raise unprocessable(exc, "event.") from exc

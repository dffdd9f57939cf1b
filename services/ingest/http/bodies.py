"""Reading a request body within its size limit and the accepted content types, as problems on failure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from services.ingest.http.problems import Problem, bad_request, too_large, unprocessable, unsupported_media_type

M = TypeVar("M", bound=BaseModel)
CHUNK = 65_536


def require_content_type(request: web.Request, accepted: Sequence[str]) -> None:
    if request.content_type not in accepted:
        raise unsupported_media_type(request.content_type if request.body_exists else "", accepted)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` whether or not Content-Length was sent."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large(limit) from exc


async def read_limited_stream(request: web.Request, limit: int) -> bytes:
    """The raw body, up to `limit` bytes (which may exceed the app's client_max_size: email routes), else 413."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_model(model: type[M], body: bytes) -> M:
    """400 for bytes that are not JSON (or not UTF-8), 422 for JSON that is not a valid event."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise bad_request(f"body is not valid UTF-8 JSON: {errors[0]['msg']}") from exc
        if any(err["type"] == "model_type" and not err["loc"] for err in errors):
            raise Problem(422, "invalid-event", "Event failed validation", "body must be a JSON object") from exc
        raise unprocessable(exc) from exc

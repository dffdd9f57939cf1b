"""Form bodies: a strict, bounded decode of urlencoded bytes (call sources) and streamed form posts whose file
parts are hashed, never kept (Mailgun); problems on failure."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict
from pydantic import BaseModel, ValidationError

from schemas.events import Attachment
from services.ingest.email.mime import MAX_ATTACHMENTS, attachment_meta
from services.ingest.http.bodies import CHUNK, read_limited_stream
from services.ingest.http.problems import (
    FieldError,
    Problem,
    bad_request,
    too_large,
    unprocessable,
    unsupported_media_type,
)

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_FORM_FIELDS = 500
MAX_MULTIPART_PARTS = 1000

M = TypeVar("M", bound=BaseModel)


def require_form(request: web.Request, accepted: tuple[str, ...] = (FORM,)) -> None:
    """415 for another media type or a declared charset other than UTF-8 (forms are decoded as UTF-8)."""
    if request.content_type not in accepted:
        raise unsupported_media_type(request.content_type if request.body_exists else "", accepted)
    charset = request.charset
    if charset is not None and charset.lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
        detail = f"charset {charset} is not accepted; send UTF-8"
        raise Problem(
            415, "unsupported-media-type", "Unsupported media type", detail, [FieldError("Content-Type", detail)]
        )


def decode_form(body: bytes) -> MultiDict[str]:
    """Every name=value pair, in order, percent-decoded as UTF-8; 400 naming the body if that is impossible."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise bad_request("form body is not valid UTF-8") from exc
    except ValueError as exc:
        raise bad_request(f"form body is not acceptable: {exc}") from exc
    return MultiDict(pairs)


def first_values(form: MultiDict[str]) -> dict[str, str]:
    """One value per name (the first): providers send each field once; the signature covered all of them."""
    values: dict[str, str] = {}
    for name, value in form.items():
        values.setdefault(name, value)
    return values


def validate_fields(model: type[M], fields: Mapping[str, object], prefix: str = "") -> M:
    """422 naming each invalid field, with `prefix` (e.g. `json.`) for fields nested in a form value."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise unprocessable(exc, prefix) from exc


def validate_json_field(model: type[M], data: str | bytes, field: str) -> M:
    """JSON carried in a form field (Mango `json`, FreeSWITCH `cdr`): 400 if it is not JSON, 422 naming the
    invalid fields as `<field>.<path>`."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise bad_request(f"{field} is not valid UTF-8 JSON: {errors[0]['msg']}", field) from exc
        if any(err["type"] == "model_type" and not err["loc"] for err in errors):
            detail = f"{field} must be a JSON object"
            raise Problem(422, "invalid-event", "Event failed validation", detail, [FieldError(field, detail)]) from exc
        raise unprocessable(exc, f"{field}.") from exc


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Attachment] = field(default_factory=list)


@dataclass
class _Budget:
    limit: int
    used: int = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise too_large(self.limit)


async def read_form_post(request: web.Request, limit: int) -> ReceivedForm:
    """The fields of a urlencoded or multipart post; for multipart, the files as attachment metadata (name,
    type, size, sha256). `limit` may exceed the app's client_max_size."""
    if request.content_type == FORM:
        return ReceivedForm(first_values(decode_form(await read_limited_stream(request, limit))))
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    budget = _Budget(limit)
    form = ReceivedForm()
    try:
        reader = await request.multipart()
        count = 0
        while (part := await reader.next()) is not None:
            count += 1
            if count > MAX_MULTIPART_PARTS:
                raise bad_request(f"more than {MAX_MULTIPART_PARTS} form parts")
            if isinstance(part, MultipartReader):
                raise bad_request("nested multipart is not a form")
            await _read_part(part, form, budget)
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:  # aiohttp: "not a valid multipart"
        raise bad_request(f"multipart body is malformed: {exc}") from exc
    return form


async def _read_part(part: BodyPartReader, form: ReceivedForm, budget: _Budget) -> None:
    name = part.name or ""
    if part.filename is not None:
        digest = hashlib.sha256()
        size = 0
        while chunk := await part.read_chunk(CHUNK):
            budget.take(len(chunk))
            digest.update(chunk)
            size += len(chunk)
        if len(form.files) < MAX_ATTACHMENTS:
            meta = attachment_meta(part.filename, part.headers.get("Content-Type", "application/octet-stream"), b"")
            form.files.append(meta.model_copy(update={"size": size, "sha256": digest.hexdigest()}))
        return
    chunks: list[bytes] = []
    while chunk := await part.read_chunk(CHUNK):
        budget.take(len(chunk))
        chunks.append(chunk)
    charset = part.get_charset(default="utf-8")
    try:
        value = b"".join(chunks).decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise bad_request(f"form field {name or '(unnamed)'} is not valid {charset}", name or "body") from exc
    form.fields.setdefault(name, value)

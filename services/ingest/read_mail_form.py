"""Reading email-sized request bodies (Mailgun, Postmark): the raw body under a per-route limit larger than the
app's, and form posts (urlencoded or multipart) where file parts are hashed while they stream past and never kept
in memory.

Failures are problems naming the field: 413 past the limit, 400 for undecodable bytes or a broken multipart."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from schemas.events import Attachment
from services.ingest.parse_email import MAX_ATTACHMENTS, attachment_meta
from services.ingest.problems import bad_request, too_large
from services.ingest.read_form import decode_form, first_values

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FIELDS = 1000
_CHUNK = 65_536


async def read_limited_stream(request: web.Request, limit: int) -> bytes:
    """The raw body, up to `limit` bytes (which may exceed the app's client_max_size), else 413."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


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


async def read_form(request: web.Request, limit: int) -> ReceivedForm:
    """The fields of a form post; for multipart, the files as attachment metadata (name, type, size, sha256)."""
    if request.content_type == "application/x-www-form-urlencoded":
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
            if count > MAX_FIELDS:
                raise bad_request(f"more than {MAX_FIELDS} form parts")
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
        while chunk := await part.read_chunk(_CHUNK):
            budget.take(len(chunk))
            digest.update(chunk)
            size += len(chunk)
        if len(form.files) < MAX_ATTACHMENTS:
            meta = attachment_meta(part.filename, part.headers.get("Content-Type", "application/octet-stream"), b"")
            form.files.append(meta.model_copy(update={"size": size, "sha256": digest.hexdigest()}))
        return
    chunks: list[bytes] = []
    while chunk := await part.read_chunk(_CHUNK):
        budget.take(len(chunk))
        chunks.append(chunk)
    charset = part.get_charset(default="utf-8")
    try:
        value = b"".join(chunks).decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise bad_request(f"form field {name or '(unnamed)'} is not valid {charset}", name or "body") from exc
    form.fields.setdefault(name, value)

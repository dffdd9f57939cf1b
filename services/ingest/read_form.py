"""Form-encoded webhook bodies (Twilio, Mango, Zadarma, FreeSWITCH `cdr=`): the content-type check and a
strict, bounded decode of the raw bytes, as problems on failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict
from pydantic import BaseModel, ValidationError

from services.ingest.problems import FieldError, Problem, bad_request, unprocessable, unsupported_media_type

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 500

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

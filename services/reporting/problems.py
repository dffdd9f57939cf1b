"""RFC 9457 problem details: the one shape of every error reporting answers, on pages and in the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.runtime.errors import TouchpointError


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class Problem(TouchpointError):
    """Raised by handlers; rendered as application/problem+json for the API and as a page for browsers."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        out: dict[str, Any] = {"type": f"/problems/{slug}", "title": self.title, "status": self.status}
        out["detail"] = self.detail
        if self.errors:
            out["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return out


def unauthenticated() -> Problem:
    return Problem(
        401, "Unauthenticated", "log in, or send Authorization: Bearer <token>", (), {"WWW-Authenticate": "Bearer"}
    )


def forbidden(detail: str = "your role may not do this") -> Problem:
    return Problem(403, "Forbidden", detail)


def not_found(what: str) -> Problem:
    """Also the answer for a record outside the caller's reach: its existence is not revealed."""
    return Problem(404, "Not found", f"no {what} here")


def invalid(errors: Sequence[FieldError], title: str = "Invalid request") -> Problem:
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return Problem(422, title, detail, tuple(errors))


def try_later(detail: str, retry_after_s: int = 5) -> Problem:
    return Problem(503, "Try again later", detail, (), {"Retry-After": str(retry_after_s)})

"""HTTP Basic authentication (FreeSWITCH, Postmark): one constant-time check of the whole `user:password` pair."""

from __future__ import annotations

import base64
import binascii
import hmac

from services.ingest.http.problems import unauthorized


class CredentialsError(ValueError):
    """Missing or wrong Basic credentials; the message is safe to show to the sender."""


def check_basic_auth(authorization: str | None, user: str, password: str, missing_hint: str) -> None:
    """Compares the presented pair with ours in constant time, so nothing tells which part was wrong.
    `missing_hint` says where this source's sender configures the credentials."""
    if not authorization:
        raise CredentialsError(f"Authorization header is missing ({missing_hint})")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise CredentialsError("Authorization must use the Basic scheme")
    try:
        presented = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CredentialsError("Authorization Basic credentials are not valid base64") from exc
    if not hmac.compare_digest(presented, f"{user}:{password}".encode()):
        raise CredentialsError("wrong user or password")


def require_basic_auth(authorization: str | None, user: str, password: str, missing_hint: str, realm: str) -> None:
    """401 with a `WWW-Authenticate: Basic` challenge unless the credentials are ours."""
    try:
        check_basic_auth(authorization, user, password, missing_hint)
    except CredentialsError as exc:
        problem = unauthorized(str(exc), "Authorization")
        problem.headers["WWW-Authenticate"] = f'Basic realm="{realm}", charset="UTF-8"'
        raise problem from exc

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.calls.generic import SignatureError, sign_generic, verify_generic

SECRET = b"s3cret"
NOW = 1_800_000_000


def test_valid_signature_is_accepted() -> None:
    body = b'{"call_id":"c1"}'
    assert verify_generic(SECRET, sign_generic(SECRET, NOW, body), body, NOW, 300) == NOW


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "no t="),
        (f"t={NOW}", "no v1="),
        ("t=yesterday,v1=abc", "unix seconds"),
        ("garbage", "must be"),
        (f"t={NOW},v1=" + "0" * 64, "does not match"),
    ],
)
def test_bad_headers_are_refused_with_a_reason(header: str | None, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_generic(SECRET, header, b"{}", NOW, 300)


def test_stale_and_future_timestamps_are_refused() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="away from now"):
        verify_generic(SECRET, sign_generic(SECRET, NOW - 301, body), body, NOW, 300)
    with pytest.raises(SignatureError, match="away from now"):
        verify_generic(SECRET, sign_generic(SECRET, NOW + 301, body), body, NOW, 300)


def test_one_matching_signature_of_several_is_enough_during_rotation() -> None:
    body = b"{}"
    good = sign_generic(SECRET, NOW, body)
    old = sign_generic(b"old-secret", NOW, body).split(",")[1]
    assert verify_generic(SECRET, f"{good},{old}", body, NOW, 300) == NOW


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=1))
def test_any_change_of_the_body_breaks_the_signature(body: bytes, extra: bytes) -> None:
    header = sign_generic(SECRET, NOW, body)
    with pytest.raises(SignatureError):
        verify_generic(SECRET, header, body + extra, NOW, 300)

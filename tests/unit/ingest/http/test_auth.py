"""Basic auth (FreeSWITCH, Postmark): the whole pair compared in constant time; anything else refused with 401."""

from __future__ import annotations

import base64

import pytest

from services.ingest.http.auth import CredentialsError, check_basic_auth, require_basic_auth
from services.ingest.http.problems import Problem

HINT = "put user:password in the webhook URL"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("password", ["pw", "pw:with:colons"])
def test_right_credentials_pass(password: str) -> None:
    check_basic_auth(basic("postmark", password), "postmark", password, HINT)
    check_basic_auth("basic  " + basic("postmark", password).split(" ", 1)[1] + " ", "postmark", password, HINT)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer x",
        "Basic",
        "Basic ",
        "Basic !!!",
        basic("postmark", "wrong"),
        basic("other", "pw"),
        basic("postmark", "pw2"),
        basic("postmark", ""),
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b"postmarkpw").decode(),
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    with pytest.raises(CredentialsError):
        check_basic_auth(header, "postmark", "pw", HINT)


def test_a_missing_header_says_where_this_source_sets_it() -> None:
    with pytest.raises(CredentialsError, match="webhook URL"):
        check_basic_auth(None, "postmark", "pw", HINT)


def test_refusal_is_a_401_naming_the_header_with_a_basic_challenge() -> None:
    with pytest.raises(Problem) as refused:
        require_basic_auth(basic("freeswitch", "other"), "freeswitch", "pw", HINT, realm="touchpoint")
    problem = refused.value
    assert problem.status == 401
    assert [e.field for e in problem.errors] == ["Authorization"]
    assert problem.headers["WWW-Authenticate"] == 'Basic realm="touchpoint", charset="UTF-8"'
    require_basic_auth(basic("freeswitch", "pw"), "freeswitch", "pw", HINT, realm="touchpoint")

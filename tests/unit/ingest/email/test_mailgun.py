"""Mailgun: our verifier agrees with the official SDK's, replays are caught, forms become events."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mailgun.security import SecurityGuard

from services.ingest.email.mailgun import (
    InvalidMailgunForm,
    MailgunSignatureError,
    content_digest,
    header_pairs,
    normalize_mailgun,
    sign_mailgun,
    verify_mailgun,
)
from services.ingest.email.replay_cache import Claim, Posted, TokenReplayCache
from services.ingest.http.forms import ReceivedForm

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def signed(timestamp: int, token: str, key: str = KEY) -> dict[str, str]:
    return {"timestamp": str(timestamp), "token": token, "signature": sign_mailgun(key.encode(), str(timestamp), token)}


@given(token=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60))
def test_our_signatures_pass_the_official_sdk_and_ours_agree(token: str) -> None:
    now = int(time.time())
    fields = signed(now, token)
    assert SecurityGuard.verify_webhook(KEY, token, fields["timestamp"], fields["signature"]) is True
    assert verify_mailgun(KEY.encode(), fields, now, 900).token == token


def test_a_signature_by_another_key_fails_in_both() -> None:
    now = int(time.time())
    fields = signed(now, "t" * 50, key="other-key")
    assert SecurityGuard.verify_webhook(KEY, fields["token"], fields["timestamp"], fields["signature"]) is False
    with pytest.raises(MailgunSignatureError, match="does not match") as err:
        verify_mailgun(KEY.encode(), fields, now, 900)
    assert err.value.field == "signature"


def test_stale_and_future_timestamps_are_refused_like_the_sdk_does() -> None:
    now = int(time.time())
    stale = signed(now - 901, "t" * 50)
    assert SecurityGuard.verify_webhook(KEY, stale["token"], stale["timestamp"], stale["signature"]) is False
    with pytest.raises(MailgunSignatureError, match="away from now") as err:
        verify_mailgun(KEY.encode(), stale, now, 900)
    assert err.value.field == "timestamp"
    with pytest.raises(MailgunSignatureError, match="away from now"):
        verify_mailgun(KEY.encode(), signed(now + 901, "t" * 50), now, 900)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"token": "t", "signature": "s"}, "timestamp"),
        ({"timestamp": "1", "signature": "s"}, "token"),
        ({"timestamp": "1", "token": "t"}, "signature"),
        ({"timestamp": "12.5", "token": "t", "signature": "s"}, "timestamp"),
        ({"timestamp": "١٢", "token": "t", "signature": "s"}, "timestamp"),
        ({"timestamp": "1", "token": "t" * 501, "signature": "s"}, "token"),
    ],
)
def test_missing_or_malformed_fields_are_named(fields: dict[str, str], field: str) -> None:
    with pytest.raises(MailgunSignatureError) as err:
        verify_mailgun(KEY.encode(), fields, 1, 900)
    assert err.value.field == field


def posted(token: str, expires_at: float, digest: bytes = b"content") -> Posted:
    return Posted("mailgun", token, digest, datetime.fromtimestamp(expires_at, UTC))


async def test_replay_cache_claims_once_until_expiry_releases_and_stays_bounded() -> None:
    now = [0.0]
    cache = TokenReplayCache(max_entries=3, clock=lambda: now[0])
    assert await cache.claim(posted("a", 100)) is Claim.NEW
    now[0] = 99
    assert await cache.claim(posted("a", 199)) is Claim.IN_FLIGHT  # the first post is still being published
    assert await cache.claim(posted("a", 199, b"other")) is Claim.REPLAYED
    await cache.release("mailgun", "a")
    assert await cache.claim(posted("a", 199)) is Claim.NEW
    await cache.accept("mailgun", "a")
    assert await cache.claim(posted("a", 199)) is Claim.ACCEPTED  # a retry of an accepted post
    assert await cache.claim(posted("a", 199, b"other")) is Claim.REPLAYED
    now[0] = 200
    assert await cache.claim(posted("a", 300)) is Claim.NEW  # the first claim expired
    for token in "bcde":
        assert await cache.claim(posted(token, 300)) is Claim.NEW
    assert len(cache) == 3
    assert await cache.claim(posted("b", 300)) is Claim.NEW  # forgotten past max_entries


def test_the_content_digest_ignores_the_fresh_signature_and_sees_any_other_change() -> None:
    first = ReceivedForm({"token": "t", "timestamp": "1", "signature": "s1", "subject": "Quote"})
    resigned = ReceivedForm({"token": "t", "timestamp": "2", "signature": "s2", "subject": "Quote"})
    changed = ReceivedForm({"token": "t", "timestamp": "1", "signature": "s1", "subject": "Quote!"})
    shifted = ReceivedForm({"token": "t", "timestamp": "1", "signature": "s1", "subjec": "tQuote"})
    assert content_digest(first) == content_digest(resigned)
    assert content_digest(first) != content_digest(changed)
    assert content_digest(first) != content_digest(shifted)


FORM = {
    "recipient": "sales@example.com",
    "sender": "ann@client.org",
    "from": "Ann <ann@client.org>",
    "subject": "Quote",
    "body-plain": "Hello\r\n",
    "message-headers": json.dumps(
        [
            ["From", "Ann <ann@client.org>"],
            ["To", "sales@example.com"],
            ["Subject", "Quote"],
            ["Message-Id", "<q1@client.org>"],
            ["Date", "Thu, 26 Nov 2026 13:00:00 +0100"],
            ["Auto-Submitted", "auto-replied"],
        ]
    ),
}


def test_a_parsed_form_becomes_an_event() -> None:
    e = normalize_mailgun(FORM, (), received_at=NOW, domains=("example.com",))
    assert (e.source, e.message_id, e.direction, e.counterpart) == (
        "mailgun",
        "<q1@client.org>",
        "inbound",
        "ann@client.org",
    )
    assert e.envelope_to == ("sales@example.com",)
    assert e.text == "Hello"
    assert e.sent_at == NOW
    assert e.is_auto_reply is True


def test_without_message_headers_the_per_header_fields_are_used() -> None:
    form = {k: v for k, v in FORM.items() if k != "message-headers"} | {"Message-Id": "<q1@client.org>"}
    e = normalize_mailgun(form, (), received_at=NOW, domains=("example.com",))
    assert e.message_id == "<q1@client.org>"
    assert e.sender is not None and e.sender.address == "ann@client.org"
    assert e.event_id == normalize_mailgun(FORM, (), received_at=NOW, domains=("example.com",)).event_id


def test_raw_mime_mode() -> None:
    form = {
        "recipient": "sales@example.com",
        "sender": "ann@client.org",
        "body-mime": "From: ann@client.org\r\nMessage-ID: <m@c.org>\r\n\r\nHi\r\n",
    }
    e = normalize_mailgun(form, (), received_at=NOW, domains=("example.com",))
    assert (e.message_id, e.text) == ("<m@c.org>", "Hi")


@pytest.mark.parametrize("value", ["not json", '{"a": 1}', '[["only-name"]]', "[[1, 2]]"])
def test_bad_message_headers_are_named(value: str) -> None:
    with pytest.raises(InvalidMailgunForm) as err:
        header_pairs({"message-headers": value})
    assert err.value.field == "message-headers"


def test_recipient_is_required() -> None:
    with pytest.raises(InvalidMailgunForm) as err:
        normalize_mailgun({"sender": "a@b.org"}, (), received_at=NOW, domains=())
    assert err.value.field == "recipient"

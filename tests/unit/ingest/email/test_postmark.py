"""Postmark: the inbound JSON becomes an event with attachment metadata only (Basic auth: test_auth.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from services.ingest.email.postmark import PostmarkInbound, normalize_postmark

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


# Postmark's documented example, trimmed (postmarkapp.com inbound webhook).
SAMPLE = {
    "FromName": "Postmarkapp Support",
    "MessageStream": "inbound",
    "From": "support@postmarkapp.com",
    "FromFull": {"Email": "Support@Postmarkapp.com", "Name": "Postmarkapp Support", "MailboxHash": ""},
    "To": '"Firstname Lastname" <sales+SampleHash@example.com>',
    "ToFull": [{"Email": "sales+SampleHash@example.com", "Name": "Firstname Lastname", "MailboxHash": "SampleHash"}],
    "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com',
    "CcFull": [
        {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
        {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
    ],
    "OriginalRecipient": "sales+SampleHash@example.com",
    "Subject": "Test subject",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "replyto@example.com",
    "MailboxHash": "SampleHash",
    "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
    "TextBody": "This is a test text body.",
    "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
    "StrippedTextReply": "This is the reply text",
    "Tag": "TestTag",
    "Headers": [
        {"Name": "X-Header-Test", "Value": ""},
        {"Name": "Message-ID", "Value": "<CAA+abc@mail.gmail.com>"},
        {"Name": "In-Reply-To", "Value": "<prev@example.com>"},
        {"Name": "Subject", "Value": "must not override the Subject field"},
    ],
    "Attachments": [
        {
            "Name": "test.txt",
            "Content": base64.b64encode(b"This is attachment contents, base-64 encoded.").decode(),
            "ContentType": "text/plain",
            "ContentLength": 45,
        },
        {"Name": "broken.bin", "Content": "not base64!", "ContentType": "application/octet-stream", "ContentLength": 7},
    ],
}


def test_the_documented_example_becomes_an_event() -> None:
    e = normalize_postmark(PostmarkInbound.model_validate(SAMPLE), received_at=NOW, domains=("example.com",))
    assert e.source == "postmark"
    assert e.provider_message_id == "73e6d360-66eb-11e1-8e72-a8904824019b"
    assert e.message_id == "<CAA+abc@mail.gmail.com>"
    assert e.in_reply_to == "<prev@example.com>"
    assert e.subject == "Test subject"
    assert e.direction == "inbound"
    assert e.counterpart == "support@postmarkapp.com"
    assert e.our_address == "sales+samplehash@example.com"
    assert [a.address for a in e.cc] == ["firstcc@postmarkapp.com", "secondcc@postmarkapp.com"]
    assert e.reply_to is not None and e.reply_to.address == "replyto@example.com"
    assert e.sent_at == datetime(2014, 8, 1, 20, 45, 32, tzinfo=UTC)
    assert e.text == "This is a test text body."
    good, broken = e.attachments
    assert (good.filename, good.size) == ("test.txt", 45)
    assert good.sha256 is not None
    assert (broken.size, broken.sha256) == (7, None)
    assert "attachment contents" not in e.model_dump_json()


def test_html_only_and_missing_message_id_header() -> None:
    sample = {**SAMPLE, "TextBody": "", "Headers": []}
    e = normalize_postmark(PostmarkInbound.model_validate(sample), received_at=NOW, domains=("example.com",))
    assert e.text == "This is a test html body."
    assert e.message_id is None
    again = normalize_postmark(PostmarkInbound.model_validate(sample), received_at=NOW, domains=("example.com",))
    assert e.event_id == again.event_id

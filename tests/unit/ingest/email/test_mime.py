"""The RFC 5322 → EmailEvent transform: threading ids, addresses, dates, charsets, classification, direction."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import default as DEFAULT_POLICY

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import MAX_EMAIL_TEXT, EmailEvent
from services.ingest.email.headers import (
    InvalidEmail,
    clean_text,
    header_facts,
    html_to_text,
    message_from_header_pairs,
    normalize_address,
)
from services.ingest.email.mime import Envelope, event_from_mime, parse_message

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DOMAINS = ("example.com",)


def mime(headers: dict[str, str] | list[tuple[str, str]], body: str = "Hello") -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    head = "".join(f"{name}: {value}\r\n" for name, value in items)
    return (head + "\r\n" + body + "\r\n").encode()


def event(raw: bytes, envelope: Envelope | None = None, domains: tuple[str, ...] = DOMAINS) -> EmailEvent:
    return event_from_mime("smtp", raw, envelope or Envelope(), received_at=NOW, domains=domains)


BASE = {
    "From": '"Ann Client" <Ann@Client.org>',
    "To": "Sales <sales@example.com>",
    "Subject": "Quote",
    "Date": "Thu, 26 Nov 2026 13:00:00 +0100",
    "Message-ID": "<q1@client.org>",
}


def test_a_plain_inbound_message() -> None:
    e = event(mime(BASE), Envelope("ann@client.org", ("sales@example.com",)))
    assert e.direction == "inbound"
    assert e.counterpart == "ann@client.org"
    assert e.our_address == "sales@example.com"
    assert e.sender is not None and e.sender.name == "Ann Client"
    assert e.message_id == "<q1@client.org>"
    assert e.sent_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert e.text == "Hello"
    assert (e.envelope_from, e.envelope_to) == ("ann@client.org", ("sales@example.com",))
    assert not (e.is_bounce or e.is_auto_reply or e.list_unsubscribe)


def test_threading_headers() -> None:
    raw = mime(
        {
            **BASE,
            "In-Reply-To": "<a1@example.com>",
            "References": "<root@example.com>\r\n <a1@example.com>  <a1@example.com>",
        }
    )
    e = event(raw)
    assert e.in_reply_to == "<a1@example.com>"
    assert e.references == ("<root@example.com>", "<a1@example.com>")


def test_long_reference_chains_keep_the_root_and_the_latest() -> None:
    refs = " ".join(f"<r{i}@x.org>" for i in range(200))
    e = event(mime({**BASE, "References": refs}))
    assert len(e.references) == 50
    assert e.references[0] == "<r0@x.org>"
    assert e.references[-1] == "<r199@x.org>"


@pytest.mark.parametrize(
    ("sender", "to", "cc", "direction", "counterpart", "ours"),
    [
        ("ann@client.org", "sales@example.com", "", "inbound", "ann@client.org", "sales@example.com"),
        ("bob@example.com", "Ann@Client.org", "", "outbound", "ann@client.org", "bob@example.com"),
        ("bob@eu.example.com", "x@example.com", "ann@client.org", "outbound", "ann@client.org", "bob@eu.example.com"),
        ("bob@example.com", "x@example.com", "", "internal", None, "bob@example.com"),
        ("bob@notexample.com", "x@example.com", "", "inbound", "bob@notexample.com", "x@example.com"),
    ],
)
def test_direction_and_counterpart_from_our_domains(
    sender: str, to: str, cc: str, direction: str, counterpart: str | None, ours: str
) -> None:
    headers = {**BASE, "From": sender, "To": to}
    if cc:
        headers["Cc"] = cc
    e = event(mime(headers))
    assert (e.direction, e.counterpart, e.our_address) == (direction, counterpart, ours)
    assert e.kafka_key() == (counterpart if counterpart else f"email:smtp:{e.message_id}")


def test_without_mail_domains_direction_is_unknown() -> None:
    e = event(mime(BASE), domains=())
    assert (e.direction, e.counterpart) == ("unknown", None)


@pytest.mark.parametrize(
    ("extra", "bounce", "auto"),
    [
        ({"Auto-Submitted": "auto-replied"}, False, True),
        ({"Auto-Submitted": "auto-generated"}, False, True),
        ({"Auto-Submitted": "No"}, False, False),
        ({"X-Autoreply": "yes"}, False, True),
        ({"X-Autorespond": "Out of office"}, False, True),
        ({"Precedence": "auto_reply"}, False, True),
        ({"Subject": "Automatic reply: Quote"}, False, True),
        ({"Subject": "Out of Office: back Monday"}, False, True),
        ({"Subject": "Abwesenheitsnotiz: Quote"}, False, True),
        ({"Subject": "Автоответ: Quote"}, False, True),
        ({"Subject": "Re: the auto reply you sent"}, False, False),
        ({"From": "MAILER-DAEMON@mx.client.org", "Subject": "Undelivered Mail"}, True, False),
        ({"From": "postmaster@client.org"}, True, False),
        ({"X-Failed-Recipients": "gone@client.org"}, True, False),
        ({"Auto-Submitted": "auto-replied", "From": "mailer-daemon@client.org"}, True, False),
        ({"Precedence": "bulk"}, False, False),
    ],
)
def test_auto_reply_and_bounce_matrix(extra: dict[str, str], bounce: bool, auto: bool) -> None:
    e = event(mime({**BASE, **extra}))
    assert (e.is_bounce, e.is_auto_reply) == (bounce, auto)


def test_bulk_headers_are_kept() -> None:
    e = event(mime({**BASE, "Precedence": "Bulk", "List-Unsubscribe": "<mailto:u@client.org>"}))
    assert e.precedence == "bulk"
    assert e.list_unsubscribe is True


def _bounce_report() -> bytes:
    """A Postfix-style RFC 3464 report, built by hand: the stdlib has no builder for message/delivery-status."""
    status = b"Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; Gone@Client.org\r\nAction: failed\r\n"
    original = EmailMessage()
    original["From"] = "bob@example.com"
    original["To"] = "gone@client.org"
    original["Subject"] = "Quote"
    original.set_content("the original text must not become this event's text")
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        b"To: bob@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce1@mx.example.com>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=REPORT\r\n\r\n"
        b"--REPORT\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--REPORT\r\nContent-Type: message/delivery-status\r\n\r\n" + status + b"\r\n"
        b"--REPORT\r\nContent-Type: message/rfc822\r\n\r\n" + original.as_bytes(policy=SMTP_POLICY) + b"\r\n"
        b"--REPORT--\r\n"
    )


def test_a_delivery_status_report_is_a_bounce_about_the_failed_recipient() -> None:
    e = event(_bounce_report())
    assert e.is_bounce is True
    assert e.is_auto_reply is False
    assert e.direction == "inbound"
    assert e.counterpart == "gone@client.org"
    assert e.our_address == "bob@example.com"
    assert e.text == "Your message could not be delivered."
    assert [a.content_type for a in e.attachments] == ["message/rfc822"]


def test_date_is_converted_to_utc_and_minus_zero_means_utc() -> None:
    assert event(mime({**BASE, "Date": "Thu, 26 Nov 2026 07:00:00 -0500"})).sent_at == NOW
    assert event(mime({**BASE, "Date": "Thu, 26 Nov 2026 12:00:00 -0000"})).sent_at == NOW


@pytest.mark.parametrize("value", ["", "yesterday", "Thu, 32 Nov 2026 12:00:00 +0000", "Mon, 1 Jan 99999 1:0:0 +0000"])
def test_missing_or_odd_dates_leave_sent_at_empty(value: str) -> None:
    headers = {k: v for k, v in BASE.items() if k != "Date"}
    if value:
        headers["Date"] = value
    assert event(mime(headers)).sent_at is None


def test_encoded_words_and_raw_utf8_headers_are_read() -> None:
    raw = mime({**BASE, "Subject": "=?utf-8?b?0J/RgNC40LLQtdGC?= =?iso-8859-1?q?_J=F6rg?="}).replace(
        b'"Ann Client"', "Вася".encode()
    )
    e = event(raw)
    assert e.subject == "Привет Jörg"
    assert e.sender is not None and e.sender.name == "Вася"


def test_text_body_is_bounded_with_a_flag() -> None:
    e = event(mime(BASE, "x" * (MAX_EMAIL_TEXT + 10)))
    assert e.text is not None and len(e.text) == MAX_EMAIL_TEXT
    assert e.text_truncated is True


def test_wrong_or_unknown_charsets_do_not_lose_the_body() -> None:
    raw = mime({**BASE, "Content-Type": "text/plain; charset=x-no-such-charset"}, "Gr\u00fc\u00dfe")
    assert event(raw).text == "Grüße"
    lying = mime({**BASE, "Content-Type": "text/plain; charset=us-ascii"}, "caf\u00e9")
    assert event(lying).text is not None


def test_html_only_mail_becomes_text() -> None:
    html = "<html><head><style>p{}</style></head><body><p>Hi&nbsp;Ann</p><script>x()</script><div>Bye</div></body>"
    e = event(mime({**BASE, "Content-Type": "text/html; charset=utf-8"}, html))
    assert e.text == "Hi Ann\nBye"  # &nbsp; is blank space like any other
    assert html_to_text("<p>a<br>b</p>") == "a\nb"


def test_attachments_are_metadata_only() -> None:
    msg = EmailMessage()
    for name, value in BASE.items():
        msg[name] = value
    msg.set_content("See attached")
    payload = b"%PDF-1.4 quote"
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="Quote é.pdf")
    msg.add_attachment(b"\x89PNG", maintype="image", subtype="png")
    e = event(msg.as_bytes())
    assert e.text == "See attached"
    first, second = e.attachments
    assert (first.filename, first.content_type, first.size) == ("Quote é.pdf", "application/pdf", len(payload))
    assert first.sha256 is not None and len(first.sha256) == 64
    assert (second.filename, second.content_type) == (None, "image/png")
    assert base64.b64encode(payload).decode() not in e.model_dump_json()


def test_the_same_message_gets_the_same_id_and_another_one_does_not() -> None:
    raw = mime(BASE)
    assert event(raw).event_id == event(raw, Envelope("x@y.org", ("sales@example.com",))).event_id
    assert event(raw).event_id != event(mime({**BASE, "Message-ID": "<q2@client.org>"})).event_id
    assert event(raw).event_id != event(mime({**BASE, "From": "mallory@evil.org"})).event_id
    no_id = mime({k: v for k, v in BASE.items() if k != "Message-ID"})
    assert event(no_id).event_id == event(no_id).event_id
    assert event(no_id).event_id != event(no_id + b"changed").event_id
    assert event(raw).event_id.startswith("smtp:")


def test_empty_data_is_invalid() -> None:
    with pytest.raises(InvalidEmail):
        event(b"\r\n")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann@Client.ORG", "ann@client.org"),
        ("<ann@client.org>", "ann@client.org"),
        ("ann", None),
        ("ann@", None),
        ("@client.org", None),
        ("ann@nodot", None),
        ("a b@client.org", None),
        ("x" * 320 + "@client.org", None),
        ("", None),
    ],
)
def test_normalize_address(raw: str, expected: str | None) -> None:
    assert normalize_address(raw) == expected


def test_header_pairs_cannot_smuggle_headers() -> None:
    msg = message_from_header_pairs([("Subject", "hi\r\nBcc: victim@x.org"), ("Bad Name:", "v"), ("From", "a@b.org")])
    assert msg.get_all("Bcc") is None
    assert str(msg["Subject"]) == "hi Bcc: victim@x.org"
    assert header_facts(msg).sender is not None


def test_clean_text_reads_raw_utf8_and_drops_nuls() -> None:
    assert clean_text("Gr\udcc3\udcbc\x00n") == "Grün"


header_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
# A display name is a name: control characters refuse the message (test_control_characters_in_a_name_...).
name_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="".join(map(chr, range(32))) + "\x7f"), max_size=80
)


@given(subject=header_text, name=name_text)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_any_subject_and_display_name_survive_a_round_trip(subject: str, name: str) -> None:
    """Headers written by the stdlib (encoded words, folding at 78 columns) read back as written."""
    msg = EmailMessage()
    msg["From"] = Address(display_name=name.replace("\r", " ").replace("\n", " "), addr_spec="ann@client.org")
    msg["To"] = "sales@example.com"
    msg["Subject"] = " ".join(subject.split())
    msg["Message-ID"] = "<p@client.org>"
    msg.set_content("x")
    raw = msg.as_bytes(policy=SMTP_POLICY)
    e = event(raw)
    written = " ".join(clean_text(" ".join(subject.split())).split())[:1000]
    # Every character survives. Whitespace is compared with the reference reader instead of what was written:
    # CPython's writer can fold at a space between two encoded words and so lose it (RFC 2047 ignores whitespace
    # between encoded words), e.g. '...\U00010000 \x80' comes back as '...\U00010000\x80' from any reader.
    assert "".join(e.subject.split()) == "".join(written.split())
    reference = str(message_from_bytes(raw, policy=DEFAULT_POLICY)["Subject"])
    assert e.subject == " ".join(clean_text(" ".join(reference.split())).split())[:1000]
    assert e.counterpart == "ann@client.org"


@given(st.binary(max_size=2000))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_become_an_event_or_a_named_error(raw: bytes) -> None:
    try:
        e = event(raw, Envelope("a@b.org", ("sales@example.com",)))
    except InvalidEmail:
        return
    EmailEvent.model_validate_json(e.model_dump_json(by_alias=True))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["From", "To", "Cc", "Date", "Subject", "Message-ID", "References", "Reply-To"]),
            st.text(max_size=60),
        ),
        max_size=10,
    )
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_header_values_never_break_parsing(headers: list[tuple[str, str]]) -> None:
    """Either an event, or InvalidEmail naming a header we sent that carries a control character."""
    raw = "".join(f"{n}: {' '.join(v.split())}\r\n" for n, v in headers).encode("utf-8", "surrogatepass")
    try:
        e = event(raw + b"\r\nbody\r\n")
    except InvalidEmail as exc:
        refused = exc.header
    else:
        EmailEvent.model_validate_json(e.model_dump_json(by_alias=True))
        assert header_facts(parse_message(raw + b"\r\n")) is not None
        return
    assert refused in {n for n, v in headers if re.search(r"[\x01-\x1f\x7f]", v)}

"""The headers of mail in the wild, read defensively (a malformed header costs that header, never the message):
addresses, message ids, dates and the other facts an `EmailEvent` needs; the text clean-up bodies share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import errors as email_errors
from email import message_from_string, policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from typing import Any

from schemas.events import MAX_EMAIL_TEXT, EmailAddress

MAX_REFERENCES = 50
MAX_RECIPIENTS = 100
# What one header may cost (docs/email.md, limits): the stdlib's header parser slices its input per token, so
# its cost grows with the square of a header's length. A header is handed to it whole only up to this size;
# a longer address list is cut into its items (at most MAX_ADDRESS_ITEMS, each at most MAX_ITEM_CHARS) in one
# pass, and References is read by a regular expression, never by the stdlib.
MAX_HEADER_CHARS = 16_384
MAX_ADDRESS_ITEMS = 2 * MAX_RECIPIENTS
MAX_ITEM_CHARS = 2_048
_MAX_ID = 998
_MAX_ADDRESS = 320

# Whatever a malformed header can make the stdlib raise while it is parsed lazily on access.
HEADER_ERRORS = (ValueError, TypeError, IndexError, AttributeError, LookupError, email_errors.MessageError)
_MSG_ID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# One address-list item: quoted strings, comments and <...> may hold commas. Each alternative starts with its own
# character, so matching never backtracks: linear in the header's length.
_ADDRESS_ITEM = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|\([^)]*\)?|<[^>]*>?|[^,"(<])+')


class InvalidEmail(ValueError):
    """The message cannot become an event at all (e.g. not a message, a control character in a message id or an
    address); permanent, the sender must not retry. `header` names the offending header, if one is to blame."""

    def __init__(self, message: str, header: str | None = None) -> None:
        super().__init__(message)
        self.header = header


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    sender: EmailAddress | None = None
    to: tuple[EmailAddress, ...] = ()
    cc: tuple[EmailAddress, ...] = ()
    reply_to: EmailAddress | None = None
    sent_at: datetime | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    list_unsubscribe: bool = False
    x_autoreply: bool = False
    delivery_report: bool = False
    failed_recipients: tuple[str, ...] = ()


# --- text helpers -----------------------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Raw 8-bit header bytes come back from `email` as surrogate escapes: read them as UTF-8 (what SMTPUTF8
    senders use), replace what is not, and drop NULs (PostgreSQL text cannot hold them)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def one_line(value: str) -> str:
    return " ".join(clean_text(value).split())


def bounded_text(text: str, limit: int = MAX_EMAIL_TEXT) -> tuple[str, bool]:
    """Line ends as \\n, trailing blank space dropped, at most `limit` characters (and whether it was cut)."""
    text = clean_text(text).replace("\r\n", "\n").replace("\r", "\n").rstrip()
    return (text, False) if len(text) <= limit else (text[:limit], True)


class _TextFromHtml(HTMLParser):
    _SKIP = frozenset({"script", "style", "head"})
    _BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A readable text of an HTML-only message: tags dropped, scripts and styles skipped, lines trimmed."""
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


# --- addresses and domains --------------------------------------------------------------------------------------


def normalize_address(addr_spec: str | None) -> str | None:
    """A lower-cased addr-spec, or None when it is not one (no @, empty parts, spaces, too long)."""
    if not addr_spec:
        return None
    address = clean_text(addr_spec).strip().strip("<>").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or ("." not in domain.strip(".") and domain != "localhost"):
        return None
    if any(ch.isspace() for ch in address) or len(address) > _MAX_ADDRESS:
        return None
    return address


def _address(display_name: str | None, addr_spec: str | None, header: str) -> EmailAddress | None:
    """None for what is not an address; a control character in an address or its name refuses the message."""
    address = normalize_address(addr_spec)
    if address is None:
        return None
    name = one_line(display_name or "")[:200] or None
    if _CONTROL.search(address) or (name and _CONTROL.search(name)):
        raise InvalidEmail(f"{header} contains a control character", header)
    return EmailAddress(address=address, name=name)


def split_address_list(raw: str, max_items: int = MAX_ADDRESS_ITEMS) -> list[str]:
    """The items of an address list, split at the commas outside quotes, comments and angle brackets, in one
    pass; at most `max_items`, each cut to MAX_ITEM_CHARS."""
    items: list[str] = []
    for match in _ADDRESS_ITEM.finditer(raw):
        if match.group().strip():
            items.append(match.group()[:MAX_ITEM_CHARS])
            if len(items) >= max_items:
                break
    return items


def _address_headers(msg: Message, name: str) -> Iterator[Any]:
    """Parsed headers of one address field, lazily; a long one is parsed item by item (linear, capped)."""
    for raw in _raw_values(msg, name):
        parts = [raw] if len(raw) <= MAX_HEADER_CHARS else split_address_list(raw)
        yield from (header for part in parts if (header := _parse(name, part)) is not None)


def _addresses(msg: Message, name: str) -> tuple[EmailAddress, ...]:
    found: dict[str, EmailAddress] = {}
    for header in _address_headers(msg, name):
        try:
            items = header.addresses
        except HEADER_ERRORS:
            continue
        for item in items:
            try:
                display_name, addr_spec = item.display_name, item.addr_spec
            except HEADER_ERRORS:
                continue
            parsed = _address(display_name, addr_spec, name)
            if parsed is not None:
                found.setdefault(parsed.address, parsed)
                if len(found) >= MAX_RECIPIENTS:
                    return tuple(found.values())
    return tuple(found.values())


# --- header access ----------------------------------------------------------------------------------------------


def _raw_values(msg: Message, name: str) -> list[str]:
    """The unparsed values of every `name` header, in order."""
    wanted = name.lower()
    try:
        return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]
    except HEADER_ERRORS:
        return []


def _parse(name: str, raw: str) -> Any:
    try:
        return policy.default.header_fetch_parse(name, raw[:MAX_HEADER_CHARS])
    except HEADER_ERRORS:
        return None


def _all(msg: Message, name: str) -> list[Any]:
    """Every `name` header parsed as the stdlib does, each read only up to MAX_HEADER_CHARS."""
    return [header for raw in _raw_values(msg, name) if (header := _parse(name, raw)) is not None]


def first_header(msg: Message, name: str) -> str | None:
    for value in _all(msg, name):
        try:
            text = one_line(str(value))
        except HEADER_ERRORS:
            continue
        if text:
            return text
    return None


def _msg_ids(value: str | None) -> list[str]:
    """Message ids in angle brackets; a bare id (some senders omit the brackets) is kept as given."""
    if not value:
        return []
    found = _MSG_ID.findall(value)
    if found:
        return [m for m in found if len(m) <= _MAX_ID]
    bare = value.strip()
    return [bare] if bare and len(bare) <= _MAX_ID and " " not in bare else []


def _sent_at(msg: Message) -> datetime | None:
    for header in _all(msg, "Date"):
        try:
            value = header.datetime
        except HEADER_ERRORS:
            continue
        if not isinstance(value, datetime):
            continue
        if value.tzinfo is None:  # "-0000": the time is UTC, the sender's zone unknown (RFC 5322 §3.3)
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            continue
    return None


def _references(msg: Message) -> tuple[str, ...]:
    """Linear in the header's length: one regular-expression pass, a dict for duplicates."""
    found: dict[str, None] = {}
    for raw in _raw_values(msg, "References"):
        found.update(dict.fromkeys(_msg_ids(one_line(raw))))
    ids = list(found)
    if len(ids) > MAX_REFERENCES:  # the root and the most recent ones are what threading uses
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return tuple(ids)


def _delivery_report(msg: Message) -> bool:
    try:
        if msg.get_content_type() != "multipart/report":
            return False
        return str(msg.get_param("report-type", "") or "").lower() == "delivery-status"
    except HEADER_ERRORS:
        return False


def header_facts(msg: Message) -> HeaderFacts:
    from_ = _addresses(msg, "From")
    reply_to = _addresses(msg, "Reply-To")
    ids = _msg_ids(first_header(msg, "Message-ID"))
    in_reply_to = _msg_ids(first_header(msg, "In-Reply-To"))
    auto_submitted = first_header(msg, "Auto-Submitted")
    precedence = first_header(msg, "Precedence")
    failed = tuple(
        address
        for raw in (first_header(msg, "X-Failed-Recipients") or "").split(",")
        if (address := normalize_address(raw)) is not None
    )
    return HeaderFacts(
        message_id=ids[0] if ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_references(msg),
        subject=(first_header(msg, "Subject") or "")[:1000],
        sender=from_[0] if from_ else None,
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        reply_to=reply_to[0] if reply_to else None,
        sent_at=_sent_at(msg),
        auto_submitted=auto_submitted.lower()[:100] if auto_submitted else None,
        precedence=precedence.lower()[:50] if precedence else None,
        list_unsubscribe=first_header(msg, "List-Unsubscribe") is not None,
        x_autoreply=any(first_header(msg, name) is not None for name in ("X-Autoreply", "X-Autorespond")),
        delivery_report=_delivery_report(msg),
        failed_recipients=failed,
    )


def message_from_header_pairs(pairs: Iterable[tuple[str, str]]) -> EmailMessage:
    """A header-only message from the (name, value) pairs a provider posts (Mailgun `message-headers`, Postmark
    `Headers`), so that providers' mail is read by the same code as SMTP mail. Line breaks inside values are
    unfolded first, so a value cannot smuggle in a header of its own."""
    lines = []
    for name, value in pairs:
        clean_name = "".join(ch for ch in name if 33 <= ord(ch) <= 126 and ch != ":")
        if clean_name:
            lines.append(f"{clean_name}: {' '.join(value.split())}")
    msg = message_from_string("\r\n".join(lines) + "\r\n\r\n", policy=policy.default)
    assert isinstance(msg, EmailMessage)  # policy.default builds EmailMessage
    return msg

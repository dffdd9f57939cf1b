"""One event per call or email, formatted and signed as each provider sends it, and poison for every route.

Each planned event is one request whose content the checker knows in advance: a call's single final notification
(so one request makes one interaction), or one inbound email. Signing reuses the integration tests' helpers and the
simulator's senders; every sender retries as a provider does (503 + Retry-After, SMTP 4xx)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiohttp

from bench.faults.checker import Answer, Content
from bench.simulator.model import CallStep, SimEmail
from bench.simulator.senders import Delivery, GenericCallSender, SmtpEmailSender
from services.ingest.email.mailgun import sign_mailgun
from tests.fixtures.freeswitch_cdr import as_json, cdr
from tests.integration.call_sources import (
    FS_PASSWORD,
    FS_USER,
    MANGO_KEY,
    MANGO_SALT,
    OWN_NUMBERS,
    PUBLIC_BASE_URL,
    TWILIO_TOKEN,
    ZADARMA_SECRET,
    basic_auth,
    mango_form,
    twilio_request,
    zadarma_request,
)

GENERIC_SECRET = "faults-generic-secret"  # noqa: S105 - a loopback test system's own secret
MAILGUN_KEY = "faults-mailgun-signing-key"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "faults-postmark-password"
MAIL_DOMAIN = "example.com"
CALL_SOURCES = ("generic", "twilio", "mango", "zadarma", "freeswitch")
EMAIL_SOURCES = ("smtp", "mailgun", "postmark")
SOURCES = CALL_SOURCES + EMAIL_SOURCES
POISONS = ("control", "oversize", "malformed")
MAX_BODY_BYTES = 65_536


def ingest_env() -> dict[str, str]:
    """The ingest settings every planned request is signed for."""
    return {
        "TOUCHPOINT_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "TOUCHPOINT_OWN_NUMBERS": ",".join(OWN_NUMBERS),
        "TOUCHPOINT_MAIL_DOMAINS": MAIL_DOMAIN,
        "TOUCHPOINT_DEFAULT_REGION": "US",
        "TOUCHPOINT_TIMEZONE": "UTC",
        "TOUCHPOINT_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "TOUCHPOINT_EMAIL_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "TOUCHPOINT_GENERIC_SECRET": GENERIC_SECRET,
        "TOUCHPOINT_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TOUCHPOINT_MANGO_API_KEY": MANGO_KEY,
        "TOUCHPOINT_MANGO_API_SALT": MANGO_SALT,
        "TOUCHPOINT_ZADARMA_API_SECRET": ZADARMA_SECRET,
        "TOUCHPOINT_FREESWITCH_USER": FS_USER,
        "TOUCHPOINT_FREESWITCH_PASSWORD": FS_PASSWORD,
        "TOUCHPOINT_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
        "TOUCHPOINT_POSTMARK_USER": POSTMARK_USER,
        "TOUCHPOINT_POSTMARK_PASSWORD": POSTMARK_PASSWORD,
    }


@dataclass(frozen=True, slots=True)
class Retry:
    """A provider's patience: attempts, and the longest wait between two (Retry-After is honoured up to it)."""

    attempts: int = 40
    max_wait_s: float = 3.0
    timeout_s: float = 15.0


@dataclass(frozen=True, slots=True)
class Planned:
    source: str
    external_id: str
    content: Content | None  # None: poison, which ingest must refuse
    fault: str
    send: Callable[[Senders], Awaitable[Delivery]]


def answer_of(delivery: Delivery) -> Answer:
    if delivery.ok:
        return Answer.ACKED
    if delivery.code in (0, 503, 421, 451, 452):  # no answer, or "try later" (HTTP 503, SMTP 4xx)
        return Answer.UNACKED
    return Answer.REFUSED


def _problem_type(text: str) -> str:
    """The last segment of a problem body's `type`, or "?" when the body is not one."""
    try:
        kind = json.loads(text).get("type", "?")
    except (ValueError, AttributeError):
        return "?"
    return str(kind).rstrip("/").rsplit("/", 1)[-1]


class Senders:
    """The HTTP session and the simulator's senders, shared by every planned request of a run."""

    def __init__(self, base_url: str, smtp_port: int, retry: Retry) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.generic = GenericCallSender(
            self.base_url, GENERIC_SECRET, max_attempts=retry.attempts, timeout_s=retry.timeout_s
        )
        self.smtp = SmtpEmailSender("127.0.0.1", smtp_port, max_attempts=retry.attempts, timeout_s=retry.timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.retried_http: Counter[str] = Counter()  # "503 <problem type>" or "no answer", per retried attempt

    @property
    def retried_503(self) -> int:
        return sum(n for answer, n in self.retried_http.items() if answer.startswith("503"))

    def retried(self) -> Counter[str]:
        """Every retried attempt by its answer: HTTP 503 by problem type (overloaded: a load limit; kafka-unavailable:
        the broker did not acknowledge), SMTP 421/451 by code, and attempts that got no answer at all."""
        smtp = {f"SMTP {code}" if code != "0" else "SMTP no answer": n for code, n in self.smtp.retried.items()}
        return self.retried_http + Counter(smtp)

    async def post(self, path: str, build: Callable[[], tuple[bytes, dict[str, str]]]) -> Delivery:
        """POSTs until a final answer: 503 (and no answer) are retried, after Retry-After when given."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.retry.timeout_s))
        last = Delivery(False, 0, "not sent", 0)
        for attempt in range(1, self.retry.attempts + 1):
            body, headers = build()  # signed per attempt where the provider signs a timestamp
            wait = min(0.25 * 2 ** (attempt - 1), self.retry.max_wait_s)
            try:
                async with self._session.post(self.base_url + path, data=body, headers=headers) as response:
                    text = await response.text()
                    if response.status < 300:
                        return Delivery(True, response.status, "", attempt)
                    last = Delivery(False, response.status, text[:300], attempt)
                    if response.status != 503:
                        return last
                    why = f"503 {_problem_type(text)}"
                    with contextlib.suppress(ValueError):
                        wait = min(float(response.headers.get("Retry-After", wait)), self.retry.max_wait_s)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = Delivery(False, 0, repr(exc), attempt)
                why = "no answer"
            if attempt < self.retry.attempts:
                self.retried_http[why] += 1
                await asyncio.sleep(wait)
        return last

    async def close(self) -> None:
        await self.generic.close()
        await self.smtp.close()
        if self._session is not None:
            await self._session.close()


def number(run: int, index: int) -> str:
    """A valid Russian mobile number of its own per event (+7 916 ...): counterparts never collide."""
    return f"+7916{(run * 1_000_003 + index) % 10_000_000:07d}"


_CALL_STATUS = ("missed", "busy", "answered")


def plan_event(run_id: str, run: int, index: int, source: str) -> Planned:
    """Event `index` of the run through `source`, with the content it must be stored with."""
    external = f"{run_id}-{index}"
    caller = number(run, index)
    status = _CALL_STATUS[index % len(_CALL_STATUS)]
    builder = _BUILDERS[source]
    return builder(external, caller, status, "")


def plan_poison(run_id: str, index: int, source: str, poison: str) -> Planned:
    """A request ingest must refuse: `control` (a control character in an id), `oversize`, `malformed`."""
    external = f"{run_id}-p{index}"
    planned = _BUILDERS[source](external, number(7, index), "missed", poison)
    return Planned(planned.source, planned.external_id, None, f"poison:{poison}", planned.send)


def _spoil(body: bytes, poison: str) -> bytes:
    if poison == "oversize":
        return body + b" " * (MAX_BODY_BYTES + 1)
    if poison == "malformed":
        return body[: len(body) // 2]
    return body


def _now_local() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _generic(external: str, caller: str, status: str, poison: str) -> Planned:
    call_id = external + ("\u0000x" if poison == "control" else "")
    payload: dict[str, Any] = {
        "call_id": call_id,
        "event": "ended",
        "occurred_at": datetime.now(UTC).isoformat(),
        "direction": "inbound",
        "from": caller,
        "to": OWN_NUMBERS[0],
        "status": status,
        **({"talk_s": 30, "agent": "101"} if status == "answered" else {}),
    }
    step = CallStep(at=datetime.now(UTC), call_id=call_id, key=caller, payload=payload)

    async def send(senders: Senders) -> Delivery:
        body = senders.generic.body(step)
        if poison in ("oversize", "malformed"):
            body = _spoil(body, poison)
        return await senders.post("/webhooks/generic", lambda: (body, _generic_headers(body)))  # signed per attempt

    return Planned("generic", external, Content("call", status, "inbound", caller), "", send)


def _generic_headers(body: bytes) -> dict[str, str]:
    from services.ingest.calls.generic import sign_generic

    return {
        "Content-Type": "application/json",
        "X-Touchpoint-Signature": sign_generic(GENERIC_SECRET.encode(), int(time.time()), body),
    }


# A parent leg's "completed" without an answering child leg is a missed call: single-request calls are missed/busy.
_TWILIO_STATUS = {"missed": "no-answer", "busy": "busy", "answered": "no-answer"}


def _twilio(external: str, caller: str, status: str, poison: str) -> Planned:
    call_sid = "CA" + hashlib.md5(external.encode(), usedforsecurity=False).hexdigest()
    params = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": call_sid,
        "CallStatus": _TWILIO_STATUS[status],
        "Direction": "inbound",
        "From": caller + ("\u0000" if poison == "control" else ""),  # kept raw when it is not a number
        "To": OWN_NUMBERS[0],
        "ApiVersion": "2010-04-01",
        "CallDuration": "0",
        "Timestamp": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
    }
    body, headers = twilio_request(params)
    body = _spoil(body, poison)

    async def send(senders: Senders) -> Delivery:
        return await senders.post("/webhooks/twilio", lambda: (body, headers))

    expected = "busy" if status == "busy" else "missed"
    return Planned("twilio", call_sid, Content("call", expected, "inbound", caller), "", send)


def _mango(external: str, caller: str, status: str, poison: str) -> Planned:
    start = int(time.time()) - 120
    answered = status == "answered"
    summary = {
        "entry_id": external + ("\u0000" if poison == "control" else ""),
        "call_direction": 1,
        "from": {"number": caller.lstrip("+")},
        "to": {"extension": "101", "line_number": OWN_NUMBERS[1].lstrip("+")},
        "line_number": OWN_NUMBERS[1].lstrip("+"),
        "create_time": start,
        "forward_time": start + 1,
        "talk_time": start + 5 if answered else 0,
        "end_time": start + 65,
        "entry_result": 1 if answered else 0,
        "disconnect_reason": 1110 if answered else (1190 if status == "busy" else 1120),
    }
    body = _spoil(mango_form(json.dumps(summary)), poison)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    async def send(senders: Senders) -> Delivery:
        return await senders.post("/webhooks/mango/events/summary", lambda: (body, headers))

    expected = "missed" if status == "busy" else status  # a Mango summary has no busy: no talk time is missed
    return Planned("mango", external, Content("call", expected, "inbound", caller), "", send)


_ZADARMA_DISPOSITION = {"missed": "no answer", "busy": "busy", "answered": "answered"}


def _zadarma(external: str, caller: str, status: str, poison: str) -> Planned:
    fields = {
        "event": "NOTIFY_END",
        "call_start": _now_local(),
        "pbx_call_id": external + ("\u0000" if poison == "control" else ""),
        "caller_id": caller,
        "called_did": OWN_NUMBERS[1],
        "internal": "100",
        "duration": "30" if status == "answered" else "0",
        "disposition": _ZADARMA_DISPOSITION[status],
        "status_code": "16" if status == "answered" else "19",
        "is_recorded": "0",
        "call_id_with_rec": "",
    }
    body, headers = zadarma_request(fields)
    body = _spoil(body, poison)

    async def send(senders: Senders) -> Delivery:
        return await senders.post("/webhooks/zadarma", lambda: (body, headers))

    return Planned("zadarma", external, Content("call", status, "inbound", caller), "", send)


_FS_CAUSE = {"missed": "NO_ANSWER", "busy": "USER_BUSY", "answered": "NORMAL_CLEARING"}


def _freeswitch(external: str, caller: str, status: str, poison: str) -> Planned:
    record = cdr(
        str(uuid.uuid5(uuid.NAMESPACE_URL, external)),
        caller=caller + ("\u0000" if poison == "control" else ""),  # %00 in the url-encoded variables
        answered=status == "answered",
        bridged=status == "answered",
        hangup_cause=_FS_CAUSE[status],
        extra={"sip_call_id": external},
    )
    uuid_ = record["variables"]["uuid"]
    body = _spoil(as_json(record), poison)
    headers = {"Content-Type": "application/json", "User-Agent": "freeswitch-json/1.0", **basic_auth()}

    async def send(senders: Senders) -> Delivery:
        return await senders.post(f"/webhooks/freeswitch?uuid={uuid_}", lambda: (body, headers))

    # FreeSWITCH's call id is the A leg's uuid: the checker matches on it.
    return Planned("freeswitch", uuid_, Content("call", status, "inbound", caller), "", send)


def _address(caller: str) -> str:
    return f"client{caller.lstrip('+')}@client.org"


def _message_id(external: str, poison: str) -> str:
    # A control character ingest must refuse in an id. Not NUL: ingest drops NUL from mail headers and text (mail
    # in the wild carries it; docs/email.md), so a NUL there is cleaned, not refused.
    control = "\x01" if poison == "control" else ""
    return f"<{external}{control}@client.org>"


def _smtp(external: str, caller: str, status: str, poison: str) -> Planned:
    sender = _address(caller)
    message = EmailMessage()
    message["From"] = f"Client <{sender}>"
    message["To"] = f"sales@{MAIL_DOMAIN}"
    message["Subject"] = "Price for 40 units?"
    message["Message-ID"] = _message_id(external, poison)
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    body = "Hello, what is the price?\n" + ("x" * (2 << 20) if poison == "oversize" else "")
    message.set_content(body)
    mail = SimEmail(
        message_id=_message_id(external, ""),
        kind="received",
        at=datetime.now(UTC),
        key=sender,
        message=message,
        envelope_from=sender if poison != "malformed" else "not an address",
        envelope_to=(f"sales@{MAIL_DOMAIN}",) if poison != "malformed" else ("nobody@elsewhere.invalid",),
        thread_root=_message_id(external, ""),
        manager_id=None,
        contact_id=None,
    )

    async def send(senders: Senders) -> Delivery:
        return await senders.smtp.send(mail)

    return Planned("smtp", external.lower() + "@client.org", Content("email", "received", "inbound", sender), "", send)


def _mailgun(external: str, caller: str, status: str, poison: str) -> Planned:
    sender = _address(caller)
    message_id = _message_id(external, poison)
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    headers = [
        ["From", f"Client <{sender}>"],
        ["To", f"sales@{MAIL_DOMAIN}"],
        ["Subject", "Price for 40 units?"],
        ["Message-Id", message_id],
        ["Date", datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")],
    ]

    def build() -> tuple[bytes, dict[str, str]]:
        timestamp = str(int(time.time()))
        form = {
            "recipient": f"sales@{MAIL_DOMAIN}",
            "sender": sender,
            "from": f"Client <{sender}>",
            "subject": "Price for 40 units?",
            "body-plain": "Hello, what is the price?\r\n",
            "message-headers": json.dumps(headers),
            "timestamp": timestamp,
            "token": token,
            "signature": sign_mailgun(MAILGUN_KEY.encode(), timestamp, token),
        }
        from urllib.parse import urlencode

        body = urlencode(form).encode()
        if poison == "malformed":
            body = body.replace(b"message-headers=", b"message-headers=%7Bnot+json")
        if poison == "oversize":
            body += b"&body-html=" + b"x" * (MAX_BODY_BYTES + 1)
        return body, {"Content-Type": "application/x-www-form-urlencoded"}

    async def send(senders: Senders) -> Delivery:
        return await senders.post("/webhooks/mailgun", build)

    return Planned(
        "mailgun", external.lower() + "@client.org", Content("email", "received", "inbound", sender), "", send
    )


def _postmark(external: str, caller: str, status: str, poison: str) -> Planned:
    sender = _address(caller)
    document = {
        "From": sender,
        "FromName": "Client",
        "FromFull": {"Email": sender, "Name": "Client", "MailboxHash": ""},
        "To": f"sales@{MAIL_DOMAIN}",
        "ToFull": [{"Email": f"sales@{MAIL_DOMAIN}", "Name": "", "MailboxHash": ""}],
        "OriginalRecipient": f"sales@{MAIL_DOMAIN}",
        "Subject": "Price for 40 units?",
        "MessageID": str(uuid.uuid5(uuid.NAMESPACE_URL, external)),
        "Date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +00:00"),
        "TextBody": "Hello, what is the price?",
        "Headers": [{"Name": "Message-ID", "Value": _message_id(external, poison)}],
        "Attachments": [],
    }
    body = _spoil(json.dumps(document).encode(), poison)
    token = base64.b64encode(f"{POSTMARK_USER}:{POSTMARK_PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    async def send(senders: Senders) -> Delivery:
        return await senders.post("/webhooks/postmark", lambda: (body, headers))

    return Planned(
        "postmark", external.lower() + "@client.org", Content("email", "received", "inbound", sender), "", send
    )


_BUILDERS: dict[str, Callable[[str, str, str, str], Planned]] = {
    "generic": _generic,
    "twilio": _twilio,
    "mango": _mango,
    "zadarma": _zadarma,
    "freeswitch": _freeswitch,
    "smtp": _smtp,
    "mailgun": _mailgun,
    "postmark": _postmark,
}

"""How simulated traffic reaches Touchpoint: one sender per ingest route, behind two small interfaces.

Call senders turn a `CallStep` (the generic feed's JSON) into a provider's request; today the generic signed feed
is the only call route on main, so `GenericCallSender` is the only one. A Twilio/Mango/Zadarma/FreeSWITCH sender
implements `CallSender` the same way (format the step as that provider would, sign it, POST it) and is chosen in
`bench/simulator/__main__.py`. Email senders deliver a `SimEmail`: SMTP to ingest's port 2525 now, Mailgun or
Postmark webhooks later. Every sender retries what a real provider retries (503 + Retry-After, SMTP 451), a bounded
number of times, and reports what it finally got."""

from __future__ import annotations

import asyncio
import contextlib
import json
import smtplib
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from bench.simulator.model import CallStep, SimEmail
from services.ingest.calls.generic import sign_generic


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the last attempt got: an HTTP status or SMTP reply code (0: no answer at all)."""

    ok: bool
    code: int
    detail: str = ""
    attempts: int = 1


class CallSender(Protocol):
    source: str

    async def send(self, step: CallStep) -> Delivery: ...

    async def close(self) -> None: ...


class EmailSender(Protocol):
    source: str

    async def unavailable(self) -> str | None:
        """Why this sender cannot deliver right now (printed once, emails then skipped), or None."""
        ...

    async def send(self, mail: SimEmail) -> Delivery: ...

    async def close(self) -> None: ...


class GenericCallSender:
    """POST /webhooks/generic with `X-Touchpoint-Signature`, signed at send time (signatures expire in 5 min)."""

    source = "generic"

    def __init__(self, base_url: str, secret: str, *, max_attempts: int = 6, timeout_s: float = 15.0) -> None:
        self._url = base_url.rstrip("/") + "/webhooks/generic"
        self._secret = secret.encode()
        self._max_attempts = max_attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def body(self, step: CallStep) -> bytes:
        return json.dumps(step.payload, separators=(",", ":")).encode()

    async def send(self, step: CallStep) -> Delivery:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = self.body(step)
        last = Delivery(False, 0, "not sent", 0)
        for attempt in range(1, self._max_attempts + 1):
            headers = {
                "Content-Type": "application/json",
                "X-Touchpoint-Signature": sign_generic(self._secret, int(time.time()), body),
            }
            wait = min(0.5 * 2 ** (attempt - 1), 5.0)
            try:
                async with self._session.post(self._url, data=body, headers=headers) as response:
                    text = await response.text()
                    if response.status < 300:
                        return Delivery(True, response.status, "", attempt)
                    last = Delivery(False, response.status, text[:300], attempt)
                    if response.status != 503:
                        return last  # a 4xx will not get better by retrying
                    with contextlib.suppress(ValueError):
                        wait = min(float(response.headers.get("Retry-After", wait)), 5.0)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = Delivery(False, 0, repr(exc), attempt)
            if attempt < self._max_attempts:
                await asyncio.sleep(wait)
        return last

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def port_listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class SmtpEmailSender:
    """Delivers each message to ingest's SMTP server with its envelope, as the company's mail relay would.
    Uses the standard library's `smtplib` in a worker thread; one connection per message keeps it simple."""

    source = "smtp"

    def __init__(self, host: str = "127.0.0.1", port: int = 2525, *, max_attempts: int = 4, timeout_s: float = 15.0):
        self._host = host
        self._port = port
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self.retried: Counter[str] = Counter()  # "try later" answers retried, by SMTP code ("0": no answer)

    async def unavailable(self) -> str | None:
        if await asyncio.to_thread(port_listening, self._host, self._port):
            return None
        return (
            f"nothing listens on {self._host}:{self._port} (the SMTP ingest is not running or not built yet): "
            "emails are skipped, calls are still sent"
        )

    def _send_once(self, mail: SimEmail) -> Delivery:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as smtp:
                refused = smtp.send_message(mail.message, from_addr=mail.envelope_from, to_addrs=list(mail.envelope_to))
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = next(iter(exc.recipients.values()))
            return Delivery(False, code, message.decode(errors="replace"))
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            return Delivery(False, exc.smtp_code, error.decode(errors="replace") if isinstance(error, bytes) else error)
        except (smtplib.SMTPException, OSError) as exc:
            return Delivery(False, 0, repr(exc))
        if refused:
            code, message = next(iter(refused.values()))
            return Delivery(False, code, message.decode(errors="replace"))
        return Delivery(True, 250)

    async def send(self, mail: SimEmail) -> Delivery:
        last = Delivery(False, 0, "not sent", 0)
        for attempt in range(1, self._max_attempts + 1):
            result = await asyncio.to_thread(self._send_once, mail)
            last = Delivery(result.ok, result.code, result.detail, attempt)
            if result.ok or (result.code != 0 and result.code < 400) or result.code >= 500:
                return last  # delivered, or refused for good (5xx): only 4xx and no answer are retried
            if attempt < self._max_attempts:
                self.retried[str(result.code)] += 1
                await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
        return last

    async def close(self) -> None:
        return None

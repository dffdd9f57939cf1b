"""Ingest's SMTP server (aiosmtpd) on the ingest process's event loop, sharing its Kafka producer: 250 only once
Kafka acknowledged, 451 when it did not, so the sending MTA retries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, AnyStr, cast

import structlog
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from services.ingest.deps import Clock
from services.ingest.email.headers import InvalidEmail, normalize_address
from services.ingest.email.mime import Envelope, event_from_mime
from services.ingest.email.parsing_pool import ParsingPool
from services.ingest.limits import LoadLimits
from services.ingest.metrics import IngestMetrics
from services.ingest.publish import EventPublisher
from services.ingest.settings import IngestSettings
from services.runtime.company import is_our_address
from services.runtime.errors import KafkaUnavailable

log = structlog.get_logger(__name__)


def recipient_reply(address: str, domains: Sequence[str], accepted_so_far: int, max_recipients: int) -> str | None:
    """None to accept the recipient, else the SMTP reply refusing it."""
    normalized = normalize_address(address)
    if normalized is None:
        return "553 5.1.3 Recipient address is not valid"
    if not is_our_address(normalized, domains):
        return "550 5.7.1 Relay denied: we accept mail only for our own domains"
    if accepted_so_far >= max_recipients:
        return "452 4.5.3 Too many recipients"
    return None


class MailHandler:
    """aiosmtpd handler hooks, per transaction: RCPT TO outside TOUCHPOINT_MAIL_DOMAINS → 550, past the limit →
    452; DATA over TOUCHPOINT_SMTP_MAX_BYTES → 552 (aiosmtpd itself); then parse → normalize → publish → 250."""

    def __init__(
        self,
        settings: IngestSettings,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        clock: Clock,
        parsing: ParsingPool | None = None,
    ) -> None:
        self._settings = settings
        self._parsing = parsing or ParsingPool(settings.email_parse_threshold_bytes)
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._publishing = 0
        self.drained = asyncio.Event()
        self.drained.set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = recipient_reply(
            address, self._settings.mail_domains, len(envelope.rcpt_tos), self._settings.smtp_max_recipients
        )
        if refusal is not None:
            self._metrics.smtp_messages.labels("rejected_recipient").inc()
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(source="smtp", peer=str(session.peer))
        raw = envelope.original_content or b""
        try:
            event = await self._parsing.run(
                len(raw),
                event_from_mime,
                "smtp",
                raw,
                Envelope(envelope.mail_from or None, tuple(envelope.rcpt_tos)),
                received_at=self._clock(),
                domains=self._settings.mail_domains,
            )
        except InvalidEmail as exc:
            return self._done("invalid", f"554 5.6.0 {exc}")
        structlog.contextvars.bind_contextvars(event_id=event.event_id)
        self._publishing += 1
        self.drained.clear()
        try:
            await self._publisher.publish([event])
        except KafkaUnavailable as exc:
            log.warning("ingest.smtp", result="unavailable", detail=str(exc))
            return self._done("unavailable", "451 4.3.0 Temporarily unable to store the message; try again later")
        finally:
            self._publishing -= 1
            if not self._publishing:
                self.drained.set()
        return self._done("accepted", f"250 2.0.0 OK {event.event_id}")

    async def handle_exception(self, error: Exception) -> str:
        """Anything unexpected in a session: log it and answer 451, so the sender keeps the mail and retries
        instead of bouncing it (aiosmtpd's default would be a permanent 500)."""
        log.error("ingest.smtp", result="error", error=repr(error), exc_info=error)
        self._metrics.smtp_messages.labels("error").inc()
        return "451 4.3.0 Temporary server error; try again later"

    def _done(self, result: str, reply: str) -> str:
        self._metrics.smtp_messages.labels(result).inc()
        log.info("ingest.smtp", result=result, reply=reply[:3])
        structlog.contextvars.clear_contextvars()
        return reply


class _IngestSMTP(SMTP):
    """Counts sessions and the 552s that aiosmtpd answers itself, lets shutdown find open sessions, and ends a
    session older than TOUCHPOINT_SMTP_SESSION_MAX_S: aiosmtpd's own timeout restarts with every command, so a
    sender sending NOOP now and then would otherwise keep its session slot for ever."""

    def __init__(self, server: SmtpServer, handler: MailHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._owner = server
        self._in_data = False
        self._session_end: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            self._owner.sessions.add(self)
            self._owner.metrics.smtp_sessions.inc()
            self._session_end = self.loop.call_later(self._owner.settings.smtp_session_max_s, self._end_session)

    def connection_lost(self, error: Exception | None) -> None:
        self._owner.sessions.discard(self)
        if self._session_end is not None:
            self._session_end.cancel()
        super().connection_lost(error)

    def _end_session(self) -> None:
        # No isinstance check on the transport: uvloop's (every process runs on uvloop) are not asyncio's classes.
        transport = cast(asyncio.WriteTransport | None, self.transport)
        if transport is None or transport.is_closing():
            return
        if self._in_data:  # a message being received or published finishes first; it is bounded by its timeouts
            self._session_end = self.loop.call_later(1.0, self._end_session)
            return
        self._owner.metrics.smtp_messages.labels("session_expired").inc()
        transport.write(b"421 4.4.2 Session too long; reconnect to send more\r\n")
        transport.close()

    async def smtp_DATA(self, arg: str) -> None:
        """The message is held in memory while it is received and parsed: it reserves the size limit in the
        process's byte budget first, or gets 451 (senders retry 4xx)."""
        size = self._owner.settings.smtp_max_bytes
        if not self._owner.limits.try_reserve(size):
            self._owner.metrics.smtp_messages.labels("busy").inc()
            await self.push("451 4.3.1 Too much mail in progress; try again later")
            return
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False
            self._owner.limits.release(size)

    async def push(self, status: AnyStr) -> None:
        code = status[:3] if isinstance(status, str) else status[:3].decode("ascii", "replace")
        if code == "552":
            self._owner.metrics.smtp_messages.labels("too_large").inc()
        await super().push(status)


class _TooManySessions(asyncio.Protocol):
    """Answers a connection past TOUCHPOINT_MAX_SMTP_SESSIONS with 421 and closes it; the sender retries."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        writer = cast(asyncio.WriteTransport, transport)  # uvloop's transports are not asyncio's classes
        writer.write(b"421 4.7.0 Too many connections; try again later\r\n")
        writer.close()


class SmtpServer:
    """Listens on TOUCHPOINT_SMTP_HOST:PORT; `stop()` stops accepting, lets transactions in progress finish
    (their publish is bounded by the send timeout), then closes the remaining sessions with 421, which senders
    retry like any 4xx."""

    def __init__(
        self,
        settings: IngestSettings,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        clock: Clock,
        parsing: ParsingPool | None = None,
        limits: LoadLimits | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.limits = limits or LoadLimits(settings.max_concurrent_requests, settings.max_bytes_in_flight)
        self._handler = MailHandler(settings, publisher, metrics, clock, parsing)
        self._server: asyncio.Server | None = None
        self.sessions: set[_IngestSMTP] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    def _protocol(self) -> asyncio.Protocol:
        if len(self.sessions) >= self.settings.max_smtp_sessions:
            self.metrics.smtp_messages.labels("too_many_sessions").inc()
            return _TooManySessions()
        session = _IngestSMTP(
            self,
            self._handler,
            data_size_limit=self.settings.smtp_max_bytes,
            enable_SMTPUTF8=True,
            hostname=self.settings.smtp_hostname,
            ident="Touchpoint ingest",
            timeout=self.settings.smtp_command_timeout_s,
            loop=asyncio.get_running_loop(),
        )
        self.sessions.add(session)  # counted from here, so a burst of connections cannot pass the limit
        return session

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.settings.smtp_host, self.settings.smtp_port)

    async def stop(self, grace_s: float) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._handler.drained.wait(), grace_s)
        for session in list(self.sessions):
            transport = session.transport
            if transport is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await session.push("421 4.3.2 Service shutting down")
                transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), grace_s)
        self._server = None

"""Playing an office day into Touchpoint: every call step and email, in simulated-time order, through the senders.

`day_seconds` compresses the day (09:00-18:00 played in that many wall seconds; mail that arrived overnight is
sent at once); `None` sends as fast as the bounded concurrency allows. Steps with the same key (one client, or
one internal call) are sent one after the other, as a PBX and a mail relay do, so a missed call and its callback
reach Kafka in order; different keys go out concurrently."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bench.simulator.model import CallStep, OfficeDay, SimEmail
from bench.simulator.senders import CallSender, Delivery, EmailSender


@dataclass
class ReplayReport:
    call_steps: int = 0
    call_steps_ok: int = 0
    emails: int = 0
    emails_ok: int = 0
    emails_skipped: int = 0
    email_skip_reason: str | None = None
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, Delivery]] = field(default_factory=list)  # (call id or Message-ID, last delivery)
    retried: int = 0
    wall_s: float = 0.0
    simulated_now: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        mail = (
            f"{self.emails_ok}/{self.emails} emails"
            if self.email_skip_reason is None
            else f"{self.emails_skipped} emails skipped"
        )
        sim = f"[{self.simulated_now:%H:%M} office time] " if self.simulated_now else ""
        return (
            f"{sim}{self.call_steps_ok}/{self.call_steps} call events, {mail}, "
            f"{len(self.failures)} failed, {self.retried} retried, {self.wall_s:.1f}s"
        )


Progress = Callable[[ReplayReport, int, int], None]  # report, items done, items total


class _Replay:
    def __init__(
        self,
        day: OfficeDay,
        calls: CallSender,
        emails: EmailSender | None,
        concurrency: int,
        progress: Progress | None,
        progress_every_s: float,
    ) -> None:
        self.day = day
        self.calls = calls
        self.emails = emails
        self.report = ReplayReport()
        self.slots = asyncio.Semaphore(concurrency)
        self.progress = progress
        self.progress_every_s = progress_every_s
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        self.last_progress = self.started
        self.zone = ZoneInfo(day.office.timezone)

    async def items(self) -> list[tuple[datetime, str, CallStep | SimEmail]]:
        items: list[tuple[datetime, str, CallStep | SimEmail]] = [(s.at, s.key, s) for s in self.day.steps]
        if self.emails is not None:
            reason = await self.emails.unavailable()
            if reason is None:
                items += [(e.at, e.key, e) for e in self.day.emails]
            else:
                self.report.email_skip_reason = reason
                self.report.emails_skipped = len(self.day.emails)
        items.sort(key=lambda item: item[0])
        self.total = len(items)
        return items

    async def deliver(self, item: CallStep | SimEmail, before: asyncio.Task[None] | None) -> None:
        report = self.report
        try:
            if before is not None:
                await asyncio.wait([before])
            if isinstance(item, CallStep):
                result = await self.calls.send(item)
                report.call_steps += 1
                report.call_steps_ok += result.ok
                ident, what = item.call_id, "call"
            else:
                assert self.emails is not None
                result = await self.emails.send(item)
                report.emails += 1
                report.emails_ok += result.ok
                ident, what = item.message_id, "email"
            report.codes[f"{what} {result.code}"] += 1
            report.retried += result.attempts > 1
            if not result.ok:
                report.failures.append((ident, result))
            self.done += 1
        finally:
            self.slots.release()

    def tick(self, at: datetime) -> None:
        now = time.monotonic()
        if self.progress is not None and now - self.last_progress >= self.progress_every_s:
            self.last_progress = now
            self.report.wall_s = now - self.started
            self.report.simulated_now = at.astimezone(self.zone)
            self.progress(self.report, self.done, self.total)

    async def run(self, day_seconds: float | None) -> ReplayReport:
        day = self.day
        last_of_key: dict[str, asyncio.Task[None]] = {}
        tasks: list[asyncio.Task[None]] = []
        span_s = max((day.end - day.start).total_seconds(), 1.0)
        for at, key, item in await self.items():
            if day_seconds is not None:
                target = self.started + max((at - day.start).total_seconds(), 0.0) / span_s * day_seconds
                while (wait := target - time.monotonic()) > 0:
                    self.tick(at)
                    await asyncio.sleep(min(wait, self.progress_every_s))
            await self.slots.acquire()
            task = asyncio.create_task(self.deliver(item, last_of_key.get(key)))
            last_of_key[key] = task
            tasks.append(task)
            self.tick(at)
        pending = [t for t in tasks if not t.done()]
        while pending:
            _, still = await asyncio.wait(pending, timeout=self.progress_every_s)
            pending = list(still)
            self.tick(day.end)
        for task in tasks:
            task.result()  # surfaces a bug in a sender instead of hiding it
        self.report.wall_s = time.monotonic() - self.started
        self.report.simulated_now = day.end.astimezone(self.zone)
        return self.report


async def replay(
    day: OfficeDay,
    calls: CallSender,
    emails: EmailSender | None = None,
    *,
    day_seconds: float | None = None,
    concurrency: int = 32,
    progress: Progress | None = None,
    progress_every_s: float = 2.0,
) -> ReplayReport:
    """Sends the day; returns what each delivery finally got. Never raises for a refused or failed delivery."""
    return await _Replay(day, calls, emails, concurrency, progress, progress_every_s).run(day_seconds)

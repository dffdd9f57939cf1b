"""One watcher per reporting process tells every open dashboard when the classifier changed something: it LISTENs
on `touchpoint_figures` and, for writers that do not notify, looks at a cheap fingerprint every `live_poll_s`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

import asyncpg
import structlog
from aiohttp import web

log = structlog.get_logger("services.reporting.live")

CHANNEL = "touchpoint_figures"
# Every classifier batch that changes an interaction or a task writes the outbox, and every applied action the
# audit trail: their newest ids (primary-key lookups) move whenever a figure can have changed.
FINGERPRINT = "SELECT (SELECT max(id) FROM outbox), (SELECT max(id) FROM audit_log)"


SHARED_FOR_S = 5.0
"""How long a rendering computed for a version serves streams that ask for the same (a stream opened later gets
figures at most this old; tasks turning overdue change them without a new version)."""


class LiveFigures:
    """A version number that grows with every change seen; streams wait for it to pass the one they showed. What a
    change makes streams compute is computed once per version and reader (`shared`), not once per stream."""

    def __init__(self, pool: asyncpg.Pool, poll_s: float) -> None:
        self._pool = pool
        self._poll_s = poll_s
        self._version = 0
        self._changed = asyncio.Condition()
        self._shared: dict[Hashable, tuple[int, float, asyncio.Future[bytes]]] = {}

    @property
    def version(self) -> int:
        return self._version

    async def wait(self, seen: int, within_s: float) -> int:
        """The version after `seen`, or `seen` again when nothing changed within `within_s` seconds."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self._version > seen), within_s)
            return self._version

    async def shared(self, key: Hashable, version: int, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """What `compute` gives for `key` (what the readers asking have in common) at `version`: started by the first
        stream that asks, awaited by the others; a stream that goes away does not cancel it for the rest."""
        now = time.monotonic()
        found = self._shared.get(key)
        if found is None or found[0] != version or now - found[1] > SHARED_FOR_S:
            # Renderings of older versions serve no one any more: every stream asks for the current one.
            self._shared = {k: v for k, v in self._shared.items() if v[0] >= version and now - v[1] <= SHARED_FOR_S}
            found = (version, now, asyncio.ensure_future(compute()))
            self._shared[key] = found
        return await asyncio.shield(found[2])

    async def _bump(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    def _on_notify(self, *_: Any) -> None:
        asyncio.get_running_loop().create_task(self._bump())

    async def run(self) -> None:
        last: tuple[Any, ...] | None = None
        async with self._pool.acquire() as conn:
            await conn.add_listener(CHANNEL, self._on_notify)
            try:
                while True:
                    try:
                        row = await conn.fetchrow(FINGERPRINT)
                    except (asyncpg.PostgresError, OSError) as exc:
                        log.warning("reporting.live_poll_failed", error=str(exc))
                        await asyncio.sleep(self._poll_s * 5)
                        continue
                    now = tuple(row) if row is not None else None
                    if now != last:
                        last = now
                        await self._bump()
                    await asyncio.sleep(self._poll_s)
            finally:
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    await conn.remove_listener(CHANNEL, self._on_notify)


LIVE = web.AppKey("live", LiveFigures)


def live_lifecycle(pool: asyncpg.Pool, poll_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        live = LiveFigures(pool, poll_s)
        app[LIVE] = live
        task = asyncio.create_task(live.run(), name="reporting-live-figures")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return lifecycle

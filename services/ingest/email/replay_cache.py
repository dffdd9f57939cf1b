"""One-use tokens (Mailgun's `token`): claimed atomically before the event is published, released if publishing
fails, so a captured request cannot be replayed inside its time window, not even concurrently."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class TokenStoreUnavailable(Exception):
    """The shared token store did not answer; the request is to be retried later (503)."""


class TokenClaims(Protocol):
    async def claim(self, source: str, token: str, expires_at: datetime) -> bool:
        """True for the one caller that claims a token first; False for every later (or concurrent) one."""
        ...

    async def release(self, source: str, token: str) -> None:
        """Forgets a claim whose event was not accepted, so the provider's retry is not taken for a replay."""
        ...


class PostgresTokenClaims:
    """The tokens in `ingest_replay_tokens` (migration 0005), shared by every ingest process: the primary key
    makes a claim atomic across processes. Expired tokens are pruned at most once per `prune_every_s`."""

    def __init__(self, pool: asyncpg.Pool, prune_every_s: float = 60.0, timeout_s: float = 2.0) -> None:
        self._pool = pool
        self._prune_every_s = prune_every_s
        self._timeout_s = timeout_s
        self._pruned_at = float("-inf")

    async def claim(self, source: str, token: str, expires_at: datetime) -> bool:
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn:
                claimed = await conn.fetchval(
                    """INSERT INTO ingest_replay_tokens (source, token, expires_at) VALUES ($1, $2, $3)
                       ON CONFLICT (source, token) DO NOTHING RETURNING true""",
                    source,
                    token,
                    expires_at,
                    timeout=self._timeout_s,
                )
                if time.monotonic() - self._pruned_at > self._prune_every_s:
                    self._pruned_at = time.monotonic()
                    pruned = await conn.execute(
                        "DELETE FROM ingest_replay_tokens WHERE expires_at < now()", timeout=self._timeout_s
                    )
                    log.debug("ingest.tokens_pruned", result=pruned)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise TokenStoreUnavailable(f"token store unavailable: {exc!r}") from exc
        return bool(claimed)

    async def release(self, source: str, token: str) -> None:
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn:
                await conn.execute(
                    "DELETE FROM ingest_replay_tokens WHERE source = $1 AND token = $2",
                    source,
                    token,
                    timeout=self._timeout_s,
                )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The claim stays until it expires: the retry is refused as a replay (401) and Mailgun retries again.
            log.warning("ingest.token_not_released", source=source, error=repr(exc))


class TokenReplayCache:
    """Claims in this process's memory only, for tests and a single process without PostgreSQL: a claim is
    atomic here (no await between the check and the insert) but not shared with other processes. Bounded:
    past `max_entries` the oldest are forgotten."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._expires: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    async def claim(self, source: str, token: str, expires_at: datetime) -> bool:
        now = self._clock()
        while self._expires and next(iter(self._expires.values())) <= now:
            self._expires.popitem(last=False)
        if (source, token) in self._expires:
            return False
        self._expires[(source, token)] = expires_at.timestamp()
        while len(self._expires) > self._max_entries:
            self._expires.popitem(last=False)
        return True

    async def release(self, source: str, token: str) -> None:
        self._expires.pop((source, token), None)

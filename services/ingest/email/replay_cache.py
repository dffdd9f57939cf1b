"""One-use tokens (Mailgun's `token`): claimed atomically before the event is published, released if publishing
fails, so a captured request cannot be replayed with other content inside its time window, not even concurrently.
The provider's own retry of the same content is told what became of the first post instead of being refused."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class TokenStoreUnavailable(Exception):
    """The shared token store did not answer; the request is to be retried later (503)."""


class Claim(Enum):
    """What a post finds under its token."""

    NEW = "new"  # the first post (or the take-over of a stale one): publish
    ACCEPTED = "accepted"  # the same content was accepted before: answer as then, publish nothing
    IN_FLIGHT = "in_flight"  # the same content is being published by another post: try again later
    REPLAYED = "replayed"  # other content under a used token: a replay


@dataclass(frozen=True, slots=True)
class Posted:
    """One post's token, what it carries (a digest of its content) and until when its claim is kept."""

    source: str
    token: str
    digest: bytes
    expires_at: datetime


class TokenClaims(Protocol):
    async def claim(self, posted: Posted) -> Claim:
        """NEW for the one caller that claims a token first; for a later (or concurrent) one, what became of it."""
        ...

    async def accept(self, source: str, token: str) -> None:
        """Marks a claim's event as accepted by the broker: a retry of it is then answered 200."""
        ...

    async def release(self, source: str, token: str) -> None:
        """Forgets a claim whose event was not accepted, so the provider's retry is not taken for a replay."""
        ...


def _found(posted: Posted, digest: bytes | None, accepted: bool) -> Claim:
    if digest != posted.digest:
        return Claim.REPLAYED
    return Claim.ACCEPTED if accepted else Claim.IN_FLIGHT


class PostgresTokenClaims:
    """The tokens in `ingest_replay_tokens` (migrations 0005, 0010), shared by every ingest process: the primary key
    makes a claim atomic across processes. Expired tokens are pruned at most once per `prune_every_s`."""

    def __init__(
        self, pool: asyncpg.Pool, prune_every_s: float = 60.0, timeout_s: float = 2.0, stale_after_s: float = 120.0
    ) -> None:
        self._pool = pool
        self._prune_every_s = prune_every_s
        self._timeout_s = timeout_s
        self._stale_after_s = stale_after_s  # longer than any post takes: its process died in between
        self._pruned_at = float("-inf")

    async def claim(self, posted: Posted) -> Claim:
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn:
                row = await conn.fetchrow(
                    """INSERT INTO ingest_replay_tokens AS t (source, token, expires_at, digest)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (source, token) DO UPDATE SET claimed_at = now()
                           WHERE t.digest = excluded.digest AND NOT t.accepted
                             AND t.claimed_at < now() - make_interval(secs => $5)
                       RETURNING true AS claimed""",
                    posted.source,
                    posted.token,
                    posted.expires_at,
                    posted.digest,
                    self._stale_after_s,
                    timeout=self._timeout_s,
                )
                found = None
                if row is None:
                    found = await conn.fetchrow(
                        "SELECT digest, accepted FROM ingest_replay_tokens WHERE source = $1 AND token = $2",
                        posted.source,
                        posted.token,
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
        if row is not None:
            return Claim.NEW
        if found is None:  # released between the two statements: the retry may go on next time
            return Claim.IN_FLIGHT
        return _found(posted, found["digest"], found["accepted"])

    async def accept(self, source: str, token: str) -> None:
        # If this fails, the event is in Kafka anyway: a retry finds the claim in flight (503) until it is stale,
        # then publishes the same event again, which the classifier applies once.
        await self._on_claim(
            "UPDATE ingest_replay_tokens SET accepted = true", source, token, "ingest.token_not_accepted"
        )

    async def release(self, source: str, token: str) -> None:
        # If this fails, a retry of the same content finds the claim in flight (503) until it is stale, then goes on.
        await self._on_claim("DELETE FROM ingest_replay_tokens", source, token, "ingest.token_not_released")

    async def _on_claim(self, statement: str, source: str, token: str, failed: str) -> None:
        """Runs `statement` on one claim; a store that does not answer is logged, not raised (the post's answer
        does not depend on it)."""
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn:
                await conn.execute(
                    f"{statement} WHERE source = $1 AND token = $2", source, token, timeout=self._timeout_s
                )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning(failed, source=source, error=repr(exc))


class TokenReplayCache:
    """Claims in this process's memory only, for tests and a single process without PostgreSQL: a claim is
    atomic here (no await between the check and the insert) but not shared with other processes. Bounded:
    past `max_entries` the oldest are forgotten."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._claims: OrderedDict[tuple[str, str], tuple[float, bytes, bool]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._claims)

    async def claim(self, posted: Posted) -> Claim:
        now = self._clock()
        while self._claims and next(iter(self._claims.values()))[0] <= now:
            self._claims.popitem(last=False)
        key = (posted.source, posted.token)
        if (found := self._claims.get(key)) is not None:
            return _found(posted, found[1], found[2])
        self._claims[key] = (posted.expires_at.timestamp(), posted.digest, False)
        while len(self._claims) > self._max_entries:
            self._claims.popitem(last=False)
        return Claim.NEW

    async def accept(self, source: str, token: str) -> None:
        if (found := self._claims.get((source, token))) is not None:
            self._claims[(source, token)] = (found[0], found[1], True)

    async def release(self, source: str, token: str) -> None:
        self._claims.pop((source, token), None)

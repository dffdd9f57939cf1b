"""The tokens of accepted Mailgun posts, so that a captured request cannot be replayed inside its time window."""

from __future__ import annotations

from collections import OrderedDict


class TokenReplayCache:
    """Tokens of accepted Mailgun requests, each remembered until its timestamp leaves the window (after that
    the timestamp check refuses it anyway). Bounded: past `max_entries` the oldest are forgotten; a replay of a
    forgotten token would only repeat an event id the classifier already applied. One per process, built by the
    composition root; processes behind a load balancer each have their own (docs/email.md)."""

    def __init__(self, max_entries: int = 100_000, ttl_s: float = 600.0) -> None:
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._expires: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    def seen(self, token: str, now: float) -> bool:
        self._evict(now)
        return token in self._expires

    def remember(self, token: str, now: float) -> None:
        self._evict(now)
        self._expires[token] = now + self._ttl_s
        self._expires.move_to_end(token)
        while len(self._expires) > self._max_entries:
            self._expires.popitem(last=False)

    def _evict(self, now: float) -> None:
        while self._expires:
            token, expires = next(iter(self._expires.items()))
            if expires > now:
                return
            del self._expires[token]

"""Per-process load limits shared by the HTTP app and the SMTP server: requests in progress and body bytes held
in memory. Past a limit the sender is told to come back (503 + Retry-After, SMTP 421/451), never queued."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LoadLimits:
    """Counters of one process; every call happens on its event loop, so no lock is needed."""

    max_requests: int = 256
    max_bytes: int = 268_435_456
    requests: int = 0
    bytes: int = 0

    def try_enter(self, nbytes: int) -> bool:
        """Admits one more request holding up to `nbytes` of body, or refuses it without side effects."""
        if self.requests >= self.max_requests or not self.try_reserve(nbytes):
            return False
        self.requests += 1
        return True

    def leave(self, nbytes: int) -> None:
        self.requests -= 1
        self.release(nbytes)

    def try_reserve(self, nbytes: int) -> bool:
        # One body larger than the whole budget is still admitted when nothing else is held: its own size
        # limit (413/552) bounds it.
        if self.bytes and self.bytes + nbytes > self.max_bytes:
            return False
        self.bytes += nbytes
        return True

    def release(self, nbytes: int) -> None:
        self.bytes -= nbytes

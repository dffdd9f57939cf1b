"""Contact and task ids (pure): keyed hashes of what they are made from, deterministic for exactly-once, and
revealing nothing (no phone number or address can be recovered from them) without the secret TOUCHPOINT_ID_KEY."""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ids:
    """Contact and task ids: HMAC-SHA256 with the secret TOUCHPOINT_ID_KEY, so they stay the same for a redelivered
    event (exactly once) but nobody without the key can tell which phone number or address an id was made from
    (a uuid5 in a public namespace could be recomputed for every number). Changing the key changes every new id:
    set it once per installation."""

    key: bytes

    def contact(self, address: str) -> uuid.UUID:
        return _keyed(self.key, f"contact:{address}")

    def task(self, kind: str, origin: uuid.UUID, dedupe_key: str) -> uuid.UUID:
        return _keyed(self.key, f"task:{kind}:{origin}:{dedupe_key}")


UNKEYED_FOR_TESTS = Ids(b"touchpoint tests only: never a production key")
"""What a Policy built without settings uses (unit tests, benchmarks); the classifier always passes its own key."""


@functools.lru_cache(maxsize=1 << 16)  # asked for every address a batch touches, often the same ones
def _keyed(key: bytes, text: str) -> uuid.UUID:
    return uuid.UUID(bytes=hmac.digest(key, text.encode(), hashlib.sha256)[:16], version=4)

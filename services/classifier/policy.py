"""The company's rules the classifier applies (own numbers and domains, business hours, SLAs, spam threshold), one
frozen value built at the composition root and passed to the pure code."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

from services.classifier.key_ids import UNKEYED_FOR_TESTS, Ids
from services.runtime.company import is_our_address

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class InvalidBusinessHours(ValueError):
    """The business-hours setting cannot be read."""


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Open `opens`..`closes` local time on `days` (0 = Monday) in `zone`."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    days: frozenset[int] = frozenset(range(5))
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    @classmethod
    def parse(cls, spec: str, zone: str) -> BusinessHours:
        """`"mon-fri 09:00-18:00"`, `"sat 10:00-14:00"`: a day or a day range, then the opening hours."""
        m = _HOURS.match(spec.lower())
        if m is None or m.group(1) not in _DAYS or (m.group(2) and m.group(2) not in _DAYS):
            raise InvalidBusinessHours(f"business hours must look like 'mon-fri 09:00-18:00', got {spec!r}")
        first = _DAYS.index(m.group(1))
        last = _DAYS.index(m.group(2)) if m.group(2) else first
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        try:
            opens = time(int(m.group(3)), int(m.group(4)))
            closes = time(int(m.group(5)), int(m.group(6)))
        except ValueError as exc:
            raise InvalidBusinessHours(f"bad time in {spec!r}: {exc}") from exc
        if closes <= opens:
            raise InvalidBusinessHours(f"closing time must be after opening time in {spec!r}")
        return cls(ZoneInfo(zone), frozenset(days), opens, closes)


@dataclass(frozen=True, slots=True)
class Policy:
    own_numbers: frozenset[str] = frozenset()
    mail_domains: frozenset[str] = frozenset()
    hours: BusinessHours = field(default_factory=BusinessHours)
    callback_sla_minutes: int = 30
    reply_sla_minutes: int = 240
    fill_data_sla_minutes: int = 60
    spam_threshold: float = 0.7
    short_call_s: int = 10
    ids: Ids = UNKEYED_FOR_TESTS

    def is_own_number(self, e164: str | None) -> bool:
        return e164 is not None and e164 in self.own_numbers

    def is_own_mail(self, address: str | None) -> bool:
        if address is None or "@" not in address:
            return False
        return is_our_address(address, self.mail_domains)

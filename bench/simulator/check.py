"""Comparing what Touchpoint stored with the simulated day's ground truth.

Each simulated call must be exactly one interaction (source, external_id = call id) with the automatic status and
counterpart the simulator says. Results use the categories of an end-to-end loss checker: `lost` (sent, never
stored), `duplicated`, `unexpected` (stored, never sent) and `wrong` (stored with another status or counterpart)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from bench.simulator.model import OfficeDay


@dataclass
class CallCheck:
    expected: int = 0
    stored: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # call id, what was expected, what was stored

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.wrong)

    def line(self) -> str:
        return (
            f"{self.stored}/{self.expected} calls stored as interactions: lost {len(self.lost)}, duplicated "
            f"{len(self.duplicated)}, unexpected {len(self.unexpected)}, wrong status/counterpart {len(self.wrong)}"
        )


async def check_calls(conn: asyncpg.Connection, day: OfficeDay, source: str = "generic") -> CallCheck:
    prefix = f"sim{day.seed}-{day.office.day:%Y%m%d}-"
    rows = await conn.fetch(
        """SELECT external_id, auto_status, counterpart, phase FROM interactions
           WHERE kind = 'call' AND source = $1 AND starts_with(external_id, $2)""",
        source,
        prefix,
    )
    by_call: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_call.setdefault(row["external_id"], []).append(row)
    result = CallCheck(expected=len(day.calls), stored=len(by_call))
    expected_ids = {c.call_id for c in day.calls}
    result.unexpected = sorted(set(by_call) - expected_ids)
    for call in day.calls:
        found = by_call.get(call.call_id)
        if not found:
            result.lost.append(call.call_id)
            continue
        if len(found) > 1:
            result.duplicated.append(call.call_id)
        row = found[0]
        want = (call.status, call.counterpart)
        got = (row["auto_status"], row["counterpart"])
        if want != got:
            result.wrong.append((call.call_id, f"{want}", f"{got}"))
    return result


async def wait_for_calls(
    dsn: str, day: OfficeDay, timeout_s: float = 60.0, source: str = "generic", interval_s: float = 0.5
) -> CallCheck:
    """Polls until the stored calls match the day or `timeout_s` passes; returns the last comparison."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            result = await check_calls(conn, day, source)
            if result.ok or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(interval_s)
    finally:
        await conn.close()

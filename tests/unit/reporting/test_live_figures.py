"""The dashboard's streams share what a change makes them compute: once per reader and version, however many
streams of that reader wait for it."""

from __future__ import annotations

import asyncio
from typing import Any

from services.reporting.live_figures import LiveFigures


def live() -> LiveFigures:
    pool: Any = None  # `shared` never touches the database
    return LiveFigures(pool, poll_s=0.5)


async def test_ten_streams_of_one_reader_compute_a_change_once_and_another_reader_for_itself() -> None:
    figures = live()
    calls: list[str] = []

    def compute(who: str) -> Any:
        async def run() -> bytes:
            calls.append(who)
            await asyncio.sleep(0.01)
            return who.encode()

        return run

    bodies = await asyncio.gather(
        *(figures.shared(("team", "east"), 1, compute("east")) for _ in range(10)),
        figures.shared(("own", "m-ann"), 1, compute("ann")),
    )
    assert bodies == [b"east"] * 10 + [b"ann"]
    assert sorted(calls) == ["ann", "east"]
    await figures.shared(("team", "east"), 2, compute("east"))
    assert calls.count("east") == 2, "a new version is computed again"


async def test_a_stream_that_goes_away_does_not_cancel_the_rendering_the_others_wait_for() -> None:
    figures = live()
    started = asyncio.Event()

    async def slow() -> bytes:
        started.set()
        await asyncio.sleep(0.05)
        return b"figures"

    first = asyncio.create_task(figures.shared("east", 1, slow))
    await started.wait()
    second = asyncio.create_task(figures.shared("east", 1, slow))
    first.cancel()
    assert await second == b"figures"

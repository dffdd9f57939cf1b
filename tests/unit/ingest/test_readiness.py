"""/readyz under a burst: one dependency check in flight, whatever the number of concurrent probes."""

from __future__ import annotations

import asyncio

from services.runtime.health import CachedReadiness


async def test_concurrent_probes_share_one_check_and_its_result_is_cached() -> None:
    calls = 0
    release = asyncio.Event()

    async def kafka() -> bool:
        nonlocal calls
        calls += 1
        await release.wait()  # as slow as opening an admin client on a busy broker
        return True

    ready = CachedReadiness({"kafka": kafka}, ttl_s=60)
    probes = [asyncio.ensure_future(ready()) for _ in range(50)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*probes) == [{"kafka": True}] * 50
    assert await ready() == {"kafka": True}
    assert calls == 1


async def test_a_probe_that_goes_away_does_not_cancel_the_shared_check() -> None:
    release = asyncio.Event()

    async def kafka() -> bool:
        await release.wait()
        return False

    ready = CachedReadiness({"kafka": kafka}, ttl_s=60)
    first, second = asyncio.ensure_future(ready()), asyncio.ensure_future(ready())
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == {"kafka": False}

"""Reading the report topics as an analyst does: with kcat (librdkafka), not with aiokafka."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def kcat_records(bootstrap: str, topic: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record of the topic from the beginning, as (key, payload), in offset order per partition."""
    proc = await asyncio.create_subprocess_exec(
        "kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    records = []
    for line in out.decode().splitlines():
        key, _, payload = line.partition("\t")
        records.append((key, json.loads(payload)))
    return records


async def latest_per_key(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """The latest record per key (a key lives in one partition, so offset order is its order)."""
    return dict(await kcat_records(bootstrap, topic))

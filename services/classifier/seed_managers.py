"""Seeds or updates the managers from a JSON file as `upsert_manager` actions on touchpoint.actions.v1, each with a
hash of its entry as event_id: `python -m services.classifier.seed_managers deploy/managers.example.json`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.actions import UpsertManager
from schemas.topics import ACTIONS
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.settings import KafkaSettings


class InvalidManagersFile(ValueError):
    """The managers file is not a JSON list of manager entries."""


def manager_actions(entries: Any, now: datetime, actor_id: str = "seed") -> list[UpsertManager]:
    """Pure: the file's entries as actions. Raises InvalidManagersFile naming the bad entry."""
    if not isinstance(entries, list):
        raise InvalidManagersFile("the managers file must be a JSON list")
    actions = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or "name" not in entry:
            raise InvalidManagersFile(f"entry {n}: an object with at least 'id' and 'name' is needed")
        digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]
        data = {k: v for k, v in entry.items() if k != "id"}
        try:
            actions.append(
                UpsertManager.model_validate(
                    {
                        "event_id": f"seed-manager:{entry['id']}:{digest}",
                        "actor_id": actor_id,
                        "occurred_at": now,
                        "manager_id": entry["id"],
                        **data,
                    }
                )
            )
        except ValueError as exc:
            raise InvalidManagersFile(f"entry {n} ({entry['id']}): {exc}") from exc
    return actions


async def seed(actions: list[UpsertManager], kafka: KafkaSettings) -> int:
    producer = DurableProducer(kafka, ProducerLimits(), client_id=f"{kafka.client_id_prefix}-seed-managers")
    try:
        for action in actions:
            await producer.send(
                kafka.topics(ACTIONS), action.kafka_key(), action.model_dump_json(by_alias=True).encode()
            )
    finally:
        await producer.stop()
    return len(actions)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m services.classifier.seed_managers MANAGERS.json\n")
        return 2
    try:
        actions = manager_actions(json.loads(Path(argv[0]).read_text()), datetime.now(UTC))
        count = asyncio.run(seed(actions, KafkaSettings()))
    except (OSError, json.JSONDecodeError, InvalidManagersFile) as exc:
        sys.stderr.write(f"cannot seed managers: {exc}\n")
        return 1
    sys.stdout.write(f"produced {count} upsert_manager actions\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

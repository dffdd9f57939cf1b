"""`python -m bench.people`: what a manager's day costs, measured through the real routes (issue 9).

A simulated office day (bench/simulator) is played through ingest's webhooks and SMTP into the real classifier;
then each simulated manager logs in to reporting with a personal token, reads their queue and accepts every
suggestion with one click, each time waiting until the classifier has applied it. Reported:
- the share of the day's external calls whose outcome ends right (per the day's labels: a wrong number or spam
  call → wrong_number, answered → connected, missed or abandoned → no_answer, busy → busy, voicemail →
  left_voicemail) with at most one action, i.e. by accepting the suggestion (target: at least 90%);
- first-time callers whose missed call got neither a callback task nor a place in anyone's queue (target: none);
- confirmation latency, from the click to the outcome stored by the classifier (p50/p99/max; target p99 < 2 s).

    python -m bench.people [--seed 7] [--managers 6] [--date 2026-11-26]"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.infra import Infra, say, service
from bench.simulator.__main__ import run_day
from bench.simulator.check import wait_for_managers, wait_for_work
from bench.simulator.generate import DayShape, generate_day
from bench.simulator.model import OfficeDay, SimCall
from deploy.local.__main__ import REPO, load_env_file
from deploy.local.procs import free_port
from services.classifier.seed_managers import manager_actions, seed
from services.reporting.accounts import add_user, issue_api_token

RIGHT = {"answered": "connected", "missed": "no_answer", "abandoned": "no_answer", "busy": "busy",
         "voicemail": "left_voicemail", "failed": "no_answer"}  # fmt: skip


def right_outcome(call: SimCall) -> str:
    """What a person who knows the truth would confirm for this call."""
    return "wrong_number" if call.wrong_number or call.spam else RIGHT[call.status]


@dataclass
class Effort:
    latencies_s: list[float] = field(default_factory=list)
    queued: set[str] = field(default_factory=set)  # interaction ids seen in any manager's queue
    refused: int = 0


async def confirm_all(reporting_url: str, token: str, pool: asyncpg.Pool, effort: Effort, timeout_s: float) -> None:
    """One manager: read the queue, accept every suggestion one click at a time, each until applied."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(f"{reporting_url}/api/queue") as response:
            queue: dict[str, Any] = await response.json()
        for item in queue["items"]:
            effort.queued.add(item["id"])
            clicked = time.perf_counter()
            async with http.post(f"{reporting_url}/api/interactions/{item['id']}/outcome", json={}) as response:
                if response.status != 202:
                    effort.refused += 1
                    continue
            while time.perf_counter() - clicked < timeout_s:
                if await pool.fetchval("SELECT outcome FROM interactions WHERE id = $1::uuid", item["id"]):
                    effort.latencies_s.append(time.perf_counter() - clicked)
                    break
                await asyncio.sleep(0.01)


async def score(pool: asyncpg.Pool, day: OfficeDay, effort: Effort) -> dict[str, Any]:
    rows = {
        r["external_id"]: r
        for r in await pool.fetch(
            """SELECT id::text, external_id, outcome, internal FROM interactions
               WHERE kind = 'call' AND source = 'generic'"""
        )
    }
    tasked = {r["id"] for r in await pool.fetch("SELECT interaction_id::text AS id FROM task_interactions")}
    external = [c for c in day.calls if c.direction != "internal" and c.counterpart is not None]
    right = sum(1 for c in external if c.call_id in rows and rows[c.call_id]["outcome"] == right_outcome(c))
    wrong = [(c.call_id, right_outcome(c), rows[c.call_id]["outcome"] if c.call_id in rows else None)
             for c in external if c.call_id not in rows or rows[c.call_id]["outcome"] != right_outcome(c)]  # fmt: skip
    seen: set[str] = set()
    first_missed = []
    for call in sorted(day.calls, key=lambda c: c.started_at):
        if call.counterpart is None or call.direction != "inbound":
            continue
        if call.counterpart not in seen and call.contact_id is None and call.status in ("missed", "abandoned"):
            first_missed.append(call)
        seen.add(call.counterpart)
    lost = [
        c.call_id
        for c in first_missed
        if c.call_id not in rows or (rows[c.call_id]["id"] not in tasked and rows[c.call_id]["id"] not in effort.queued)
    ]
    lat = sorted(effort.latencies_s)
    return {
        "external_calls": len(external),
        "ended_right_with_one_action": right,
        "share": right / len(external) if external else 0.0,
        "wrong_examples": wrong[:10],
        "first_time_missed_callers": len(first_missed),
        "first_time_missed_without_task_or_queue": lost,
        "confirmations": len(lat),
        "refused": effort.refused,
        "p50_s": statistics.median(lat) if lat else None,
        "p99_s": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
        "max_s": lat[-1] if lat else None,
    }


async def measure(args: argparse.Namespace, infra: Infra, workdir: Path) -> dict[str, Any]:
    shape = DayShape(managers=args.managers)
    day = generate_day(args.seed, args.date, shape)
    kafka = await infra.kafka_settings("people")
    dsn = await infra.new_database("people")
    ports = {name: str(free_port()) for name in ("ingest", "smtp", "reporting", "classifier")}
    env = load_env_file(REPO / "deploy" / "dev.env", {"TOUCHPOINT_TIMEZONE": shape.timezone}) | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOUCHPOINT_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": dsn,
        "TOUCHPOINT_INGEST_PORT": ports["ingest"],
        "TOUCHPOINT_SMTP_PORT": ports["smtp"],
        "TOUCHPOINT_REPORTING_PORT": ports["reporting"],
        "TOUCHPOINT_CLASSIFIER_PORT": ports["classifier"],
        "TOUCHPOINT_CLASSIFIER_GROUP_ID": f"{kafka.topic_namespace}-classifier",
        "TOUCHPOINT_LOG_FORMAT": "json",
    }
    children = [service(name, env, workdir) for name in ("ingest", "classifier", "reporting")]
    try:
        for child in children:
            child.start()
        for child in children:
            child.wait_ready(f"http://127.0.0.1:{ports[child.name]}/readyz")
        entries = [
            {"id": m.id, "name": m.name, "email": m.email, "extensions": [m.extension], "on_duty": True}
            for m in day.office.managers
        ]
        await seed(manager_actions(entries, datetime.now(UTC), actor_id="bench"), kafka)
        await wait_for_managers(dsn, [m.id for m in day.office.managers])
        say(f"playing the day: {len(day.calls)} calls, {len(day.emails)} emails")
        await run_day(day, f"http://127.0.0.1:{ports['ingest']}", env["TOUCHPOINT_GENERIC_SECRET"],
                      ("127.0.0.1", int(ports["smtp"])), None)  # fmt: skip
        calls, _ = await wait_for_work(dsn, day, timeout_s=120, emails=True)
        say(f"stored: {calls.line()}")
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=len(day.office.managers) + 2)
        assert pool is not None
        try:
            tokens = []
            for m in day.office.managers:
                await add_user(pool, f"{m.id}@bench.test", "manager", "bench-password", manager_id=m.id)
                tokens.append(await issue_api_token(pool, f"{m.id}@bench.test"))
            effort = Effort()
            url = f"http://127.0.0.1:{ports['reporting']}"
            await asyncio.gather(*(confirm_all(url, t, pool, effort, 10.0) for t in tokens))
            return await score(pool, day, effort)
        finally:
            await pool.close()
    finally:
        for child in reversed(children):
            child.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.people", description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--managers", type=int, default=6)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 26))
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-bench-people-"))
    infra = Infra(workdir)
    try:
        infra.start()
        result = asyncio.run(measure(args, infra, workdir))
    finally:
        infra.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    say(
        f"calls ending right by accepting the suggestion: {result['ended_right_with_one_action']} of "
        f"{result['external_calls']} ({result['share']:.1%}; target at least 90%)"
    )
    say(
        f"first-time callers whose missed call got neither a callback task nor a queue place: "
        f"{len(result['first_time_missed_without_task_or_queue'])} of {result['first_time_missed_callers']}"
    )
    say(
        f"confirmations applied: {result['confirmations']} (refused {result['refused']}); click → applied "
        f"p50 {result['p50_s']:.3f} s, p99 {result['p99_s']:.3f} s, max {result['max_s']:.3f} s"
    )
    for call_id, want, got in result["wrong_examples"]:
        say(f"  {call_id}: right is {want}, ended {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

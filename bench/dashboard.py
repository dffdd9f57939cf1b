"""Issue 10's live dashboard promise, measured: with a large history stored, how long from a call event's request to
ingest until the open dashboard's server-sent event shows it, and what each change costs reporting per open stream.

- Fill: bench/reports.py's history (`--interactions` calls of 50 managers in two teams, with callback tasks and every
  manager-day's figures), placed on the 90 days before today, so the dashboard's month and 28-day charts are full.
- Processes: the real ingest, classifier and reporting (`python -m services.<name>`), on a local Kafka broker and
  embedded PostgreSQL (bench/infra.py), reporting's event streams kept open for the whole run.
- Streams: a supervisor of team east and manager m2 (of east) open `GET /api/dashboard/events?period=…` as the
  dashboard page does. Then `--events` signed generic `ended` call events for m2 go to ingest one at a time, every
  `--interval` seconds. An event is reflected when a stream's `figures` message shows today's calls in (the
  "Calls per day" chart) at the count including it; latency = that message's arrival - the request's start.
- Fan-out: the same again with `--fanout` supervisor streams open (the team's wall screens, several supervisors);
  reporting's CPU time per event (from /proc) for 2 streams and for `--fanout` + 1 shows what a change costs per
  stream, and the latencies show whether the last stream still gets it in time.

`python -m bench.dashboard [--interactions 1000000] [--events 100] [--interval 0.5] [--fanout 10]`; results in
docs/BENCHMARKS.md. Nothing here is asserted: the numbers are printed, with the load average at the start."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.infra import Child, Infra, say, service
from bench.reports import fill
from deploy.local.procs import free_port
from services.ingest.calls.generic import sign_generic
from services.reporting.accounts import add_user, issue_api_token
from services.runtime.postgres import create_pool
from services.runtime.settings import DatabaseSettings

SECRET = "bench-dashboard-secret"  # noqa: S105 - a throwaway secret for a local benchmark
PASSWORD = "bench dashboard password"  # noqa: S105 - accounts of a scratch database
OWN = "+14155550100"
MANAGER = "m2"  # of team east (bench/reports.py: even numbers are east)
EXTENSION = "2002"


@dataclass(eq=False)
class Stream:
    """One open event stream and what it showed: (arrival, today's calls in) per `figures` message."""

    label: str
    seen: list[tuple[float, int]] = field(default_factory=list)
    messages: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def value(self) -> int:
        return self.seen[-1][1] if self.seen else -1

    def reflected_at(self, count: int, after: float) -> float | None:
        return next((at for at, value in self.seen if value >= count and at >= after), None)


def calls_today(body: dict[str, Any], today: str) -> int:
    """Today's calls in on the "Calls per day" chart of a `figures` message."""
    for chart in body["charts"]:
        for series in chart["series"]:
            if series["name"] == "calls_in" and today in chart["days"]:
                return int(series["values"][chart["days"].index(today)] or 0)
    raise ValueError("no calls_in chart in the message")


async def follow(session: aiohttp.ClientSession, url: str, token: str, stream: Stream, today: str) -> None:
    """Reads the stream's messages until cancelled (split by hand: a message is larger than aiohttp's line limit)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as response:
        response.raise_for_status()
        buffer = b""
        async for chunk in response.content.iter_any():
            buffer += chunk
            while b"\n\n" in buffer:
                message, buffer = buffer.split(b"\n\n", 1)
                lines = message.split(b"\n")
                if b"event: figures" not in lines:
                    continue
                data = next(line[6:] for line in lines if line.startswith(b"data: "))
                stream.seen.append((time.monotonic(), calls_today(orjson.loads(data), today)))
                stream.messages += 1
                stream.changed.set()


def call_body(n: int, tag: str) -> bytes:
    """An answered inbound call to m2, as one `ended` event of the generic feed."""
    now = datetime.now(UTC)
    return json.dumps(
        {
            "id": f"{tag}-{n}",
            "call_id": f"{tag}-{n}",
            "event": "ended",
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "direction": "inbound",
            "from": f"+1415{7000000 + n:07d}",
            "to": OWN,
            "status": "answered",
            "agent": EXTENSION,
            "duration_s": 70,
            "talk_s": 60,
        },
        separators=(",", ":"),
    ).encode()


async def send(session: aiohttp.ClientSession, port: int, body: bytes) -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Touchpoint-Signature": sign_generic(SECRET.encode(), int(time.time()), body),
    }
    async with session.post(f"http://127.0.0.1:{port}/webhooks/generic", data=body, headers=headers) as response:
        if response.status != 202:
            raise RuntimeError(f"ingest answered {response.status}: {await response.text()}")


def _stats(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1)

    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p90_ms": at(0.9), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1)}  # fmt: skip


async def phase(
    session: aiohttp.ClientSession,
    ingest_port: int,
    streams: list[Stream],
    reporting: Child,
    args: argparse.Namespace,
    tag: str,
) -> dict[str, Any]:
    """`args.events` events, one every `args.interval` s; per stream kind the latencies, and reporting's CPU."""
    base = {id(s): s.value for s in streams}
    sent: list[float] = []
    cpu0 = reporting.cpu_seconds()
    for n in range(args.events):
        began = time.monotonic()
        sent.append(began)
        await send(session, ingest_port, call_body(n, tag))
        await asyncio.sleep(max(0.0, began + args.interval - time.monotonic()))
    with contextlib.suppress(TimeoutError):
        await wait_reflected({s: base[id(s)] + args.events for s in streams}, 30)
    cpu = reporting.cpu_seconds() - cpu0
    out: dict[str, Any] = {"streams": len(streams), "reporting_cpu_ms_per_event": round(cpu / args.events * 1000, 1)}
    for kind in sorted({s.label for s in streams}):
        latencies, missing = [], 0
        for s in (s for s in streams if s.label == kind):
            for n, at in enumerate(sent):
                shown = s.reflected_at(base[id(s)] + n + 1, at)
                if shown is None:
                    missing += 1
                else:
                    latencies.append(shown - at)
        out[kind] = _stats(latencies) | {"events": len(latencies), "not_seen_within_30s": missing}
    return out


async def wait_reflected(targets: dict[Stream, int], timeout_s: float) -> None:
    """Until every stream shows at least its target count of today's calls in."""
    async with asyncio.timeout(timeout_s):
        for stream, count in targets.items():
            while stream.value < count:
                stream.changed.clear()
                await stream.changed.wait()


async def prepare(dsn: str, interactions: int, today: date) -> dict[str, str]:
    """The history, extensions for the managers, and the two readers' API tokens."""
    # A million rows in one statement outlast the services' 30 s command timeout on a busy machine.
    pool = await create_pool(DatabaseSettings(DATABASE_URL=dsn, TOUCHPOINT_DB_COMMAND_TIMEOUT_S=1800))
    try:
        say(f"filling {interactions:,} interactions over the 90 days before {today} ...")
        began = time.perf_counter()
        await fill(pool, interactions, first=today - timedelta(days=90))
        await pool.execute(
            "INSERT INTO manager_extensions (extension, manager_id) SELECT '20' || lpad(substr(id, 2), 2, '0'), id"
            " FROM managers"
        )
        await add_user(pool, "sup@bench.test", "supervisor", PASSWORD, team="east", name="Sup")
        await add_user(pool, "m2@bench.test", "manager", PASSWORD, manager_id=MANAGER, team="east", name="Mia")
        say(f"filled in {time.perf_counter() - began:.0f} s")
        return {"supervisor": await issue_api_token(pool, "sup@bench.test"),
                "manager": await issue_api_token(pool, "m2@bench.test")}  # fmt: skip
    finally:
        await pool.close()


async def measure(infra: Infra, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    kafka = await infra.kafka_settings("dashboard")
    dsn = await infra.new_database("dashboard")
    today = datetime.now(UTC).date()
    tokens = await prepare(dsn, args.interactions, today)
    ingest_port, reporting_port = free_port(), free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOUCHPOINT_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": dsn,
        "TOUCHPOINT_GENERIC_SECRET": SECRET,
        "TOUCHPOINT_INGEST_PORT": str(ingest_port),
        "TOUCHPOINT_SMTP_PORT": str(free_port()),
        "TOUCHPOINT_OWN_NUMBERS": OWN,
        "TOUCHPOINT_DEFAULT_REGION": "US",
        "TOUCHPOINT_TIMEZONE": "UTC",
        "TOUCHPOINT_ID_KEY": "bench-touchpoint-id-key",
        "TOUCHPOINT_CLASSIFIER_GROUP_ID": f"{kafka.topic_namespace}-classifier",
        "TOUCHPOINT_CLASSIFIER_PORT": "0",
        "TOUCHPOINT_REPORTING_PORT": str(reporting_port),
        "TOUCHPOINT_REPORTING_LIVE_STREAM_S": "3600",
        "TOUCHPOINT_LOG_FORMAT": "json",
    }
    children = [service(name, env, workdir) for name in ("ingest", "classifier", "reporting")]
    ingest, _, reporting = children
    result: dict[str, Any] = {"interactions": args.interactions, "period": args.period or "this month"}
    period = f"?period={args.period}" if args.period else ""
    url = f"http://127.0.0.1:{reporting_port}/api/dashboard/events{period}"
    followers: list[asyncio.Task[None]] = []
    try:
        for child in children:
            child.start()
        await asyncio.to_thread(ingest.wait_ready, f"http://127.0.0.1:{ingest_port}/readyz")
        await asyncio.to_thread(reporting.wait_ready, f"http://127.0.0.1:{reporting_port}/readyz")
        async with aiohttp.ClientSession() as session:
            day = today.isoformat()
            streams = [Stream("supervisor"), Stream("manager")]
            for s in streams:
                followers.append(asyncio.create_task(follow(session, url, tokens[s.label], s, day)))
            await wait_reflected(dict.fromkeys(streams, 0), 120)
            # Until the classifier has joined its group, a latency would measure its start-up.
            await send(session, ingest_port, call_body(0, "prime"))
            await wait_reflected({s: s.value + 1 for s in streams}, 120)
            say(f"{args.events} events, one every {args.interval} s, 2 streams open ...")
            result["two_streams"] = await phase(session, ingest_port, streams, reporting, args, "a")
            say(f"  {result['two_streams']}")
            more = [Stream("supervisor") for _ in range(args.fanout - 1)]
            for s in more:
                followers.append(asyncio.create_task(follow(session, url, tokens["supervisor"], s, day)))
            await wait_reflected(dict.fromkeys(more, streams[0].value), 120)
            say(f"the same with {len(streams) + len(more)} streams open ...")
            result["fanout"] = await phase(session, ingest_port, streams + more, reporting, args, "b")
            say(f"  {result['fanout']}")
    finally:
        for task in followers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*followers, return_exceptions=True)
        await asyncio.gather(*(asyncio.to_thread(child.stop) for child in children))
        await infra.drop_database(dsn)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between two events")
    parser.add_argument("--fanout", type=int, default=10, help="supervisor streams open in the second phase")
    parser.add_argument("--period", help="the dashboard's period (default: this month, as the page opens)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (the processes' logs)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-bench-dashboard-"))
    infra = Infra(workdir)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        infra.start()
        result = asyncio.run(measure(infra, workdir, args))
    finally:
        infra.stop()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    say(f"load average at the start: {load}")
    say(f"result: {json.dumps(result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

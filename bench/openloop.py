"""A fixed-rate (open-loop) HTTP load generator that does not suffer from coordinated omission.

Request i is *due* at t0 + i/rate, whatever happened to the requests before it; its latency is measured from that
due time, so time spent waiting for a free connection or for a slow server counts against the server, as it would
for a PBX that sends when its calls happen. wrk (closed loop) cannot do this and wrk2 is not packaged in Debian,
hence this small generator: raw HTTP/1.1 keep-alive connections over asyncio streams, requests pre-built from the
signed bodies file, one process (run it pinned to its own core: `taskset -c 1 python -m bench.openloop ...`).
It prints one JSON line with the result, including its own CPU use, so an overloaded generator is visible."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def build_requests(bodies_file: Path, host: str, port: int, path: str) -> list[bytes]:
    """Each line of the file is `<signature header value>\\t<JSON body>` (see bench/load.py)."""
    requests = []
    for line in bodies_file.read_bytes().splitlines():
        signature, _, body = line.partition(b"\t")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"X-Touchpoint-Signature: {signature.decode()}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


class OpenLoop:
    def __init__(self, host: str, port: int, requests: list[bytes], rate: float, connections: int) -> None:
        self.host, self.port = host, port
        self.requests = requests
        self.rate = rate
        self.connections = connections
        self.queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        self.results: list[tuple[float, float, int]] = []  # due, done, status
        self.dues: list[float] = []  # the due time of request i (perf_counter: CLOCK_MONOTONIC, shared by processes)
        self.errors: Counter[str] = Counter()

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for _ in range(50):
            try:
                return await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                self.errors[f"connect {type(exc).__name__}"] += 1
                await asyncio.sleep(0.1)
        raise ConnectionError(f"cannot connect to {self.host}:{self.port}")

    async def worker(self) -> None:
        reader, writer = await self.connect()
        try:
            while (item := await self.queue.get()) is not None:
                due, request = item
                try:
                    writer.write(request)
                    status = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    self.errors[type(exc).__name__] += 1
                    writer.close()
                    reader, writer = await self.connect()
                    continue
                self.results.append((due, time.perf_counter(), status))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def run(self, duration_s: float, warmup_s: float, max_backlog_s: float = 5.0) -> dict[str, Any]:
        workers = [asyncio.create_task(self.worker()) for _ in range(self.connections)]
        await asyncio.sleep(0.2)  # connections open
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        total = int(self.rate * (warmup_s + duration_s))
        t0 = time.perf_counter() + 0.01
        overloaded = False
        i = 0
        while i < total:
            due = t0 + i / self.rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            self.queue.put_nowait((due, self.requests[i % len(self.requests)]))
            self.dues.append(due)
            i += 1
            if self.queue.qsize() > self.rate * max_backlog_s:
                overloaded = True  # the server fell this far behind: stop instead of queueing forever
                break
        sent = i
        if overloaded:
            while not self.queue.empty():
                self.queue.get_nowait()
        for _ in workers:
            self.queue.put_nowait(None)
        await asyncio.wait(workers, timeout=30)
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        measured = [(due, done, status) for due, done, status in self.results if due >= t0 + warmup_s]
        latencies = sorted((done - due) * 1000 for due, done, _ in measured)
        statuses = Counter(str(status) for _, _, status in measured)
        span = (max(d for _, d, _ in measured) - min(due for due, _, _ in measured)) if measured else 0.0
        return {
            "rate_target": self.rate,
            "sent": sent,
            "measured": len(measured),
            "ok_total": sum(1 for _, _, status in self.results if 200 <= status < 300),
            "achieved_rate": round(len(measured) / span, 1) if span else 0.0,
            "statuses": dict(statuses),
            "errors": dict(self.errors),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p90_ms": round(percentile(latencies, 90), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "p999_ms": round(percentile(latencies, 99.9), 2),
            "max_ms": round(latencies[-1], 2) if latencies else float("nan"),
            "generator_cpu_pct": round(100 * cpu / wall, 1) if wall else 0.0,
            "overloaded": overloaded,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/webhooks/generic")
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--dues", type=Path, help="write each request's due time here (JSON list), for bench/e2e.py")
    args = parser.parse_args()
    requests = build_requests(args.bodies, args.host, args.port, args.path)
    loop = OpenLoop(args.host, args.port, requests, args.rate, args.connections)
    result = asyncio.run(loop.run(args.duration, args.warmup))
    if args.dues is not None:
        args.dues.write_text(json.dumps(loop.dues))
    print("OPENLOOP_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

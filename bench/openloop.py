"""A fixed-rate (open-loop) HTTP load generator that does not suffer from coordinated omission.

Request i is *due* at t0 + i/rate, whatever happened to the requests before it; its latency is measured from that
due time, so time spent waiting for a free connection or for a slow server counts against the server, as it would
for a PBX that sends when its calls happen. wrk (closed loop) cannot do this and wrk2 is not packaged in Debian,
hence this small generator: raw HTTP/1.1 keep-alive connections (one asyncio protocol each, one request at a time on
each), requests pre-built from the signed bodies file, one process (run it pinned to its own core: `taskset -c 1
python -m bench.openloop ...`). It prints one JSON line with the result, including its own CPU use, so an overloaded
generator is visible."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any, cast


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


def parse_head(head: bytes) -> tuple[int, int]:
    """The status and Content-Length of a response head (without its blank line); the server always sends the
    length (aiohttp does for every non-streamed answer)."""
    status = int(head[9:12])
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return status, 0
    value = head[at + 17 :]
    end = value.find(b"\r\n")
    return status, int(value if end < 0 else value[:end])


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time. A protocol rather than streams: no coroutine,
    queue hand-off or reader buffer per request, so the generator's CPU per request stays small next to the
    server's on a machine they share."""

    def __init__(self, generator: OpenLoop, port: int) -> None:
        self.generator = generator
        self.port = port
        self.transport: asyncio.WriteTransport | None = None
        self.buffer = bytearray()
        self.current: tuple[int, float] | None = None  # the request in flight: its index and due time
        self.status = 0
        self.expected = -1  # bytes of the answer in flight (head + body) once its head is in, else -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # a TCP transport (uvloop's does not subclass)
        self.generator.ready(self)

    def send(self, index: int, due: float) -> None:
        assert self.transport is not None
        self.current = (index, due)
        self.transport.write(self.generator.requests[index % len(self.generator.requests)])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.expected < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self.status, length = parse_head(bytes(self.buffer[:end]))
            except ValueError:
                self.generator.errors["bad response"] += 1
                assert self.transport is not None
                self.transport.abort()
                return
            self.expected = end + 4 + length
        if len(self.buffer) < self.expected:
            return
        del self.buffer[: self.expected]
        self.expected = -1
        done, self.current = self.current, None
        if done is not None:
            self.generator.answered(done[0], done[1], self.status)
        self.generator.ready(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.current is not None:  # the request in flight is lost, as with any client: counted, not retried
            self.generator.errors[type(exc).__name__ if exc else "connection closed"] += 1
            self.current = None
            self.generator.finished()
        self.generator.lost(self)


class OpenLoop:
    def __init__(self, host: str, ports: tuple[int, ...], requests: list[bytes], rate: float, connections: int) -> None:
        self.host, self.ports = host, ports  # several ports: the connections are spread over them evenly
        self.requests = requests
        self.rate = rate
        self.connections = connections
        self.idle: list[Connection] = []
        self.pending: deque[tuple[int, float]] = deque()  # due requests waiting for a free connection
        self.open: set[Connection] = set()
        self.in_flight = 0  # submitted and not answered
        self.drained = asyncio.Event()
        self.closing = False
        self.results: list[tuple[float, float, int]] = []  # due, done, status
        self.dues: list[float] = []  # the due time of request i (perf_counter: CLOCK_MONOTONIC, shared by processes)
        self.answers: list[float | None] = []  # when request i's 2xx answer was read, None without one
        self.errors: Counter[str] = Counter()
        self.reconnects: set[asyncio.Task[None]] = set()

    async def connect(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(50):
            try:
                _, connection = await loop.create_connection(lambda: Connection(self, port), self.host, port)
            except OSError as exc:
                self.errors[f"connect {type(exc).__name__}"] += 1
                await asyncio.sleep(0.1)
            else:
                self.open.add(connection)
                return
        raise ConnectionError(f"cannot connect to {self.host}:{port}")

    def submit(self, index: int, due: float) -> None:
        self.in_flight += 1
        if self.idle:
            self.idle.pop().send(index, due)
        else:
            self.pending.append((index, due))

    def ready(self, connection: Connection) -> None:
        if self.pending:
            connection.send(*self.pending.popleft())
        else:
            self.idle.append(connection)

    def answered(self, index: int, due: float, status: int) -> None:
        done = time.perf_counter()
        self.results.append((due, done, status))
        if 200 <= status < 300:
            self.answers[index] = done
        self.finished()

    def finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.drained.set()

    def lost(self, connection: Connection) -> None:
        self.open.discard(connection)
        with contextlib.suppress(ValueError):
            self.idle.remove(connection)
        if self.closing:
            return
        task = asyncio.get_running_loop().create_task(self.connect(connection.port))
        self.reconnects.add(task)
        task.add_done_callback(self.reconnects.discard)

    async def run(self, duration_s: float, warmup_s: float, max_backlog_s: float = 5.0) -> dict[str, Any]:
        await asyncio.gather(*(self.connect(self.ports[i % len(self.ports)]) for i in range(self.connections)))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        total = int(self.rate * (warmup_s + duration_s))
        t0 = time.perf_counter() + 0.01
        overloaded = False
        i = 0
        while i < total:
            now = time.perf_counter()
            while i < total and (due := t0 + i / self.rate) <= now:
                self.submit(i, due)
                self.dues.append(due)
                self.answers.append(None)
                i += 1
            if len(self.pending) > self.rate * max_backlog_s:
                overloaded = True  # the server fell this far behind: stop instead of queueing forever
                break
            if i < total:
                await asyncio.sleep(t0 + i / self.rate - time.perf_counter())
        sent = i
        if overloaded:
            self.in_flight -= len(self.pending)
            self.pending.clear()
        if self.in_flight > 0:
            self.drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), 30)
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        self.closing = True
        for connection in list(self.open):
            if connection.transport is not None:
                connection.transport.close()
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
            "generator_cpu_s": round(cpu, 3),
            "generator_sys_s": round(cpu1.ru_stime - cpu0.ru_stime, 3),
            "overloaded": overloaded,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=lambda value: tuple(int(port) for port in value.split(",")),
        required=True,
        help="the server's port, or several comma-separated (replicas: connections are spread over them)",
    )
    parser.add_argument("--path", default="/webhooks/generic")
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--dues", type=Path, help="write each request's due and 2xx answer times here (JSON), for bench/e2e.py"
    )
    args = parser.parse_args()
    requests = build_requests(args.bodies, args.host, args.port[0], args.path)
    loop = OpenLoop(args.host, args.port, requests, args.rate, args.connections)
    # The default loop: with protocols, uvloop measured no cheaper per request here.
    result = asyncio.run(loop.run(args.duration, args.warmup))
    if args.dues is not None:
        args.dues.write_text(json.dumps({"due": loop.dues, "answered": loop.answers}))
    print("OPENLOOP_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

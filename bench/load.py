"""Load for the ingest benchmark: pre-signed request bodies, the closed-loop run with wrk, the open-loop run with
bench/openloop.py, and installing wrk when it is missing (CI and new machines start clean).

Bodies are real generic-feed events from the office-day simulator, signed once before the run (a signature is
accepted for 5 minutes, longer than any run here), written one per line as `<signature>\\t<body>`; wrk's Lua
script and the open-loop generator both cycle through that file, so every request is a different, valid event."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.infra import pinned, say
from bench.simulator import DayShape, generate_day
from services.ingest.calls.generic import sign_generic

WRK_SCRIPT = r"""
-- Cycles through pre-signed generic-feed requests; prints one JSON line when done.
local reqs = {}
local n = 0
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    local tab = string.find(line, "\t", 1, true)
    n = n + 1
    reqs[n] = wrk.format("POST", "/webhooks/generic",
      {["Content-Type"] = "application/json", ["X-Touchpoint-Signature"] = string.sub(line, 1, tab - 1)},
      string.sub(line, tab + 1))
  end
  i = math.random(n)
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


def ensure_wrk() -> str:
    """wrk's path, installing the Debian package when it is missing and we may (root with apt-get)."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("wrk not found: installing it with apt-get ...")
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=True,
            capture_output=True,
            timeout=600,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        found = shutil.which("wrk")
        if found:
            return found
    raise RuntimeError("wrk is needed for the ingest benchmark: `apt-get install wrk` (Debian/Ubuntu)")


def write_signed_bodies(path: Path, secret: str, count: int = 20_000, seed: int = 1) -> int:
    """Simulated office days' call events, signed now. Returns the number of bodies written."""
    lines: list[bytes] = []
    day = date(2026, 11, 26)
    while len(lines) < count:
        office_day = generate_day(seed, day, DayShape(managers=40))
        for step in office_day.steps:
            body = json.dumps(step.payload, separators=(",", ":")).encode()
            lines.append(sign_generic(secret.encode(), int(time.time()), body).encode() + b"\t" + body)
        seed += 1
    path.write_bytes(b"\n".join(lines[:count]) + b"\n")
    return min(count, len(lines))


@dataclass(frozen=True, slots=True)
class ClosedLoopResult:
    rps: float
    requests: int
    errors: int  # non-2xx/3xx answers, socket errors and timeouts
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_us: float = 0.0  # CPU time of the process under test per request


def run_wrk(
    url: str, bodies: Path, script: Path, duration_s: int, connections: int, cpus: str | None
) -> ClosedLoopResult:
    script.write_text(WRK_SCRIPT)
    argv = pinned(
        [
            ensure_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            str(bodies),
        ],
        cpus,
    )
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return ClosedLoopResult(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        requests=data["requests"],
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def run_openloop(
    port: int | tuple[int, ...],
    bodies: Path,
    rate: float,
    duration_s: float,
    warmup_s: float,
    cpus: str | None,
    dues: Path | None = None,
    connections: int = 64,
) -> dict[str, Any]:
    argv = pinned(
        [
            sys.executable,
            "-m",
            "bench.openloop",
            "--port",
            ",".join(str(p) for p in (port if isinstance(port, tuple) else (port,))),
            "--bodies",
            str(bodies),
            "--rate",
            str(rate),
            "--duration",
            str(duration_s),
            "--warmup",
            str(warmup_s),
            "--connections",
            str(connections),
            *(["--dues", str(dues)] if dues is not None else []),
        ],
        cpus,
    )
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + warmup_s + 90, check=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("OPENLOOP_JSON ")), None)
    if line is None:
        raise RuntimeError(f"the open-loop generator printed no result:\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("OPENLOOP_JSON "))
    return result

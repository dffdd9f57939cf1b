"""Process lifecycle: SIGTERM/SIGINT as one event, start-up steps retried while dependencies come up, and a
start-up that cannot succeed stopped with its reason."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog
import uvloop
from pydantic import ValidationError

from services.runtime.errors import RetryLater, StartupRefused

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Exit code of a process whose start-up was refused (settings, migrations, topics): a supervisor that restarts
# it will meet the same refusal, so the code differs from a crash's.
EXIT_STARTUP_REFUSED = 78  # EX_CONFIG of sysexits.h


def shutdown_event() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT; the composition root waits on it and then shuts down in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def retry_until_ready(
    step: Callable[[], Awaitable[T]], stop: asyncio.Event, what: str, max_delay_s: float = 10.0
) -> T | None:
    """Runs `step` until it succeeds while a broker or database is still coming up: a `RetryLater` (the edges
    translate connection failures into it) is logged with the next delay instead of crash-looping. Anything else
    (a changed migration, a topic with the wrong settings, a refused login) is raised at once: waiting cannot
    fix it. Returns None if `stop` is set first."""
    delay = 0.5
    while not stop.is_set():
        try:
            return await step()
        except RetryLater as exc:
            log.warning("startup.waiting", dependency=what, error=repr(exc), retry_in_s=delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, max_delay_s)
    return None


def run_process(main: Coroutine[Any, Any, T]) -> T:
    """Runs a process's main coroutine on uvloop: the same asyncio API, with markedly less overhead per
    request and per record than the default loop (measured in docs/BENCHMARKS.md). A refused start-up (bad
    settings, `StartupRefused`) ends the process with one readable reason and `EXIT_STARTUP_REFUSED`."""
    try:
        return uvloop.run(main)
    except (StartupRefused, ValidationError) as exc:
        # Settings models hide input values in their errors (secrets), so the message is safe to print.
        print(f"start-up refused: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_STARTUP_REFUSED) from None

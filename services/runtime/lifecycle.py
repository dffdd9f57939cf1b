"""Graceful shutdown: SIGTERM and SIGINT set one event that the composition root waits on."""

from __future__ import annotations

import asyncio
import signal


def shutdown_event() -> asyncio.Event:
    """An event set on SIGTERM/SIGINT, for the running loop. A second signal is left to the default handler
    only in the sense that it sets the same event; the process then finishes its batch and exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop

"""Parses large messages on a small thread pool, so one huge email cannot hold the event loop that answers
every webhook (docs/email.md, limits); small ones are parsed inline, where a thread hop would cost more."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ParsingPool:
    """`executor` is owned by the composition root (a bounded ThreadPoolExecutor); None means the loop's
    default executor. Threads still share the GIL, but the interpreter switches between them every few
    milliseconds, so the loop keeps answering while a message is parsed."""

    def __init__(self, threshold_bytes: int = 262_144, executor: Executor | None = None) -> None:
        self._threshold = threshold_bytes
        self._executor = executor

    async def run(self, size: int, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if size < self._threshold:
            return parse(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(parse, *args, **kwargs))

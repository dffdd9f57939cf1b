"""Named crash points for the fault-injection tests (`after_db_commit`, `before_db_commit`): the process kills
itself there with SIGKILL. Off unless TOUCHPOINT_CLASSIFIER_FAILPOINTS names them; never set in production."""

from __future__ import annotations

import os
import signal

KNOWN = frozenset({"after_db_commit", "before_db_commit"})


class Failpoints:
    def __init__(self, spec: str) -> None:
        names = {n.strip() for n in spec.split(",") if n.strip()}
        unknown = names - KNOWN
        if unknown:
            raise ValueError(f"unknown failpoints: {sorted(unknown)}")
        self._armed = names

    def hit(self, name: str) -> None:
        if name in self._armed:
            os.kill(os.getpid(), signal.SIGKILL)

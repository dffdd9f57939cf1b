"""Start-up retries only what waiting can fix; a refused start-up ends the process with its reason and code 78."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from services.runtime.errors import DatabaseUnavailable, StartupRefused
from services.runtime.lifecycle import EXIT_STARTUP_REFUSED, retry_until_ready
from services.runtime.postgres import MigrationMismatch


async def test_a_dependency_still_starting_is_retried_until_it_answers() -> None:
    attempts = 0

    async def step() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise DatabaseUnavailable("connection refused")
        return "pool"

    assert await retry_until_ready(step, asyncio.Event(), "postgres", max_delay_s=0.01) == "pool"
    assert attempts == 3


@pytest.mark.parametrize(
    "error",
    [MigrationMismatch("migration 0001_foundation.sql changed"), StartupRefused("topic"), ValueError("bad")],
    ids=["changed-migration", "refused", "a-bug"],
)
async def test_what_waiting_cannot_fix_is_raised_at_the_first_attempt(error: Exception) -> None:
    attempts = 0

    async def step() -> str:
        nonlocal attempts
        attempts += 1
        raise error

    with pytest.raises(type(error)):
        await asyncio.wait_for(retry_until_ready(step, asyncio.Event(), "postgres"), 5)
    assert attempts == 1


def test_a_refused_start_up_exits_with_its_reason_and_no_traceback() -> None:
    program = (
        "from services.runtime.errors import StartupRefused\n"
        "from services.runtime.lifecycle import run_process\n"
        "async def main() -> None:\n"
        "    raise StartupRefused('topic touchpoint.calls.v1: min.insync.replicas is 1, expected 2')\n"
        "run_process(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_STARTUP_REFUSED
    assert done.stderr.strip() == "start-up refused: topic touchpoint.calls.v1: min.insync.replicas is 1, expected 2"

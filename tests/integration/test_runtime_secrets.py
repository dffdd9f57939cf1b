"""A refused secret stops the ingest process at start-up with one readable line naming the variable, never the
value, and the exit code of a refused start-up; the same values start under `make run`'s development mark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.procs import free_port
from services.runtime.lifecycle import EXIT_STARTUP_REFUSED
from services.runtime.settings import KafkaSettings
from tests.integration.helpers import REPO, ServiceProcess, service_env

pytestmark = pytest.mark.integration


def run_ingest(timeout_s: float, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    return subprocess.run(
        [sys.executable, "-m", "services.ingest"],
        env={**base, "TOUCHPOINT_LOG_FORMAT": "json", **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("TOUCHPOINT_MAILGUN_SIGNING_KEY", "dev-mailgun-signing-key", "is the public development value"),
        ("TOUCHPOINT_POSTMARK_PASSWORD", "hunter2", "has 7 characters; a secret needs at least 16"),
        ("TOUCHPOINT_GENERIC_SECRET", "CHANGE-ME-BEFORE-DEPLOYING", "is a placeholder"),
    ],
    ids=["development-value", "short", "placeholder"],
)
def test_ingest_refuses_to_start_with_an_unusable_secret(name: str, value: str, reason: str) -> None:
    done = run_ingest(60, **{name: value, "TOUCHPOINT_INGEST_PORT": str(free_port())})
    assert done.returncode == EXIT_STARTUP_REFUSED, done.stderr[-3000:]
    assert done.stderr.startswith("start-up refused: ")
    assert f"{name} {reason}" in done.stderr
    assert value not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


async def test_a_development_value_starts_when_the_process_is_marked_development(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    env = service_env(kafka, TOUCHPOINT_ENV="development", TOUCHPOINT_MAILGUN_SIGNING_KEY="dev-mailgun-signing-key")
    ingest = ServiceProcess("ingest", env, tmp_path / "ingest.log")
    await ingest.start()  # waits for /readyz; fails if the process exits
    assert await ingest.stop() == 0

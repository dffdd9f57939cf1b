"""`make run`'s own process (`python -m deploy.local`) stops the services, Kafka and PostgreSQL and exits when a
supervisor sends SIGINT to its pid alone, also when it was started with SIGINT ignored (as a shell starts a
background job). The whole system runs for real here, on free ports and a temporary data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.procs import free_port
from tests.integration.helpers import REPO

pytestmark = pytest.mark.integration

# Like `make run &` from a script: the child inherits SIGINT as ignored, with the same pid after exec.
EXEC_WITH_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)
STOP_BOUND_S = 90


def processes() -> Iterator[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process we may read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        yield int(entry.name), ppid, cmdline


def started_by(root: int, data: Path) -> dict[int, str]:
    """The descendants of `root`, and whatever runs on files under `data` (the broker and the database detach)."""
    table = list(processes())
    found: dict[int, str] = {}
    parents = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid, cmdline in table:
            if ppid in parents and pid not in parents:
                parents.add(pid)
                found[pid] = cmdline
                changed = True
    found.update({pid: cmdline for pid, _, cmdline in table if str(data) in cmdline and pid != root})
    return found


def alive(pids: dict[int, str]) -> dict[int, str]:
    now = {pid: cmdline for pid, _, cmdline in processes()}
    return {pid: cmdline for pid, cmdline in pids.items() if now.get(pid) == cmdline}


def make_run_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "TOUCHPOINT_TOPIC_NAMESPACE", "TOUCHPOINT_ENV")
    }
    for name in ("KAFKA", "PG", "INGEST", "SMTP", "REPORTING", "CLASSIFIER"):
        env[f"TOUCHPOINT_{name}_PORT"] = str(free_port())
    env["TOUCHPOINT_LOG_FORMAT"] = "json"
    return env


def wait_for_line(proc: subprocess.Popen[bytes], log: Path, line: str, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if line in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"make run exited with {proc.returncode} before {line!r}:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"no {line!r} from make run after {timeout_s}s:\n{log.read_text()[-4000:]}")


@pytest.mark.timeout(STOP_BOUND_S + 300)
@pytest.mark.parametrize(
    "moment",
    ["Touchpoint is up", "PostgreSQL ready"],
    ids=["when-up", "while-the-services-start"],
)
def test_sigint_to_the_make_run_process_stops_everything_and_exits(moment: str) -> None:
    with tempfile.TemporaryDirectory(prefix="touchpoint-make-run-", ignore_cleanup_errors=True) as tmp:
        data = Path(tmp) / "data"
        log = Path(tmp) / "make-run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", EXEC_WITH_SIGINT_IGNORED, "-m", "deploy.local", "--data-dir", str(data)],
                env=make_run_env(),
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        children: dict[int, str] = {}
        try:
            wait_for_line(proc, log, moment)
            children = started_by(proc.pid, data)
            assert any(" kafka.Kafka " in c for c in children.values()), children
            assert any("/postgres " in c for c in children.values()), children
            if moment == "Touchpoint is up":
                assert sum("-m services." in c for c in children.values()) == 3, children

            os.kill(proc.pid, signal.SIGINT)  # the pid alone, as a supervisor does, not the process group
            try:
                returncode = proc.wait(STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"make run still running {STOP_BOUND_S}s after SIGINT:\n{log.read_text()[-4000:]}")
            assert returncode == 0, log.read_text()[-4000:]
            assert alive(children) == {}, "left running after make run exited"
            assert "SIGINT received" in log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for pid in alive(children):  # what this test started must not outlive it, whatever happened
                os.kill(pid, signal.SIGKILL)

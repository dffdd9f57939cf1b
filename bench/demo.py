"""`make demo`: the system of `make run`, plus a simulated office day fed to it live, so a newcomer sees calls
become interactions. Ctrl-C stops everything (the simulator, the services, Kafka, PostgreSQL).

It reuses deploy.local's `LocalSystem` unchanged (same data folder, ports and deploy/dev.env), and runs the
simulator (`python -m bench.simulator`) as one more child once ingest, classifier and reporting are ready; when the
day is over the simulator compares what was stored with its ground truth, and the system stays up to explore."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from bench.simulator.generate import DayShape
from deploy.local.__main__ import REPO, LocalSystem, load_env_file, say
from deploy.local.procs import stop_process


def simulator_argv(system: LocalSystem, seed: int, day_seconds: float, managers: int, day: str) -> list[str]:
    env = system.env
    return [
        sys.executable,
        "-m",
        "bench.simulator",
        "--seed",
        str(seed),
        "--date",
        day,
        "--managers",
        str(managers),
        "--day-seconds",
        str(day_seconds),
        "--url",
        f"http://127.0.0.1:{system.ports['ingest']}",
        "--secret",
        env.get("TOUCHPOINT_GENERIC_SECRET", ""),
        "--smtp",
        f"127.0.0.1:{env.get('TOUCHPOINT_SMTP_PORT', '2525')}",
        "--seed-managers",
        "--check",
        "--database-url",
        env["DATABASE_URL"],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".local", help="broker and database data")
    parser.add_argument("--day-seconds", type=float, default=float(os.environ.get("DEMO_DAY_SECONDS", "120")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DEMO_SEED", int(time.time()) % 100_000)))
    parser.add_argument("--managers", type=int, default=int(os.environ.get("DEMO_MANAGERS", "6")))
    parser.add_argument(
        "--date", default=os.environ.get("DEMO_DATE", date.today().isoformat()), help="the simulated day"
    )
    args = parser.parse_args()
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    # The simulated office keeps its own clock (DayShape: Los Angeles, 09:00-18:00): the classifier's business
    # time must be the office's, or due times land at night. What the environment sets still wins.
    env = {"TOUCHPOINT_TIMEZONE": DayShape().timezone, **os.environ}
    system = LocalSystem(load_env_file(REPO / "deploy" / "dev.env", env), data)
    stopping = threading.Event()
    # Ctrl-C reaches every child too (one process group); they stop themselves, and we must not mistake their
    # exit for a crash. SIGINT is handled explicitly because a shell that starts us in the background ignores it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    simulator: subprocess.Popen[bytes] | None = None
    try:
        system.start_infrastructure()
        system.start_services()
        system.seed_users()
        say(system.banner())
        say(
            f"feeding a simulated office day (seed {args.seed}, {args.managers} managers, 09:00-18:00 in "
            f"{args.day_seconds:.0f}s); the same day again: DEMO_SEED={args.seed} DEMO_DATE={args.date} make demo"
        )
        simulator = subprocess.Popen(
            simulator_argv(system, args.seed, args.day_seconds, args.managers, args.date), env=system.env, cwd=REPO
        )
        while not stopping.wait(0.5):
            if simulator is not None and simulator.poll() is not None:
                outcome = (
                    "Touchpoint passed its checks (interactions, tasks, flags above)"
                    if simulator.returncode == 0
                    else "Touchpoint did NOT pass its checks (see above)"
                )
                say(
                    f"the office day is over and {outcome}. The system stays up: "
                    f"log in at http://127.0.0.1:{system.ports['reporting']}/login (see above); "
                    "Ctrl-C stops everything."
                )
                simulator = None
            problem = system.first_exit()
            if problem and not stopping.is_set():
                say(f"{problem}; stopping")
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        if simulator is not None:
            stop_process(simulator, timeout=10)
        system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

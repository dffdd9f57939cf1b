"""`make run`: the whole system on one machine, with embedded defaults.

Starts a local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and an embedded PostgreSQL (unless
DATABASE_URL is set), then ingest, classifier and reporting as child processes; prints the URLs and a command
that sends a signed test call; Ctrl-C, SIGINT, SIGTERM or SIGHUP to this process stops everything (services,
then Kafka and PostgreSQL) and exits. Development settings come from deploy/dev.env; variables already in the
environment win. The processes are marked as development (TOUCHPOINT_ENV), which lets them accept dev.env's
public secrets."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from deploy.local.kafka_broker import LocalKafka
from deploy.local.postgres import LocalPostgres
from deploy.local.procs import stop_process, wait_for

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "classifier", "reporting")


def say(message: str) -> None:
    print(f"\033[1m[touchpoint]\033[0m {message}" if sys.stdout.isatty() else f"[touchpoint] {message}", flush=True)


def load_env_file(path: Path, environ: dict[str, str]) -> dict[str, str]:
    """KEY=VALUE lines; comments and blanks skipped; what `environ` already has wins."""
    merged = dict(environ)
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        merged.setdefault(key.strip(), value.strip())
    return merged


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL we built
            return bool(response.status == 200)
    except OSError:
        return False


class LocalSystem:
    """Owns the child processes, so that whatever was started is stopped, in reverse order."""

    def __init__(self, env: dict[str, str], data: Path) -> None:
        self.env = env
        # dev.env's secrets are public: the services accept them only from a process marked as development.
        self.env.setdefault("TOUCHPOINT_ENV", "development")
        self.data = data
        self.kafka: LocalKafka | None = None
        self.postgres: LocalPostgres | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = {
            "ingest": env.get("TOUCHPOINT_INGEST_PORT", "8080"),
            "reporting": env.get("TOUCHPOINT_REPORTING_PORT", "8081"),
            "classifier": env.get("TOUCHPOINT_CLASSIFIER_PORT", "8082"),
        }

    def start_infrastructure(self) -> None:
        if "KAFKA_BOOTSTRAP_SERVERS" in self.env:
            say(f"using Kafka at {self.env['KAFKA_BOOTSTRAP_SERVERS']}")
        else:
            self.kafka = LocalKafka(self.data / "kafka", port=int(self.env.get("TOUCHPOINT_KAFKA_PORT", "9092")))
            say(f"starting Kafka {self.kafka.bootstrap} (data in {self.kafka.data_dir}) ...")
            started = time.monotonic()
            self.kafka.start()
            say(f"Kafka ready in {time.monotonic() - started:.1f}s (log: {self.kafka.log_file})")
            self.env["KAFKA_BOOTSTRAP_SERVERS"] = self.kafka.bootstrap
        if "DATABASE_URL" in self.env:
            say("using PostgreSQL from DATABASE_URL")
        else:
            self.postgres = LocalPostgres(self.data / "postgres", port=int(self.env.get("TOUCHPOINT_PG_PORT", "55432")))
            say(
                f"starting embedded PostgreSQL on 127.0.0.1:{self.postgres.port} (data in {self.postgres.data_dir}) ..."
            )
            self.postgres.start()
            self.env["DATABASE_URL"] = self.postgres.dsn
            say("PostgreSQL ready")

    def start_services(self) -> None:
        for name in SERVICES:
            self.children[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=self.env, cwd=REPO)
        for name in SERVICES:
            url = f"http://127.0.0.1:{self.ports[name]}/readyz"
            wait_for(lambda url=url: ready(url), 90, name, self.children[name])
            say(f"{name} ready")

    def seed_managers(self) -> None:
        """Registers the managers of TOUCHPOINT_MANAGERS_FILE (default: the example file) through the actions
        topic, as an admin would; re-running the same file changes nothing."""
        path = self.env.get("TOUCHPOINT_MANAGERS_FILE", str(REPO / "deploy" / "managers.example.json"))
        subprocess.run(
            [sys.executable, "-m", "services.classifier.seed_managers", path], env=self.env, cwd=REPO, check=True
        )
        say(f"managers registered from {path}")

    def seed_users(self) -> None:
        """Adds the development accounts that are missing (one per example manager, and one of each other role),
        all with the password TOUCHPOINT_DEV_PASSWORD of deploy/dev.env."""
        path = self.env.get("TOUCHPOINT_USERS_FILE", str(REPO / "deploy" / "users.example.json"))
        subprocess.run(
            [sys.executable, "-m", "services.reporting", "users", "seed", path],
            env=self.env,
            cwd=REPO,
            check=True,
            input=self.env.get("TOUCHPOINT_DEV_PASSWORD", "touchpoint-dev").encode() + b"\n",
        )

    def banner(self) -> str:
        ingest, reporting = self.ports["ingest"], self.ports["reporting"]
        smtp = self.env.get("TOUCHPOINT_SMTP_PORT", "2525")
        domains = self.env.get("TOUCHPOINT_MAIL_DOMAINS", "")
        return (
            "Touchpoint is up:\n"
            f"  ingest     http://127.0.0.1:{ingest}   (webhooks, /openapi.json, /metrics)\n"
            f"  smtp       127.0.0.1:{smtp}   (mail for {domains})\n"
            f"  reporting  http://127.0.0.1:{reporting}/login   (pages and /api/)\n"
            f"  classifier http://127.0.0.1:{self.ports['classifier']}/readyz\n"
            f"  kafka      {self.env['KAFKA_BOOTSTRAP_SERVERS']}\n"
            "Send a signed test call:\n"
            f"  .venv/bin/python deploy/examples/send_generic_call.py --url http://127.0.0.1:{ingest}/webhooks/generic"
            f" --secret {self.env.get('TOUCHPOINT_GENERIC_SECRET', '')} --status missed\n"
            f"Log in at http://127.0.0.1:{reporting}/login as ann@example.com (a manager; also bob@, cid@, operator@,"
            f" supervisor@, analyst@, admin@example.com), password {self.env.get('TOUCHPOINT_DEV_PASSWORD', '')!r}.\n"
            "Scripts use a personal token:\n"
            "  TOKEN=$(.venv/bin/python -m services.reporting users token ann@example.com)\n"
            f'  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{reporting}/api/queue\n'
            "Ctrl-C stops everything."
        )

    def first_exit(self) -> str | None:
        for name, child in self.children.items():
            if child.poll() is not None:
                return f"{name} exited with code {child.returncode}"
        return None

    def stop(self) -> None:
        say("stopping ...")
        for name in reversed(SERVICES):
            if name in self.children:
                stop_process(self.children[name], timeout=30)
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
        say("stopped")


class Interrupted(Exception):
    """A stop signal arrived; raised from the signal handler so that it also cuts a start-up short."""


def stop_on_signals(stopping: threading.Event) -> None:
    """SIGINT, SIGTERM and SIGHUP stop the system. SIGINT gets a handler of its own, not Python's
    KeyboardInterrupt: a shell or supervisor that starts us in the background passes SIGINT on as ignored, and
    Python then never raises KeyboardInterrupt. The first signal interrupts what is running (waiting, or
    starting a broker); later ones are ignored, so that a second Ctrl-C cannot cut the shutdown short and
    leave Kafka or PostgreSQL behind."""

    def handler(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise Interrupted(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run Touchpoint locally")
    parser.add_argument("--data-dir", type=Path, default=REPO / ".local", help="broker and database data")
    args = parser.parse_args()
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    system = LocalSystem(load_env_file(REPO / "deploy" / "dev.env", dict(os.environ)), data)
    stopping = threading.Event()
    stop_on_signals(stopping)
    try:
        system.start_infrastructure()
        system.start_services()
        system.seed_managers()
        system.seed_users()
        say(system.banner())
        while not stopping.wait(0.5):
            problem = system.first_exit()
            if problem:
                say(f"{problem}; stopping")
                return 1
    except Interrupted as signal_name:
        say(f"{signal_name} received")
    finally:
        stopping.set()  # from here on signals are ignored: the shutdown below must run to its end
        system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.simulator`: send a simulated office day to a running Touchpoint (e.g. `make run`).

    .venv/bin/python -m bench.simulator --day-seconds 120             # a day in two minutes, live
    .venv/bin/python -m bench.simulator --seed 7 --managers 20 --check # as fast as it goes, then compare with the DB
    .venv/bin/python -m bench.simulator --truth day.json --dry-run     # only write the labelled day

Defaults follow deploy/dev.env and the environment (TOUCHPOINT_INGEST_PORT, TOUCHPOINT_SMTP_PORT,
TOUCHPOINT_GENERIC_SECRET, DATABASE_URL), so against `make run` no option is needed."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.simulator.check import wait_for_managers, wait_for_work
from bench.simulator.generate import DayShape, generate_day
from bench.simulator.model import OfficeDay
from bench.simulator.replay import ReplayReport, replay
from bench.simulator.senders import GenericCallSender, SmtpEmailSender
from services.classifier.seed_managers import manager_actions, seed
from services.runtime.settings import KafkaSettings


def say(message: str) -> None:
    print(f"[simulator] {message}", flush=True)


def describe(day: OfficeDay) -> str:
    s = day.stats()
    kinds = ", ".join(f"{k} {v}" for k, v in s.by_kind.items())
    mail = ", ".join(f"{k} {v}" for k, v in s.email_by_kind.items())
    return (
        f"office day {day.office.day} (seed {day.seed}, {len(day.office.managers)} managers, "
        f"{len(day.office.contacts)} contacts, {day.office.timezone} "
        f"{day.office.opens:%H:%M}-{day.office.closes:%H:%M}):\n"
        f"  {s.calls} calls / {s.call_steps} PBX events: {kinds}\n"
        f"  ground truth: {s.tasks_opened} callback tasks ({s.tasks_closed} closed by a connected call), "
        f"{s.wrong_numbers} wrong numbers, {s.spam_calls} spam calls\n"
        f"  {s.emails} emails: {mail}; {s.reply_tasks} need a reply"
    )


def truth_json(day: OfficeDay) -> dict[str, Any]:
    """The labels, for people and other tools (no raw message bytes)."""
    return {
        "seed": day.seed,
        "day": day.office.day.isoformat(),
        "managers": [asdict(m) for m in day.office.managers],
        "calls": [
            {
                "call_id": c.call_id,
                "kind": c.kind,
                "direction": c.direction,
                "manager_id": c.manager_id,
                "counterpart": c.counterpart,
                "contact_id": c.contact_id,
                "started_at": c.started_at.isoformat(),
                "status": c.status,
                "caller": c.caller,
                "callback_task": c.callback_task,
                "closes_task": c.closes_task,
                "events": [s.payload for s in c.steps],
            }
            for c in day.calls
        ],
        "tasks": [asdict(t) for t in day.tasks],
        "emails": [
            {
                "message_id": e.message_id,
                "kind": e.kind,
                "at": e.at.isoformat(),
                "thread_root": e.thread_root,
                "manager_id": e.manager_id,
                "contact_id": e.contact_id,
                "needs_reply": e.needs_reply,
                "answers": e.answers,
                "marks_undeliverable": e.marks_undeliverable,
            }
            for e in day.emails
        ],
    }


async def run_day(
    day: OfficeDay,
    ingest_url: str,
    secret: str,
    smtp: tuple[str, int] | None,
    day_seconds: float | None,
    concurrency: int = 32,
) -> ReplayReport:
    calls = GenericCallSender(ingest_url, secret)
    mail = SmtpEmailSender(*smtp) if smtp is not None else None
    if mail is not None and (reason := await mail.unavailable()):
        say(f"NOTE: {reason}")

    def progress(report: ReplayReport, done: int, total: int) -> None:
        say(f"{done}/{total} sent  {report.line()}")

    try:
        report = await replay(day, calls, mail, day_seconds=day_seconds, concurrency=concurrency, progress=progress)
    finally:
        await calls.close()
    say(f"done: {report.line()}")
    for ident, delivery in report.failures[:10]:
        say(f"  failed {ident}: {delivery.code} {delivery.detail[:200]}")
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m bench.simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--date", type=date.fromisoformat, default=date.today(), help="the simulated day (default today)"
    )
    parser.add_argument("--managers", type=int, default=DayShape().managers)
    parser.add_argument("--calls-per-manager", type=int, default=DayShape().client_calls_per_manager)
    parser.add_argument(
        "--day-seconds", type=float, default=None, help="play 09:00-18:00 in this many seconds (default: at once)"
    )
    parser.add_argument("--url", default=f"http://127.0.0.1:{env.get('TOUCHPOINT_INGEST_PORT', '8080')}")
    parser.add_argument("--secret", default=env.get("TOUCHPOINT_GENERIC_SECRET", "dev-generic-secret"))
    parser.add_argument("--smtp", default=f"127.0.0.1:{env.get('TOUCHPOINT_SMTP_PORT', '2525')}", help="host:port")
    parser.add_argument("--no-email", action="store_true")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--check", action="store_true", help="then compare the interactions in DATABASE_URL")
    parser.add_argument("--database-url", default=env.get("DATABASE_URL"))
    parser.add_argument("--truth", type=Path, help="write the labelled day as JSON to this file")
    parser.add_argument("--dry-run", action="store_true", help="generate (and --truth) only; send nothing")
    parser.add_argument(
        "--seed-managers",
        action="store_true",
        help="first register the day's managers (upsert_manager actions to Kafka at KAFKA_BOOTSTRAP_SERVERS)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shape = DayShape(managers=args.managers, client_calls_per_manager=args.calls_per_manager)
    day = generate_day(args.seed, args.date, shape)
    say(describe(day))
    if args.truth:
        args.truth.write_text(json.dumps(truth_json(day), indent=1))
        say(f"ground truth written to {args.truth}")
    if args.dry_run:
        return 0
    if args.seed_managers:
        entries = [
            {"id": m.id, "name": m.name, "email": m.email, "extensions": [m.extension], "on_duty": True}
            for m in day.office.managers
        ]
        count = asyncio.run(seed(manager_actions(entries, datetime.now(UTC), actor_id="simulator"), KafkaSettings()))
        say(f"registered {count} managers through touchpoint.actions.v1")
        if args.database_url:
            # Actions and calls are different topics with no order between them: a call classified before its
            # managers are known gets no manager, and the task checks would fail for the wrong reason.
            ids = [m.id for m in day.office.managers]
            if not asyncio.run(wait_for_managers(args.database_url, ids, timeout_s=60)):
                say("the classifier did not register the managers within 60 s; the task checks may fail")
    host, _, port = args.smtp.rpartition(":")
    smtp = None if args.no_email else (host or "127.0.0.1", int(port))
    report = asyncio.run(run_day(day, args.url, args.secret, smtp, args.day_seconds, args.concurrency))
    if args.check:
        if not args.database_url:
            say("--check needs DATABASE_URL or --database-url")
            return 2
        emails = smtp is not None and report.email_skip_reason is None and bool(day.emails)
        result, work = asyncio.run(wait_for_work(args.database_url, day, timeout_s=60, emails=emails))
        say(("OK: " if result.ok else "MISMATCH: ") + result.line())
        for call_id, want, got in result.wrong[:10]:
            say(f"  {call_id}: expected {want}, stored {got}")
        if work is not None:
            say(("OK: " if work.ok else "MISMATCH: ") + "the classifier's tasks and flags against the ground truth")
            for line in work.lines():
                say(f"  {line}")
        return 0 if result.ok and report.ok and work is not None and work.ok else 1
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

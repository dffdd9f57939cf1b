"""The office simulator: deterministic, labelled working days of a sales office (calls and mail), sent through
Touchpoint's real ingest routes or fed to the classifier's pure steps. Used by the unit evaluation, the
integration test, the benchmarks and `make demo`.

    day = generate_day(seed=1, day=date(2026, 11, 26))     # pure; the same seed gives the same day
    await replay(day, GenericCallSender(url, secret), SmtpEmailSender("127.0.0.1", 2525), day_seconds=60)

See docs/simulator.md."""

from bench.simulator.generate import DayShape, generate_day, generate_days
from bench.simulator.model import CallStep, ExpectedTask, Office, OfficeDay, SimCall, SimEmail, callback_tasks

__all__ = [
    "CallStep",
    "DayShape",
    "ExpectedTask",
    "Office",
    "OfficeDay",
    "SimCall",
    "SimEmail",
    "callback_tasks",
    "generate_day",
    "generate_days",
]

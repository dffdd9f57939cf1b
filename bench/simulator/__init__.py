"""The office-day simulator: a deterministic, labelled working day of a sales office (calls and mail) that is sent
through Touchpoint's real ingest routes. Used by the integration tests, the benchmarks and `make demo`.

    day = generate_day(seed=1, day=date(2026, 11, 26))     # pure; the same seed gives the same day
    await replay(day, GenericCallSender(url, secret), SmtpEmailSender("127.0.0.1", 2525), day_seconds=60)

See docs/simulator.md."""

from bench.simulator.generate import DayShape, generate_day
from bench.simulator.model import CallStep, ExpectedTask, Office, OfficeDay, SimCall, SimEmail

__all__ = ["CallStep", "DayShape", "ExpectedTask", "Office", "OfficeDay", "SimCall", "SimEmail", "generate_day"]

"""`make faults [FAULTS_ARGS="run --events 100000"]` or `FAULTS_ARGS="soak --minutes 10"`: a fault run checked
event by event, or a soak at a fixed rate that records memory and consumer lag (CSV + PNG in docs/)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path

from bench.faults.nemesis import FAULTS, System
from bench.faults.runner import Result, RunConfig, run, sample
from bench.faults.sources import POISONS

REPO = Path(__file__).resolve().parents[2]


def _print(result: Result, out: Path | None) -> None:
    text = result.summary() + "\n\nfault log:\n" + "\n".join(result.log.lines)
    print(text, flush=True)
    if out is not None:
        out.write_text(text + "\n")


def plot(csv_path: Path, png: Path, title: str) -> None:
    """Lag and RSS over time, one figure with two panels."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    seconds = [float(r["seconds"]) for r in rows]
    # The broker's JVM (hundreds of MiB, growing towards its heap cap) gets a panel of its own, so that a slope of a
    # few MiB in ingest or the classifier stays visible.
    fig, (lag_ax, rss_ax, jvm_ax) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    lag_ax.plot(seconds, [int(r["lag"]) for r in rows], color="tab:red")
    lag_ax.set_ylabel("consumer lag (records)")
    lag_ax.set_title(title)
    for column, label in (("ingest_rss_kib", "ingest"), ("classifier_rss_kib", "classifier")):
        rss_ax.plot(seconds, [int(r[column]) / 1024 for r in rows], label=label)
    rss_ax.set_ylabel("RSS (MiB)")
    rss_ax.set_ylim(bottom=0)
    rss_ax.legend()
    jvm_ax.plot(seconds, [int(r["kafka_rss_kib"]) / 1024 for r in rows], label="Kafka broker (JVM)", color="tab:green")
    jvm_ax.set_ylabel("RSS (MiB)")
    jvm_ax.set_ylim(bottom=0)
    jvm_ax.set_xlabel("seconds")
    jvm_ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    sub = parser.add_subparsers(dest="mode")
    one = sub.add_parser("run", help="send events under the nemesis and check every one (the default)")
    one.add_argument("--events", type=int, default=100_000)
    one.add_argument("--seed", type=int, default=1)
    one.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated subset of {','.join(FAULTS)}")
    one.add_argument("--poisons", default=",".join(POISONS))
    one.add_argument("--no-kafka-nul", action="store_true", help="leave out the NUL call id produced to Kafka")
    one.add_argument("--concurrency", type=int, default=16)
    one.add_argument("--out", type=Path, help="write the summary and fault log here too")
    soak = sub.add_parser("soak", help="a fixed rate for a while, memory and lag sampled to CSV and a PNG")
    soak.add_argument("--minutes", type=float, default=10.0)
    soak.add_argument("--rate", type=float, default=100.0, help="events per second")
    soak.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    soak.add_argument("--out", type=Path, default=REPO / "docs" / "soak")
    args = parser.parse_args(sys.argv[1:] or ["run"])
    if args.mode == "soak":
        return _soak(args)
    cfg = RunConfig(
        events=args.events,
        seed=args.seed,
        faults=tuple(f for f in args.faults.split(",") if f),
        poisons=tuple(p for p in args.poisons.split(",") if p),
        kafka_nul=not args.no_kafka_nul,
        concurrency=args.concurrency,
        drain_timeout_s=120 + args.events / 100,
    )
    result = asyncio.run(run(cfg))
    _print(result, args.out)
    return 0 if result.report.ok else 1


def _soak(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "soak.csv"
    began = time.monotonic()

    async def sampler(system: System) -> None:
        await sample(system, csv_path, args.every, began)

    events = int(args.minutes * 60 * args.rate)
    # Ingest's own default limits: a soak measures the steady state, not the overload fault's low limits.
    cfg = RunConfig(events=events, faults=(), rate=args.rate, concurrency=64, drain_timeout_s=300)
    cfg = dataclasses.replace(
        cfg, in_flight_limit=1000, request_limit=256, smtp_session_limit=64, bytes_in_flight_limit=1 << 28
    )
    result = asyncio.run(run(cfg, on_system=sampler))
    _print(result, args.out / "soak.txt")
    # The senders fall behind the target rate when the machine cannot keep up: the title says what was reached.
    achieved = events / max(result.sending_s, 1e-9)
    title = f"soak: {events} events, target {args.rate:.0f}/s, reached {achieved:.0f}/s, no faults"
    plot(csv_path, args.out / "soak.png", title)
    print(f"wrote {csv_path} and {args.out / 'soak.png'}")
    return 0 if result.report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

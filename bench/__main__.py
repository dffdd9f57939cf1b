"""`make bench` / `python -m bench`: the ingest and classifier benchmarks against a real Kafka broker and
PostgreSQL (started here, or named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL). Each prints its measured ratio
against a baseline measured in the same run, and the machine facts; docs/BENCHMARKS.md has the recorded results.

    python -m bench                      # both (about 5-8 minutes on 2 cores)
    python -m bench ingest               # issue 3
    python -m bench classifier --quick   # issue 4, smaller sizes
    python -m bench e2e                  # issue 8: webhook → committed row and → interactions topic, latency
    python -m bench e2e --rates 1000 --duration 10 --drain-events 0   # one rate, shorter, no classifier drain
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.e2e import E2EOptions
from bench.infra import Infra, say
from bench.ingest import IngestOptions, report_ingest, run_ingest_benchmark
from bench.load import ensure_wrk
from bench.machine import facts, wrk_version


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", nargs="*", choices=["ingest", "classifier", "e2e", []], default=[])
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller sizes (a smoke run)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile under --quick (full ingest runs always do); e2e: profile ingest and the classifier",
    )
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, bodies, profiles)")
    e2e = parser.add_argument_group("e2e", "override the end-to-end run's defaults (or --quick's)")
    e2e.add_argument("--rates", type=lambda s: tuple(int(r) for r in s.split(",")), help="events/s, e.g. 500,1000")
    e2e.add_argument("--duration", type=float, help="seconds measured per rate (after the warm-up)")
    e2e.add_argument("--warmup", type=float, help="seconds of warm-up per rate")
    e2e.add_argument("--drain-events", type=int, help="events for the two-against-one drain; 0 skips it")
    e2e.add_argument("--ingest-processes", type=int, help="ingest replicas (each its own port), default 1")
    e2e.add_argument("--classifiers", type=int, help="classifier members of one group, default 1")
    e2e.add_argument("--history", type=int, help="interactions stored before the run; 0: a fresh database")
    return parser.parse_args(argv)


def e2e_options(args: argparse.Namespace) -> E2EOptions:
    opts = E2EOptions.quick() if args.quick else E2EOptions()
    given = {
        "rates": args.rates,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "drain_events": args.drain_events,
        "profile": args.profile or None,
        "ingest_processes": args.ingest_processes,
        "classifiers": args.classifiers,
        "history": args.history,
    }
    return dataclasses.replace(opts, **{name: value for name, value in given.items() if value is not None})


async def run(which: list[str], quick: bool, profile: bool, workdir: Path, out: Path | None, eopts: E2EOptions) -> int:
    results: dict[str, Any] = {"machine": facts()}
    infra = Infra(workdir, need_postgres="classifier" in which or "e2e" in which)
    sections: list[str] = []
    try:
        await asyncio.to_thread(infra.start)
        results["machine"]["kafka"] = infra.kafka_version
        if "ingest" in which:
            opts = (
                IngestOptions(duration_s=5, rounds=1, open_duration_s=8, profile=profile) if quick else IngestOptions()
            )
            results["machine"]["wrk"] = wrk_version()
            ingest = await run_ingest_benchmark(infra, workdir, opts)
            results["ingest"] = ingest.as_dict()
            sections.append("## Ingest (issue 3)\n\n" + report_ingest(ingest, opts))
        if "classifier" in which:
            from bench.classifier import ClassifierOptions, report_classifier, run_classifier_benchmark

            copts = ClassifierOptions.quick(profile) if quick else ClassifierOptions()
            classifier = await run_classifier_benchmark(infra, workdir, copts)
            results["classifier"] = classifier.as_dict()
            results["machine"]["postgres"] = classifier.postgres_version
            sections.append("## Classifier (issue 4)\n\n" + report_classifier(classifier, copts))
        if "e2e" in which:
            from bench.e2e import report_e2e, run_e2e_benchmark

            e2e = await run_e2e_benchmark(infra, workdir, eopts)
            results["e2e"] = e2e.as_dict()
            sections.append("## End to end (issue 8)\n\n" + report_e2e(e2e, eopts))
    finally:
        await asyncio.to_thread(infra.stop)
    print("\n" + "=" * 100)
    print("\n".join(f"- {k}: {v}" for k, v in results["machine"].items()))
    for section in sections:
        print("\n" + section)
    if out is not None:
        await asyncio.to_thread(out.write_text, json.dumps(results, indent=2, default=str))
        say(f"results written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # aiokafka logs a retried NotLeaderForPartition on every fresh topic; the retries are expected here.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    which = args.which or ["ingest", "classifier"]
    if "ingest" in which:
        ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-bench-"))
    started = time.monotonic()
    try:
        code = asyncio.run(run(which, args.quick, args.profile, workdir, args.out, e2e_options(args)))
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    finally:
        if args.keep:
            say(f"scratch folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    say(f"finished in {time.monotonic() - started:.0f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())

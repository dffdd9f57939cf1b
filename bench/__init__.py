"""Benchmarks and the office-day simulator. `python -m bench` runs the benchmarks (docs/BENCHMARKS.md);
`python -m bench.simulator` sends a simulated office day through the real ingest routes (docs/simulator.md)."""

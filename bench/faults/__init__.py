"""`make faults`: events sent through the real ingest routes under a nemesis, then every one checked in
PostgreSQL and on the output topic (checker.py pure; sources.py, nemesis.py, runner.py do the I/O)."""

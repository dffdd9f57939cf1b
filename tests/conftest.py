"""Session-wide real services for the integration tests, and per-test isolation.

- Kafka: KAFKA_BOOTSTRAP_SERVERS if set; else a Docker Kafka (testcontainers) when a Docker engine answers;
  else the local jar broker of deploy/local (what `make run` uses). Each test gets its own topic namespace.
- PostgreSQL: DATABASE_URL if set; else the embedded server. Each test gets its own database, migrated.
A broker or database that cannot be started fails the tests with the reason; nothing is silently skipped."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from deploy.local.kafka_broker import LocalKafka
from deploy.local.postgres import LocalPostgres
from deploy.local.procs import free_port
from schemas.topics import ALL_TOPICS
from services.runtime.kafka import ensure_topics
from services.runtime.postgres import create_pool, migrate
from services.runtime.settings import DatabaseSettings, KafkaSettings


def _docker_available() -> bool:
    if os.environ.get("TOUCHPOINT_TEST_NO_DOCKER"):
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped]  # comes with testcontainers

        client = docker.from_env(timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def server_dir(prefix: str) -> Iterator[Path]:
    """A data folder for a server that outlives pytest's own temp folders: pytest prunes old basetemp folders
    when other sessions start, which would delete a running server's data under it."""
    with tempfile.TemporaryDirectory(prefix=f"touchpoint-{prefix}-", ignore_cleanup_errors=True) as path:
        yield Path(path)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if external := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield external
        return
    if _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    with server_dir("kafka") as data:
        broker = LocalKafka(data, port=free_port())
        try:
            broker.start()
        except (RuntimeError, TimeoutError, OSError) as exc:
            pytest.fail(
                f"no Kafka broker for the integration tests: {exc}\n"
                "Run `make kafka-jars` (Java 17 + Maven) or set KAFKA_BOOTSTRAP_SERVERS.",
                pytrace=False,
            )
        yield broker.bootstrap
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The DSN of a server we may create databases on."""
    if external := os.environ.get("DATABASE_URL"):
        yield external
        return
    with server_dir("postgres") as data:
        server = LocalPostgres(data, port=free_port())
        try:
            server.start()
        except (RuntimeError, TimeoutError, OSError) as exc:
            pytest.fail(f"no PostgreSQL for the integration tests: {exc}", pytrace=False)
        yield server.dsn
        server.stop("immediate")


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"tp_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _with_database(postgres_server, name)
    pool = await create_pool(DatabaseSettings(DATABASE_URL=dsn))
    try:
        await migrate(pool)
    finally:
        await pool.close()
    yield dsn
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings with a topic namespace of this test's own; the catalogue's topics are created in it."""
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, TOUCHPOINT_TOPIC_NAMESPACE=f"t{uuid.uuid4().hex[:10]}")
    await ensure_topics(settings, ALL_TOPICS)
    return settings


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]

"""A single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) run from Maven Central jars.

The jars are resolved by `make kafka-jars` (deploy/kafka/pom.xml) into a cache folder outside the repo.
Storage is formatted on first start and kept in `data_dir`, so a restart keeps topics and offsets."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.procs import free_port, port_open, stop_process, wait_for

KAFKA_VERSION = "4.1.1"
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_libs_dir() -> Path:
    cache = Path(os.environ.get("TOUCHPOINT_CACHE_DIR", Path.home() / ".cache" / "touchpoint"))
    return cache / f"kafka-{KAFKA_VERSION}" / "libs"


SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


@dataclass
class LocalKafka:
    data_dir: Path
    port: int = 9092
    controller_port: int = 0
    libs_dir: Path = field(default_factory=default_libs_dir)
    heap: str = "512m"
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.controller_port == 0:
            self.controller_port = free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def _java(self, *args: str) -> list[str]:
        if not self.libs_dir.is_dir() or not any(self.libs_dir.glob("kafka_2.13-*.jar")):
            raise RuntimeError(
                f"Kafka jars not found in {self.libs_dir}; run `make kafka-jars` (needs Maven and Java 17+)"
            )
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.data_dir}/logs",
            f"-Dlog4j2.configurationFile=file:{self.data_dir}/log4j2.properties",
            "-cp",
            f"{self.libs_dir}/*",
            *args,
        ]

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self.data_dir / "server.properties"
        props.write_text(
            SERVER_PROPERTIES.format(port=self.port, controller_port=self.controller_port, data_dir=self.data_dir)
        )
        (self.data_dir / "log4j2.properties").write_text(LOG4J2)
        return props

    def start(self, timeout: float = 90.0) -> None:
        """Formats storage on first use, starts the broker and waits until it accepts connections."""
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another Kafka running?")
        props = self._write_config()
        if not (self.data_dir / "data" / "meta.properties").exists():
            # Like Kafka's own Uuid.randomUuid: an id that starts with "-" would be read as an option.
            cluster_id = "-"
            while cluster_id.startswith("-"):
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            formatted = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(props)),
                capture_output=True,
                timeout=120,
                check=False,
            )
            if formatted.returncode != 0:
                raise RuntimeError(
                    f"formatting Kafka storage failed: {formatted.stdout.decode()}{formatted.stderr.decode()}"
                )
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                self._java("kafka.Kafka", str(props)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: port_open("127.0.0.1", self.port), timeout, "Kafka broker", self.proc, self.log_file)

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM), as an operator would do it."""
        if self.proc is not None:
            stop_process(self.proc, timeout=60)
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(30)
            self.proc = None

"""The Docker and Kubernetes files agree with the local runtime and the code (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.classifier.settings import ClassifierSettings
from services.ingest.settings import SECRET_FIELDS, IngestSettings
from services.reporting.settings import ReportingSettings
from services.runtime.settings import KafkaSettings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
ROOT = DEPLOY.parent


def kafka_version() -> str:
    match = re.search(r"<kafka.version>(.+)</kafka.version>", (DEPLOY / "kafka" / "pom.xml").read_text())
    assert match
    return match.group(1)


def module_exists(command: list[str]) -> bool:
    assert command[:2] == ["python", "-m"]
    return (ROOT / command[2].replace(".", "/") / "__main__.py").exists()


def test_compose_runs_the_same_kafka_and_our_three_services() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
    for name in ("ingest", "classifier", "reporting"):
        assert module_exists(services[name]["command"]), name
        assert services[name]["env_file"] == "dev.env"
        assert (DEPLOY / services[name]["env_file"]).exists()
    defaults = {
        "ingest": {IngestSettings.model_fields["port"].default},
        "classifier": {ClassifierSettings.model_fields["port"].default},
        "reporting": {ReportingSettings.model_fields["port"].default},
    }
    for name, ports in defaults.items():
        published = {int(p.rsplit(":", 1)[1]) for p in services[name]["ports"]}
        assert ports <= published, name
    assert 2525 in {int(p.rsplit(":", 1)[1]) for p in services["ingest"]["ports"]}


def test_kubernetes_manifests_start_existing_modules_with_probes() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "touchpoint.yaml").read_text()) if d]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["labels"]["component"] for d in deployments} == {"ingest", "classifier", "reporting"}
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert module_exists(container["command"])
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"} <= set(secret["stringData"])


def test_dev_env_names_every_source_secret_of_the_design() -> None:
    names = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "dev.env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {
        "TOUCHPOINT_GENERIC_SECRET",
        "TOUCHPOINT_TWILIO_AUTH_TOKEN",
        "TOUCHPOINT_MANGO_API_KEY",
        "TOUCHPOINT_MANGO_API_SALT",
        "TOUCHPOINT_ZADARMA_API_SECRET",
        "TOUCHPOINT_FREESWITCH_USER",
        "TOUCHPOINT_FREESWITCH_PASSWORD",
        "TOUCHPOINT_MAILGUN_SIGNING_KEY",
        "TOUCHPOINT_POSTMARK_USER",
        "TOUCHPOINT_POSTMARK_PASSWORD",
        "TOUCHPOINT_PUBLIC_BASE_URL",
        "TOUCHPOINT_OWN_NUMBERS",
        "TOUCHPOINT_MAIL_DOMAINS",
        "TOUCHPOINT_DEFAULT_REGION",
        "TOUCHPOINT_TIMEZONE",
    } <= names


def kubernetes_secret() -> dict[str, str]:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "touchpoint.yaml").read_text()) if d]
    data: dict[str, str] = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    return data


def test_only_the_development_deployments_are_marked_development() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name in ("ingest", "classifier", "reporting"):
        assert compose["services"][name]["environment"]["TOUCHPOINT_ENV"] == "development", name
    assert "TOUCHPOINT_ENV" not in kubernetes_secret()


def test_the_kubernetes_secret_starts_only_once_its_placeholder_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    data = kubernetes_secret()
    assert {f"TOUCHPOINT_{name.upper()}" for name in SECRET_FIELDS} <= set(data)
    assert {"TOUCHPOINT_TOPIC_REPLICATION_FACTOR", "TOUCHPOINT_TOPIC_MIN_INSYNC_REPLICAS"} <= set(data)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="TOUCHPOINT_GENERIC_SECRET has 9 characters"):
        IngestSettings()
    monkeypatch.setenv("TOUCHPOINT_GENERIC_SECRET", "a-real-secret-of-32-characters!!")
    settings = IngestSettings()
    assert settings.environment == "production"
    assert settings.twilio_auth_token is None and settings.postmark_password is None  # blank: source off
    kafka = KafkaSettings()
    assert (kafka.topic_replication_factor, kafka.topic_min_insync_replicas) == (None, None)

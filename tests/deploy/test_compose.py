"""docker-compose.yml, checked without a Docker engine: the Compose Specification schema
(vendored by check-jsonschema), then what the stack needs to come up in order."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.conftest import ROOT, SERVICES, settings_from, unknown_settings

COMPOSE = ROOT / "docker-compose.yml"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# An exact release: name:MAJOR.MINOR[.PATCH][-variant] (PostgreSQL releases have two numbers).
PINNED = re.compile(r"^[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.]+)?$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_file_follows_the_compose_specification() -> None:
    result = check_schema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    compose["services"]["feedback"]["depends_on"]["setup"]["condition"] = "service_done"
    compose["services"]["feedback"]["healthcheck"]["retries"] = "many"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(compose))
    assert check_schema(broken).returncode != 0


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    images = {name: spec["image"] for name, spec in compose["services"].items()}
    assert all(PINNED.match(image) for image in images.values()), images
    assert images["kafka"].startswith("apache/kafka:")
    assert images["postgres"].startswith("postgres:")
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    ours = {name for name, spec in compose["services"].items() if "build" in spec}
    assert ours == {"setup", *SERVICES}
    for name in ours:
        spec = compose["services"][name]
        assert spec["image"] == f"onramp:{version.group(1)}"
        assert spec["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}


def test_kafka_runs_in_kraft_mode(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the setup service creates them


def test_every_service_is_healthchecked_or_one_shot(compose: dict[str, Any]) -> None:
    services = compose["services"]
    one_shot = {name for name, spec in services.items() if spec.get("restart") == "no"}
    assert one_shot == {"setup"}
    for name, spec in services.items():
        check = spec.get("healthcheck", {})
        if name in one_shot:
            assert check.get("disable") is True
        else:
            assert check.get("test"), name
            assert not check.get("disable"), name


def test_dependencies_exist_and_their_conditions_can_be_met(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, spec in services.items():
        for target, dependency in spec.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = dependency["condition"]
            assert condition in CONDITIONS
            if condition == "service_healthy":
                assert "test" in services[target].get("healthcheck", {}), (name, target)
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", (name, target)
    for service in SERVICES:
        needs = services[service]["depends_on"]
        assert needs["setup"]["condition"] == "service_completed_successfully"
        assert needs["kafka"]["condition"] == needs["postgres"]["condition"] == "service_healthy"
    assert set(services["setup"]["depends_on"]) == {"kafka", "postgres"}


def test_commands_run_each_service_and_the_setup(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for service in SERVICES:
        assert services[service]["command"] == ["python", "-m", f"services.{service}"]
        assert services[service]["healthcheck"]["test"][-1].endswith(":8000/health/ready")
    assert services["setup"]["command"] == ["python", "-m", "onramp.setup"]
    published = [port for s in SERVICES for port in services[s]["ports"]]
    assert published == ["8001:8000", "8002:8000", "8003:8000"]  # the README's ports


def test_the_environment_has_what_the_settings_need(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    kafka_listeners = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    for name in ("setup", *SERVICES):
        env = {k: _interpolate(str(v)) for k, v in services[name]["environment"].items()}
        assert unknown_settings(list(env)) == []
        settings = settings_from(env)
        assert settings.kafka_bootstrap
        assert f"//{settings.kafka_bootstrap}" in kafka_listeners
        assert settings.database_url
        url = urlsplit(settings.database_url)
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert (url.username, url.password) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
        )
        assert url.path == f"/{postgres['POSTGRES_DB']}"
        assert settings.jwt_secret is not None
        assert len(settings.jwt_secret.get_secret_value()) >= 32  # HS256 wants 32 bytes
        assert settings.migrate_on_start is False  # the setup service migrates


def _interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}``, with nothing set: the default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)

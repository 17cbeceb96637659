"""The Kubernetes manifests: rendered with kustomize, validated against the Kubernetes API
schemas (kubernetes-validate, strict), and checked for what Onramp needs of them."""

from __future__ import annotations

import base64
import re

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import (
    K8S,
    ROOT,
    SERVICES,
    Manifest,
    by_kind,
    find,
    settings_from,
    unknown_settings,
)

# The oldest Kubernetes release still widely run, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
VERSION = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("which", ["base", "overlay"])
def test_every_rendered_manifest_is_valid(
    which: str, version: str, request: pytest.FixtureRequest
) -> None:
    manifests: list[Manifest] = request.getfixturevalue(which)
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)  # raises on an error
    kinds = sorted({m["kind"] for m in manifests})
    expected = ["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Service"]
    assert set(expected) <= set(kinds)


def test_a_broken_manifest_is_refused() -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


def test_every_base_file_is_valid_on_its_own() -> None:
    files = sorted(p for p in (K8S / "base").glob("*.yaml") if p.name != "kustomization.yaml")
    assert [p.stem for p in files] == ["feedback", "notify", "rollout", "setup-job"]
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_three_service_files_differ_only_in_the_name() -> None:
    texts = {s: (K8S / "base" / f"{s}.yaml").read_text() for s in SERVICES}
    for service, text in texts.items():
        assert text.replace(service, "feedback") == texts["feedback"], service


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_deployment_a_service_and_a_disruption_budget(
    overlay: list[Manifest], service: str
) -> None:
    name = f"onramp-{service}"
    deployment = find(overlay, "Deployment", name)
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert _matches(deployment["spec"]["selector"]["matchLabels"], labels)
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", f"services.{service}"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}  # the port the image sets for every service

    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("readiness", "liveness")}
    assert probes["readiness"] == {"path": "/health/ready", "port": "http"}
    assert probes["liveness"] == {"path": "/health/live", "port": "http"}
    assert container["resources"]["requests"].keys() == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/app", "/tmp"}
    # SIGTERM drains within 10 s: the grace period must leave it that long.
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 10

    svc = find(overlay, "Service", name)
    assert _matches(svc["spec"]["selector"], labels)
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"]
    budget = find(overlay, "PodDisruptionBudget", name)
    assert _matches(budget["spec"]["selector"]["matchLabels"], labels)
    assert deployment["spec"]["replicas"] >= 2  # a budget needs more than one pod to matter


def test_the_setup_job_creates_topics_and_migrates(overlay: list[Manifest]) -> None:
    job = find(overlay, "Job", "onramp-setup")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "onramp.setup"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_config_and_secrets_reach_every_container_and_make_valid_settings(
    overlay: list[Manifest],
) -> None:
    config = {m["metadata"]["name"]: m for m in by_kind(overlay, "ConfigMap")}
    secrets = {m["metadata"]["name"]: m for m in by_kind(overlay, "Secret")}
    containers = [
        c
        for m in [*by_kind(overlay, "Deployment"), *by_kind(overlay, "Job")]
        for c in m["spec"]["template"]["spec"]["containers"]
    ]
    assert len(containers) == 4
    for container in containers:
        env: dict[str, str] = {}
        for source in container["envFrom"]:
            if "configMapRef" in source:
                env |= config[source["configMapRef"]["name"]]["data"]
            else:
                data = secrets[source["secretRef"]["name"]]["data"]
                env |= {k: base64.b64decode(v).decode() for k, v in data.items()}
        assert unknown_settings(list(env)) == []
        settings = settings_from(env)
        assert settings.kafka_bootstrap
        assert settings.database_url
        assert settings.jwt_secret or settings.jwt_jwks_url
        assert settings.kafka_security_protocol == "SASL_SSL"
        assert settings.kafka_sasl_password is not None
        assert settings.migrate_on_start is False  # the Job migrates
        assert settings.topic_replication_factor == 3


def test_secrets_stay_out_of_config_maps(overlay: list[Manifest]) -> None:
    for config in by_kind(overlay, "ConfigMap"):
        leaked = [k for k in config["data"] if re.search("PASSWORD|SECRET|DATABASE_URL", k)]
        assert leaked == []


def test_every_container_runs_the_pinned_release_image(overlay: list[Manifest]) -> None:
    assert VERSION is not None
    images = {
        c["image"]
        for m in [*by_kind(overlay, "Deployment"), *by_kind(overlay, "Job")]
        for c in m["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"registry.example.com/onramp/onramp:{VERSION.group(1)}"}
    assert all(
        m["metadata"].get("namespace") == "onramp" for m in overlay if m["kind"] != "Namespace"
    )


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_the_image_port_is_the_one_the_manifests_probe() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for service in SERVICES:
        assert f"ONRAMP_{service.upper()}_PORT=8000" in dockerfile
    assert "EXPOSE 8000" in dockerfile

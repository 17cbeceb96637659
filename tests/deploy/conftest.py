"""Rendered deployment files for the tests of deploy/ and docker-compose.yml.

Kustomize overlays are rendered with ``kubectl kustomize`` (kubectl ships kustomize; it is on
the project's machines). Without kubectl these tests fail, naming what is missing: they never
skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from onramp.setup import SetupSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("feedback", "rollout", "notify")

Manifest = dict[str, Any]


def kustomize(folder: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render deploy/k8s"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


@pytest.fixture(scope="session")
def base() -> list[Manifest]:
    return kustomize(K8S / "base")


@pytest.fixture(scope="session")
def overlay() -> list[Manifest]:
    return kustomize(K8S / "overlays" / "example")


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: found {len(found)}"
    return found[0]


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


# Settings the services read beyond shared.settings.Settings, by prefix (notify's SMTP).
SERVICE_SETTING_PREFIXES = ("ONRAMP_SMTP_",)


def settings_from(env: dict[str, str]) -> SetupSettings:
    """``onramp.setup``'s settings (shared Settings and its own) read from ``env`` alone."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("ONRAMP_")}
    with mock.patch.dict(os.environ, {**kept, **env}, clear=True):
        return SetupSettings()


def unknown_settings(names: list[str]) -> list[str]:
    known = {f"ONRAMP_{field.upper()}" for field in SetupSettings.model_fields}
    return [n for n in names if n not in known and not n.startswith(SERVICE_SETTING_PREFIXES)]

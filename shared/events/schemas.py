"""Committed JSON Schemas of the event catalogue: the CI guard of "additive changes only".

One file per type, ``schemas/<type>.json``, generated from the models in pydantic's
*validation* mode: that schema says what a consumer accepts, which is exactly what must not
shrink within a version. ``python -m shared.events.schemas`` rewrites the files after a model
change; ``--check`` exits 1 on drift (files not regenerated) or a breaking change. A CI job can
pass ``--baseline DIR`` with the schemas of the target branch, so that a breaking change cannot
pass by being committed together with its regenerated schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.events.catalogue import EVENT_TYPES
from shared.events.compat import breaking_changes

SCHEMA_DIR = Path(__file__).with_name("schemas")
_REGENERATE = "run `python -m shared.events.schemas`"


def generate() -> dict[str, dict[str, Any]]:
    """Type name → schema; the title is the type name, so messages and files say which type."""
    schemas = {}
    for name, model in EVENT_TYPES.items():
        schema = model.model_json_schema(mode="validation")
        schema["title"] = name
        schemas[name] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    """Stable text, so that a diff of a schema file shows only real changes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> None:
    """Write every schema. Files of types no longer in the catalogue are left for ``--check``
    to report: dropping a type within a version is a breaking change someone must own."""
    directory.mkdir(exist_ok=True)
    for name, schema in generate().items():
        (directory / f"{name}.json").write_text(render(schema), encoding="utf-8")


def check(directory: Path = SCHEMA_DIR, baseline: Path | None = None) -> list[str]:
    """Drift of ``directory`` against the models, and breaking changes since ``baseline``
    (``directory`` itself by default)."""
    generated = generate()
    committed = _read(directory)
    problems = [
        f"{name}: no committed schema, {_REGENERATE}" for name in generated.keys() - committed
    ]
    problems += [
        f"{name}: committed schema is out of date, {_REGENERATE}"
        for name, text in committed.items()
        if name in generated and text != render(generated[name])
    ]
    old = committed if baseline is None else _read(baseline)
    for name, text in old.items():
        if name not in generated:
            problems.append(f"{name}: type removed from the catalogue")
        else:
            problems += breaking_changes(json.loads(text), generated[name])
    return sorted(problems)


def _read(directory: Path) -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in directory.glob("*.json")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.events.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report drift and breaking changes")
    parser.add_argument("--baseline", type=Path, help="schemas to check compatibility against")
    args = parser.parse_args(argv)
    if not args.check:
        write()
        return 0
    problems = check(baseline=args.baseline)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

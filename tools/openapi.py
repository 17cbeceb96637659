"""Write the OpenAPI documents of the three services to ``docs/openapi/<service>.json``.

``python -m tools.openapi`` regenerates them; ``--check`` writes nothing and exits 1 when a
committed document differs from what the code generates (drift). The apps are built without a
database and their lifespan never runs, so nothing is connected to.

This lives outside the ``onramp`` package on purpose: that tooling runs the services as
processes and must not import them (an import-linter contract).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from services.feedback.config import service_spec
from services.notify.config import SPEC as NOTIFY
from services.rollout.config import SPEC as ROLLOUT
from shared.service import ServiceSpec, create_app
from shared.settings import Settings

OUT_DIR = Path(__file__).resolve().parent.parent / "docs" / "openapi"
SPECS: Mapping[str, ServiceSpec] = {
    "feedback": service_spec(),
    "rollout": ROLLOUT,
    "notify": NOTIFY,
}
# Only to satisfy the token verifier's constructor; no token is ever signed or checked.
_SECRET = "openapi-generation-only-secret-32b+"


def document(spec: ServiceSpec) -> str:
    """The service's OpenAPI document: sorted keys, indent 2, trailing newline."""
    settings = Settings(jwt_secret=SecretStr(_SECRET), database_url=None)
    app = create_app(spec, settings)
    return json.dumps(app.openapi(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def documents() -> dict[str, str]:
    return {name: document(spec) for name, spec in SPECS.items()}


def stale(out_dir: Path = OUT_DIR) -> list[Path]:
    """Committed documents that differ from the generated ones (or are missing)."""
    found = []
    for name, text in documents().items():
        path = out_dir / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 on drift, write nothing")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        drift = stale(args.out)
        for path in drift:
            print(f"{path}: out of date; run make openapi", file=sys.stderr)
        return 1 if drift else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        path = args.out / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

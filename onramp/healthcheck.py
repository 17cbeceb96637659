"""The container's HEALTHCHECK: ``python -m onramp.healthcheck [URL]`` exits 0 when the URL
answers 200, 1 otherwise. Standard library only, so it costs little every few seconds.

The default URL is ``/health/live`` on ``ONRAMP_HEALTHCHECK_PORT`` (8000, the port every service
listens on inside the image).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence


def check(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    port = os.environ.get("ONRAMP_HEALTHCHECK_PORT", "8000")
    url = args[0] if args else f"http://127.0.0.1:{port}/health/live"
    return 0 if check(url) else 1


if __name__ == "__main__":
    sys.exit(main())

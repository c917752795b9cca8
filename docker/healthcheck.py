"""Container health check: GET a URL inside the container, healthy on one of the given statuses.

``python trading-healthcheck URL [STATUS ...]`` exits 0 when the answer's status is one of
STATUS (default 200), else 1. Both images are healthy when their ``/metrics`` answers 200 (the
MCP suite serves it beside ``/mcp``).
Standard library only: the images carry no curl or wget.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4.0


def check(url: str, expected: set[int]) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    if status not in expected:
        print(f"unhealthy: {url} answered {status}, not {sorted(expected)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: trading-healthcheck URL [STATUS ...]", file=sys.stderr)
        return 2
    return check(argv[1], {int(code) for code in argv[2:]} or {200})


if __name__ == "__main__":
    sys.exit(main(sys.argv))

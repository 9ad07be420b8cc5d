"""``python -m stepkit.endpoint [--port 4566] [--state-dir .stepkit]``: ``stepkit up`` without the
rest of the command line: it starts faster (one JSON line on stdout once every service is up)."""

from __future__ import annotations

import argparse
import json
import sys

from stepkit.endpoint.server import DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepkit.endpoint", description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-dir", default=".stepkit")
    args = parser.parse_args(argv)

    def ready(endpoint: object) -> None:
        print(json.dumps(endpoint.describe()), flush=True)  # type: ignore[attr-defined]

    return serve(args.port, args.state_dir, on_ready=ready)


if __name__ == "__main__":
    sys.exit(main())

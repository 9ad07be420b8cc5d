"""``python -m stepkit.localstack_plugin install|start|stop|status``: LocalStack on the host."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stepkit.localstack_plugin import host


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepkit.localstack_plugin", description=__doc__)
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=host.DEFAULT_PORT)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path.cwd() / ".stepkit",
        help="where the venv, the pid file and the logs go (default: ./.stepkit)",
    )
    parser.add_argument("--services", default=host.DEFAULT_SERVICES)
    args = parser.parse_args(argv)
    setup = host.Setup(state_dir=args.state_dir)
    pid_file = setup.pid_file(args.port)
    try:
        if args.command in ("install", "start"):
            seconds = host.ensure_installed(setup)
            print(f"LocalStack venv ready: {setup.venv} ({seconds:.1f} s)")
        if args.command == "start":
            instance = host.start(setup, args.port, services=args.services)
            print(
                f"LocalStack {host.LOCALSTACK_VERSION} is up at {instance.endpoint_url} "
                f"(pid {instance.pid}, healthy after {instance.started_s:.1f} s)"
            )
            print(f"log: {instance.log_file}\npid file: {instance.pid_file}")
        elif args.command == "stop":
            recorded = host.read_instance(pid_file)
            if recorded is None:
                print(f"No LocalStack recorded in {pid_file}")
                return 0
            stopped = host.stop(recorded)
            print(
                f"Stopped LocalStack (pids {', '.join(map(str, stopped))})"
                if stopped
                else f"LocalStack (pid {recorded.pid}) was not running"
            )
        elif args.command == "status":
            recorded = host.read_instance(pid_file)
            if recorded is None:
                print(f"No LocalStack recorded in {pid_file}")
                return 1
            print(json.dumps({**recorded.__dict__, "health": host.health(recorded.endpoint_url)}, indent=2))
    except host.LocalStackUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

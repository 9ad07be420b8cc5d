"""``stepkit up``: the local AWS endpoint; ``stepkit logs``: a function's log on a running
one (the endpoint found by :func:`stepkit.cli.common.endpoint_url`), through boto3 as any
client would, like ``sam logs`` and ``aws logs tail``.

Exit codes: 0 success; 1 the endpoint answered with an error; 2 bad usage, or no endpoint
answers at that URL.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from stepkit.cli.common import EXIT_USAGE, console, endpoint_option, fail, json_option
from stepkit.cli.common import endpoint_url as resolve_endpoint
from stepkit.cli.remote import call, client, stack_name_of

region_option = click.option("--region", default=lambda: os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                             show_default="$AWS_DEFAULT_REGION or us-east-1")


@click.command("up")
@click.option("--port", type=int, default=4566, show_default=True, help="The port on 127.0.0.1.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".stepkit"),
              show_default=True, help="Where executions, functions and moto's state are kept.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (URL, services, state) once serving.")
def up_command(port: int, state_dir: Path, as_json: bool) -> None:
    """Serve Step Functions, Lambda, S3, SQS, SNS, IAM, STS, EventBridge, CloudWatch Logs and
    DynamoDB on 127.0.0.1 until interrupted."""
    from stepkit.endpoint.server import serve

    out = console()

    def listening(endpoint: Any) -> None:
        if not as_json:
            out.print(f"[bold green]stepkit endpoint[/] on [bold]{endpoint.url}[/] "
                          f"(listening after {endpoint.listening_in * 1000:.0f} ms; state in {endpoint.state_dir})")

    def ready(endpoint: Any) -> None:
        info = endpoint.describe()
        if as_json:
            click.echo(json.dumps(info))
            return
        stepkit_side = [k for k, v in info["services"].items() if v.startswith("stepkit")]
        moto_side = [k for k, v in info["services"].items() if v == "moto"]
        out.print(f"  ready after {info['started_in_s'] * 1000:.0f} ms")
        out.print(f"  served by stepkit: {', '.join(stepkit_side)}")
        out.print(f"  served by moto:    {', '.join(moto_side)}")
        out.print(f"  viewer:            {info['url']}/_stepkit/ui/")
        if info["resumed_executions"]:
            out.print(f"  resumed {info['resumed_executions']} running execution(s)")
        out.print(f"  export AWS_ENDPOINT_URL={info['url']} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
                      "AWS_DEFAULT_REGION=us-east-1")
        out.print("  (StartSyncExecution: also AWS_DISABLE_HOST_PREFIX_INJECTION=true, as with any local "
                      "endpoint)  [dim]Ctrl-C stops[/]")

    try:
        serve(port, state_dir, on_listening=listening, on_ready=ready)
    except SystemExit as exc:
        if isinstance(exc.code, str):  # the port cannot be bound: say so in one line (or JSON)
            fail(exc.code.removeprefix("stepkit: "), kind="PortUnavailable", exit_code=EXIT_USAGE, port=port)
        raise


_FOLLOW_LOOKBACK_MS = 5 * 60 * 1000
_SINCE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_millis(value: str, now: datetime | None = None) -> int:
    """``--since``: a duration back from now (``30s``, ``10m``, ``1h``, ``2d``, ``1w``) or an
    ISO 8601 time (local time when it names no zone), as milliseconds since the epoch."""
    now = now or datetime.now().astimezone()
    match = _SINCE.match(value.strip())
    if match:
        moment = now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r} is neither a duration (10m, 1h, 2d) nor an ISO time "
                                     "(2026-01-31T12:00)", param_hint="--since") from None
        if moment.tzinfo is None:
            moment = moment.astimezone()
    return int(moment.timestamp() * 1000)


def _log_group(logs: Any, function: str) -> str:
    """The log group of ``function``: as named, or the deployed function of the stack's name."""
    if function.startswith("/"):
        return function
    group = f"/aws/lambda/{function}"
    found = call(logs.describe_log_groups, logGroupNamePrefix=group).get("logGroups", [])
    if any(g["logGroupName"] == group for g in found):
        return group
    deployed = stack_name_of(function, "function", None)
    return f"/aws/lambda/{deployed}" if deployed else group


def _line(event: dict[str, Any]) -> str:
    moment = datetime.fromtimestamp(event["timestamp"] / 1000).astimezone().isoformat(timespec="milliseconds")
    return f"{moment} {event['logStreamName']} {event['message'].rstrip()}"


@click.command("logs")
@click.argument("function")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until interrupted.")
@click.option("--since", metavar="DURATION|TIME",
              help="Only events from then on: 30s, 10m, 1h, 2d, 1w back from now, or an ISO 8601 time.")
@click.option("--filter", "filter_pattern", metavar="PATTERN",
              help="A CloudWatch Logs filter pattern (as FilterLogEvents takes it), e.g. ERROR or '\"timed out\"'.")
@endpoint_option
@region_option
@json_option
def logs_command(function: str, follow: bool, since: str | None, filter_pattern: str | None,
                 endpoint_url: str | None, region: str, as_json: bool) -> None:
    """Print a Lambda function's log (its CloudWatch Logs group /aws/lambda/FUNCTION; FUNCTION
    is the deployed name, or the function's name in the project's stack), every log stream
    of it, oldest first: time, stream, message (--json: a JSON object per event)."""
    url = resolve_endpoint(endpoint_url)
    logs = client("logs", url, region)
    group = _log_group(logs, function)
    seen: set[tuple[str, str]] = set()  # eventId is only unique within a stream (moto restarts it per stream)
    floor = since_millis(since) if since else 0
    newest = floor
    while True:
        # Each poll looks back a while before the newest event seen: a stream's events can
        # arrive after a newer one of another stream (seen ones are skipped by their key).
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": max(floor, newest - _FOLLOW_LOOKBACK_MS)}
        if filter_pattern:
            kwargs["filterPattern"] = filter_pattern
        while True:
            page = call(logs.filter_log_events, **kwargs)
            for event in page.get("events", []):
                key = (event["logStreamName"], event["eventId"])
                if key in seen:
                    continue
                seen.add(key)
                newest = max(newest, event["timestamp"])
                click.echo(json.dumps(event) if as_json else _line(event))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        if not follow:
            return
        time.sleep(1.0)


COMMANDS = [up_command, logs_command]

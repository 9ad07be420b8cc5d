"""``stepkit up``: the local AWS endpoint; ``stepkit executions``, ``stepkit history`` and
``stepkit logs`` ask a running one (``--endpoint-url``, default ``$AWS_ENDPOINT_URL`` or
http://127.0.0.1:4566) through boto3, as any client would.

Exit codes: 0 success; 1 the endpoint answered with an error; 2 bad usage, or no endpoint
answers at that URL.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

_DEFAULT_URL = "http://127.0.0.1:4566"
_URL_OPTION = click.option(
    "--endpoint-url",
    default=lambda: os.environ.get("AWS_ENDPOINT_URL") or _DEFAULT_URL,
    show_default="$AWS_ENDPOINT_URL or http://127.0.0.1:4566",
    help="The endpoint to ask.",
)
_REGION_OPTION = click.option("--region", default=lambda: os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                              show_default="us-east-1")
_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.command("up")
@click.option("--port", type=int, default=4566, show_default=True, help="The port on 127.0.0.1.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".stepkit"),
              show_default=True, help="Where executions, functions and moto's state are kept.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line (URL, services, state) once serving.")
def up_command(port: int, state_dir: Path, as_json: bool) -> None:
    """Serve Step Functions, Lambda, S3, SQS, SNS, IAM, STS, EventBridge, CloudWatch Logs and
    DynamoDB on 127.0.0.1 until interrupted."""
    from stepkit.endpoint.server import serve

    console = Console(stderr=False, highlight=False)

    def listening(endpoint: Any) -> None:
        if not as_json:
            console.print(f"[bold green]stepkit endpoint[/] on [bold]{endpoint.url}[/] "
                          f"(listening after {endpoint.listening_in * 1000:.0f} ms; state in {endpoint.state_dir})")

    def ready(endpoint: Any) -> None:
        info = endpoint.describe()
        if as_json:
            click.echo(json.dumps(info))
            return
        stepkit_side = [k for k, v in info["services"].items() if v.startswith("stepkit")]
        moto_side = [k for k, v in info["services"].items() if v == "moto"]
        console.print(f"  ready after {info['started_in_s'] * 1000:.0f} ms")
        console.print(f"  served by stepkit: {', '.join(stepkit_side)}")
        console.print(f"  served by moto:    {', '.join(moto_side)}")
        console.print(f"  viewer:            {info['url']}/_stepkit/ui/")
        if info["resumed_executions"]:
            console.print(f"  resumed {info['resumed_executions']} running execution(s)")
        console.print(f"  export AWS_ENDPOINT_URL={info['url']} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
                      "AWS_DEFAULT_REGION=us-east-1")
        console.print("  (StartSyncExecution: also AWS_DISABLE_HOST_PREFIX_INJECTION=true, as with any local "
                      "endpoint)  [dim]Ctrl-C stops[/]")

    serve(port, state_dir, on_listening=listening, on_ready=ready)


def _client(service: str, url: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service, endpoint_url=url, region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, connect_timeout=2),
    )


def _call(fn: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        return fn(**kwargs)
    except EndpointConnectionError as exc:
        raise click.UsageError(f"no endpoint answers at {exc.kwargs.get('endpoint_url')}: start one with "
                               "`stepkit up`") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        click.echo(f"{error.get('Code')}: {error.get('Message')}", err=True)
        raise SystemExit(1) from None


def _pages(fn: Any, key: str, **kwargs: Any) -> list[Any]:
    """Every item of a paginated call, through ``_call`` (so its errors read as the others)."""
    items: list[Any] = []
    token = None
    while True:
        page = _call(fn, **kwargs, **({"nextToken": token} if token else {}))
        items.extend(page[key])
        token = page.get("nextToken")
        if not token:
            return items


def _when(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else ""


_STATUS_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "ABORTED": "yellow", "TIMED_OUT": "red", "RUNNING": "cyan"}


@click.command("executions")
@click.argument("state_machine", required=False)
@click.option("--status", type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED",
                                             "PENDING_REDRIVE"]), help="Only executions with this status.")
@_URL_OPTION
@_REGION_OPTION
@_JSON_OPTION
def executions_command(state_machine: str | None, status: str | None, endpoint_url: str, region: str,
                       as_json: bool) -> None:
    """List the executions of a state machine (name or ARN), or of every state machine."""
    sfn = _client("stepfunctions", endpoint_url, region)
    machines = _pages(sfn.list_state_machines, "stateMachines") if state_machine is None or ":" not in \
        state_machine else []
    if state_machine is None:
        arns = [m["stateMachineArn"] for m in machines if m["type"] == "STANDARD"]
    elif ":" in state_machine:
        arns = [state_machine]
    else:
        arns = [m["stateMachineArn"] for m in machines if m["name"] == state_machine]
        if not arns:
            raise click.UsageError(f"no state machine named {state_machine!r} at {endpoint_url}")
    rows = []
    for arn in arns:
        kwargs: dict[str, Any] = {"stateMachineArn": arn}
        if status:
            kwargs["statusFilter"] = status
        rows.extend(_pages(sfn.list_executions, "executions", **kwargs))
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table("state machine", "name", "status", "started", "stopped")
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "")
        table.add_row(row["stateMachineArn"].rsplit(":", 1)[-1], row["name"], f"[{style}]{row['status']}[/]",
                      _when(row.get("startDate")), _when(row.get("stopDate")))
    Console().print(table)


@click.command("history")
@click.argument("execution_arn")
@_URL_OPTION
@_REGION_OPTION
@_JSON_OPTION
def history_command(execution_arn: str, endpoint_url: str, region: str, as_json: bool) -> None:
    """Print the event history of one execution."""
    sfn = _client("stepfunctions", endpoint_url, region)
    events = _pages(sfn.get_execution_history, "events", executionArn=execution_arn, maxResults=1000)
    if as_json:
        click.echo(json.dumps(events, default=str, indent=2))
        return
    table = Table("id", "type", "time", "details")
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        summary = details.get("name") or details.get("error") or details.get("resource") or ""
        if details.get("cause"):
            summary = f"{summary}: {details['cause'][:80]}"
        table.add_row(str(event["id"]), event["type"], _when(event["timestamp"]), str(summary))
    Console().print(table)


@click.command("logs")
@click.argument("function")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until interrupted.")
@_URL_OPTION
@_REGION_OPTION
def logs_command(function: str, follow: bool, endpoint_url: str, region: str) -> None:
    """Print a Lambda function's log (its CloudWatch Logs group /aws/lambda/FUNCTION)."""
    logs = _client("logs", endpoint_url, region)
    group = f"/aws/lambda/{function}"
    seen: set[str] = set()
    start = 0
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start}
        while True:
            page = _call(logs.filter_log_events, **kwargs)
            for event in page.get("events", []):
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
                start = max(start, event["timestamp"])
                click.echo(event["message"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        if not follow:
            return
        time.sleep(1.0)


COMMANDS = [up_command, executions_command, history_command, logs_command]

"""``stepkit cost``: what a run costs on AWS, as STANDARD and as EXPRESS, with its Lambda
invocations; ``stepkit simulate``: how a run scales under AWS's quotas.

Exit codes: 0 success; 1 the execution failed (its cost is still printed); 2 bad usage,
unreadable input, or no endpoint answers.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

_ARCHITECTURES = click.Choice(["x86_64", "arm64"])


def _usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:.6f}" if value < 0.01 else f"${value:,.4f}"


@click.command("cost")
@click.argument("definition", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "input_", metavar="JSON|@FILE", help="Execution input of the local run (default {}).")
@click.option("--execution", "execution_arn", metavar="ARN", help="Price this execution of an endpoint instead.")
@click.option("--endpoint-url", default=lambda: os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:4566",
              show_default="$AWS_ENDPOINT_URL or http://127.0.0.1:4566", help="The endpoint of --execution.")
@click.option("--region", help="The region whose prices apply (default: the execution's, else us-east-1).")
@click.option("--architecture", type=_ARCHITECTURES, help="Price every function as this architecture "
              "(default: each function's own).")
@click.option("--free-tier", is_flag=True, help="Also show the cost were this run the month's only usage.")
@click.option("--sub", "subs", multiple=True, metavar="NAME=VALUE", help="A definition substitution (as run).")
@click.option("--skip-waits", is_flag=True, help="Do not really wait in Wait states and retries.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path),
              help="The project whose functions/ run Lambda tasks (default: found from the working directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the cost document as JSON.")
def cost_command(definition: Path | None, input_: str | None, execution_arn: str | None, endpoint_url: str,
                 region: str | None, architecture: str | None, free_tier: bool, subs: tuple[str, ...],
                 skip_waits: bool, project: Path | None, as_json: bool) -> None:
    """Price one run of the state machine DEFINITION (run locally, as `stepkit run` runs it), or
    the endpoint's execution --execution ARN: Standard's state transitions and Express's
    requests and GB-hours side by side, Lambda's requests and GB-seconds from each invocation's
    measured duration and configured memory, per state. Prices are the dated table of
    stepkit/data/prices.json; S3 and SQS requests are not counted.
    """
    from stepkit.estimate.prices import UnknownRegion, load_prices
    from stepkit.estimate.report import price_run

    if (definition is None) == (execution_arn is None):
        raise click.UsageError("give a DEFINITION to run, or --execution ARN (one of them)")
    table = load_prices()
    try:
        if region is not None:  # before running anything
            table.region(region)
    except UnknownRegion as e:
        raise click.BadParameter(str(e), param_hint="--region") from None
    if execution_arn is not None:
        usage, status, region = _remote_usage(execution_arn, endpoint_url, region)
    else:
        assert definition is not None
        usage, status = _local_usage(definition, input_, subs, skip_waits, project, as_json)
    try:
        document = price_run(usage, table, region or "us-east-1", architecture=architecture, free_tier=free_tier)
    except UnknownRegion as e:
        raise click.BadParameter(str(e), param_hint="--region") from None
    document["status"] = status
    if as_json:
        click.echo(json.dumps(document))
    else:
        _print(document)
    sys.exit(0 if status == "SUCCEEDED" else 1)


def _local_usage(definition: Path, input_: str | None, subs: tuple[str, ...], skip_waits: bool,
                 project: Path | None, as_json: bool) -> tuple[Any, str]:
    from stepkit.cli.run_cmd import run_locally
    from stepkit.estimate.usage import LambdaInvocation, usage_from_history

    invocations: list[LambdaInvocation] = []

    def record(config: Any, result: Any) -> None:
        invocations.append(LambdaInvocation(config.name, config.memory_size, result.duration_ms,
                                            result.init_duration_ms, config.architecture, result.request_id))

    execution = run_locally(definition, input_, None, None, None, skip_waits, subs, project, as_json,
                            on_invoke=record)
    text = definition.read_text()
    return usage_from_history(execution.events(), text, invocations), execution.status


def _remote_usage(arn: str, endpoint_url: str, region: str | None) -> tuple[Any, str, str]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

    from stepkit.estimate.remote import fetch_execution
    from stepkit.estimate.usage import usage_from_history

    parts = arn.split(":")
    if len(parts) < 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "execution":
        raise click.BadParameter(f"not an execution ARN: {arn}", param_hint="--execution")
    config = Config(inject_host_prefix=False, retries={"max_attempts": 1}, connect_timeout=2)

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint_url, region_name=parts[3], config=config,
                            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
                            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test")

    try:
        remote = fetch_execution(client, arn)
    except EndpointConnectionError:
        raise click.UsageError(f"no endpoint answers at {endpoint_url}: start one with `stepkit up`") from None
    except (ClientError, ParamValidationError) as e:
        message = e.response.get("Error", {}).get("Message") if isinstance(e, ClientError) else str(e)
        raise click.BadParameter(str(message), param_hint="--execution") from None
    usage = usage_from_history(remote.events, remote.definition, remote.invocations)
    return usage, remote.status, region or parts[3]


def _print(document: dict[str, Any]) -> None:
    out = Console()
    std, exp, lam = document["standard"], document["express"], document["lambda"]
    out.print(f"[bold]{document['status']}[/]  prices of {document['region']} as of {document['prices_checked']}")
    table = Table("state", "entered", "retries", "transitions", "Standard", "Lambda req", "GB-s", "Lambda")
    for row in document["states"]:
        table.add_row(row["name"], str(row["entries"]), str(row["retries"]), str(row["transitions"]),
                      _usd(row["standard_usd"]), str(row["lambda_requests"]), f"{row['lambda_gb_seconds']:.4f}",
                      _usd(row["lambda_usd"]))
    out.print(table)
    lam_usd = lam["usd"] or 0.0
    out.print(f"STANDARD  {std['transitions']} transitions {_usd(std['usd'])}  + Lambda {_usd(lam['usd'])}"
              f"  = [bold]{_usd(std['usd'] + lam_usd)}[/]")
    if exp["usd"] is not None:
        out.print(f"EXPRESS   1 request, {exp['billed_seconds']} s x {exp['billed_memory_mb']} MB {_usd(exp['usd'])}"
                  f"  + Lambda {_usd(lam['usd'])}  = [bold]{_usd(exp['usd'] + lam_usd)}[/]")
    out.print(f"Lambda    {lam['requests']} requests, {lam['billed_ms']} ms billed (init {lam['init_ms']} ms), "
              f"{lam['gb_seconds']:.4f} GB-s")
    if "free_tier" in document:
        free = document["free_tier"]
        out.print(f"free tier (were this the month's only usage): Standard {_usd(free['standard_usd'])}, "
                  f"Lambda {_usd(free['lambda_usd'])}")
    for name in document["missing_prices"]:
        out.print(f"[yellow]no {name} prices for {document['region']} in the table[/]")
    out.print(f"[dim]not counted: {'; '.join(document['not_counted'])}[/]")


COMMANDS = [cost_command]

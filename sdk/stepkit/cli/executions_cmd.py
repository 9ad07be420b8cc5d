"""``stepkit executions``, ``stepkit history`` and ``stepkit start``: executions on a running
endpoint, named as a user names them (a state machine by its name in the stack, an
execution by its name), with tables whose columns paste into the next command.

Exit codes: 0 success (``start``: the execution succeeded); 1 the endpoint answered with an
error, or the execution started did not succeed; 2 bad usage, or no endpoint answers.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click
from rich.text import Text

from stepkit.cli.common import console, dump, endpoint_option, json_option, pasteable_table
from stepkit.cli.common import endpoint_url as resolve_endpoint
from stepkit.cli.endpoint_cmd import region_option
from stepkit.cli.remote import call, client, execution_arn, machine_arn, pages, when

_STATUS_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "ABORTED": "yellow", "TIMED_OUT": "red", "RUNNING": "cyan"}
_STAGE_OPTION = click.option("--stage", "-s", envvar="STEPKIT_STAGE",
                             help="The stage whose deployed names a stack's name stands for (default: dev).")


@click.command("executions")
@click.argument("state_machine", required=False)
@click.option("--status", type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED",
                                             "PENDING_REDRIVE"]), help="Only executions with this status.")
@_STAGE_OPTION
@endpoint_option
@region_option
@json_option
def executions_command(state_machine: str | None, status: str | None, stage: str | None, endpoint_url: str | None,
                       region: str, as_json: bool) -> None:
    """List the executions of STATE_MACHINE (its name, its name in the project's stack, or
    its ARN), or of every standard state machine. The first two columns are what
    `stepkit history MACHINE EXECUTION` takes."""
    url = resolve_endpoint(endpoint_url)
    sfn = client("stepfunctions", url, region)
    if state_machine is None:
        arns = [m["stateMachineArn"] for m in pages(sfn.list_state_machines, "stateMachines")
                if m["type"] == "STANDARD"]
    else:
        arns = [machine_arn(sfn, state_machine, stage, url)]
    rows = []
    for arn in arns:
        rows.extend(pages(sfn.list_executions, "executions", stateMachineArn=arn,
                          **({"statusFilter": status} if status else {})))
    if as_json:
        dump(rows)
        return
    cells = [[Text(row["stateMachineArn"].rsplit(":", 1)[-1]), Text(row["name"]),
              Text(row["status"], style=_STATUS_STYLE.get(row["status"], "")),
              Text(when(row.get("startDate"))), Text(when(row.get("stopDate")))] for row in rows]
    console().print(pasteable_table(["machine", "execution", "status", "started", "stopped"], cells))


def _state_names(events: list[dict[str, Any]]) -> dict[int, str]:
    """The state each event belongs to: an event follows its previousEventId back to a
    StateEntered (a Map's or Parallel's inner events to their own states)."""
    names: dict[int, str] = {}
    for event in events:
        entered = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        inherited = "" if event["type"].startswith("Execution") else names.get(event.get("previousEventId", 0), "")
        names[event["id"]] = entered["name"] if entered else inherited
    return names


def _called(details: dict[str, Any]) -> str:
    """The function (or integration) a task called: a Lambda function's name, else the resource."""
    resource = details.get("resource") or ""
    try:
        parameters = json.loads(details.get("parameters") or "{}")
    except ValueError:
        parameters = {}
    function = parameters.get("FunctionName") if isinstance(parameters, dict) else None
    if function or ":function:" in resource:
        return str(function or resource).split(":function:")[-1]
    return f"{details.get('resourceType', '')}:{resource}".strip(":") if resource else ""


def _summary(details: dict[str, Any], show_data: bool) -> str:
    parts = []
    if details.get("error") is not None:
        parts.append(str(details["error"]))
    if details.get("cause") is not None:
        parts.append(str(details["cause"]))  # whole: a cause cut short hides what went wrong
    if show_data:
        for key in ("input", "parameters", "output", "payload", "result"):
            if details.get(key) is not None:
                parts.append(f"{key}={details[key]}")
    return ": ".join(parts[:2]) + "".join(f"\n{p}" for p in parts[2:])


@click.command("history")
@click.argument("execution", metavar="[MACHINE] EXECUTION")
@click.argument("name", required=False, metavar="")
@click.option("--data", "show_data", is_flag=True, help="Show each event's input, parameters and output too.")
@_STAGE_OPTION
@endpoint_option
@region_option
@json_option
def history_command(execution: str, name: str | None, show_data: bool, stage: str | None, endpoint_url: str | None,
                    region: str, as_json: bool) -> None:
    """Print the event history of one execution: `history MACHINE EXECUTION` (as
    `stepkit executions` lists them), `history EXECUTION` when only one state machine has
    an execution of that name, or `history ARN`. Each event shows its state and the
    function a task called; errors show their whole cause; --data adds inputs and outputs."""
    url = resolve_endpoint(endpoint_url)
    sfn = client("stepfunctions", url, region)
    arn = execution_arn(sfn, execution, name, stage, url)
    events = pages(sfn.get_execution_history, "events", executionArn=arn, maxResults=1000)
    if as_json:
        dump(events)
        return
    states = _state_names(events)
    called: dict[int, str] = {}
    cells = []
    for event in events:
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        scheduled = "parameters" in details or ":function:" in str(details.get("resource", ""))
        function = (_called(details) if scheduled else "") or called.get(event.get("previousEventId", 0), "")
        called[event["id"]] = function if not event["type"].endswith(("StateEntered", "StateExited")) else ""
        style = "red" if event["type"].endswith(("Failed", "TimedOut", "Aborted")) else ""
        cells.append([Text(str(event["id"])), Text(event["type"], style=style), Text(states.get(event["id"], "")),
                      Text(called[event["id"]]), Text(when(event["timestamp"])), Text(_summary(details, show_data))])
    console().print(pasteable_table(["id", "type", "state", "called", "time", "details"], cells, flexible="details"))


@click.command("start")
@click.argument("state_machine")
@click.option("--input", "input_", metavar="JSON|@FILE", help="The execution's input (default {}).")
@click.option("--name", help="The execution's name (default: a UUID).")
@click.option("--no-follow", is_flag=True, help="Print the execution's ARN and return at once.")
@_STAGE_OPTION
@endpoint_option
@region_option
@json_option
def start_command(state_machine: str, input_: str | None, name: str | None, no_follow: bool, stage: str | None,
                  endpoint_url: str | None, region: str, as_json: bool) -> None:
    """Start an execution of STATE_MACHINE (its name, its name in the project's stack, or
    its ARN) and follow it to the end: a line per state as it is entered, then the output,
    or the error and cause. Exit code 0 when it succeeded, 1 when it did not."""
    from stepkit.cli.inputs import read_json_argument

    payload = read_json_argument(input_, "--input", default={})
    url = resolve_endpoint(endpoint_url)
    sfn = client("stepfunctions", url, region)
    arn = machine_arn(sfn, state_machine, stage, url)
    kwargs = {"stateMachineArn": arn, "input": json.dumps(payload), **({"name": name} if name else {})}
    if call(sfn.describe_state_machine, stateMachineArn=arn).get("type") == "EXPRESS":
        _report(call(sfn.start_sync_execution, **kwargs), as_json)
    started = call(sfn.start_execution, **kwargs)
    if no_follow:
        if as_json:
            dump(started)
        else:
            console().print(started["executionArn"])
        return
    _follow(sfn, started["executionArn"], as_json)
    _report(call(sfn.describe_execution, executionArn=started["executionArn"]), as_json)


def _follow(sfn: Any, arn: str, quiet: bool) -> None:
    from stepkit.demo.watch import ExecutionView, StageTime, follow

    out = console(stderr=True)
    machine, execution = arn.split(":")[-2:]
    if not quiet:
        out.print(f"started [bold]{execution}[/] of {machine}  (stepkit history {machine} {execution})")
    view = ExecutionView(arn)
    checked = _Checked(sfn)
    for event in follow(checked, arn, poll=0.3, deadline=365 * 86400.0):
        changed = view.add(event)
        if not quiet and isinstance(changed, StageTime) and changed.ended is None:
            out.print(f"  [dim]→[/dim] {changed.name} [dim]({changed.kind})[/dim]")


class _Checked:
    """The client as :func:`stepkit.demo.watch.follow` uses it, its errors as the CLI's."""

    def __init__(self, sfn: Any) -> None:
        self.sfn = sfn

    def get_execution_history(self, **kwargs: Any) -> Any:
        return call(self.sfn.get_execution_history, **kwargs)


def _report(described: dict[str, Any], as_json: bool) -> NoReturn:
    """Print how an execution ended, and exit 0 when it succeeded, 1 otherwise."""
    status = described.get("status", "")
    if as_json:
        dump(described)
    else:
        out = console()
        out.print(Text(status, style=f"bold {_STATUS_STYLE.get(status, '')}"), described.get("executionArn", ""))
        if status == "SUCCEEDED":
            out.print(described.get("output") or "null", markup=False)
        else:
            out.print(Text(f"error: {described.get('error')}", style="red"))
            out.print(Text(f"cause: {described.get('cause')}", style="red"))
    raise SystemExit(0 if status == "SUCCEEDED" else 1)


COMMANDS = [executions_command, history_command, start_command]

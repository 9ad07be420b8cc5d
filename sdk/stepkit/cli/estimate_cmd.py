"""``stepkit cost``: what a run costs on AWS, as STANDARD and as EXPRESS, with its Lambda
invocations; ``stepkit simulate``: how a run scales under AWS's quotas.

Exit codes: 0 success; 1 the execution failed (its cost is still printed); 2 bad usage,
unreadable input, or no endpoint answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from stepkit.cli.common import console, endpoint_option
from stepkit.cli.common import endpoint_url as resolve_endpoint

_ARCHITECTURES = click.Choice(["x86_64", "arm64"])


def _usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:.6f}" if value < 0.01 else f"${value:,.4f}"


@click.command("cost")
@click.argument("definition", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "input_", metavar="JSON|@FILE", help="Execution input of the local run (default {}).")
@click.option("--execution", "execution_arn", metavar="ARN", help="Price this execution of an endpoint instead.")
@endpoint_option
@click.option("--region", help="The region whose prices apply (default: the execution's, else us-east-1).")
@click.option("--architecture", type=_ARCHITECTURES, help="Price every function as this architecture "
              "(default: each function's own).")
@click.option("--free-tier", is_flag=True, help="Also show the cost were this run the month's only usage.")
@click.option("--sub", "subs", multiple=True, metavar="NAME=VALUE", help="A definition substitution (as run).")
@click.option("--skip-waits", is_flag=True, help="Do not really wait in Wait states and retries.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path),
              help="The project whose functions/ run Lambda tasks (default: found from the working directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the cost document as JSON.")
def cost_command(definition: Path | None, input_: str | None, execution_arn: str | None, endpoint_url: str | None,
                 region: str | None, architecture: str | None, free_tier: bool, subs: tuple[str, ...],
                 skip_waits: bool, project: Path | None, as_json: bool) -> None:
    """Price one run of the state machine DEFINITION (run locally, as `stepkit run` runs it), or
    the endpoint's execution --execution ARN: Standard's state transitions and Express's
    requests and GB-hours side by side, Lambda's requests and GB-seconds from each invocation's
    measured duration and configured memory, per state, a Distributed Map's children as their
    own type, and the S3 and SQS requests its Task states and its functions' own code made (the
    latter known from a local run or a local endpoint's logs, not on AWS). Prices are the dated
    table of stepkit/data/prices.json.
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
        usage, status, region = _remote_usage(execution_arn, resolve_endpoint(endpoint_url), region)
    else:
        assert definition is not None
        usage, execution = _local_usage(definition, input_, subs, skip_waits, project, as_json)
        status = execution.status
    try:
        document = price_run(usage, table, region or "us-east-1", architecture=architecture, free_tier=free_tier)
    except UnknownRegion as e:
        raise click.BadParameter(str(e), param_hint="--region") from None
    document["status"] = status
    if as_json:
        click.echo(json.dumps(document))
    else:
        _print(document)
    sys.exit(1 if status in ("FAILED", "TIMED_OUT", "ABORTED") else 0)  # RUNNING: priced so far


def _local_usage(definition: Path, input_: str | None, subs: tuple[str, ...], skip_waits: bool,
                 project: Path | None, as_json: bool) -> tuple[Any, Any]:
    """The local run's usage, and the finished execution."""
    from stepkit.cli.run_cmd import run_locally
    from stepkit.estimate.usage import LambdaInvocation, run_usage

    invocations: list[LambdaInvocation] = []
    runs: list[tuple[Any, str]] = []

    def record(config: Any, result: Any) -> None:
        invocations.append(LambdaInvocation(config.name, config.memory_size, result.duration_ms,
                                            result.init_duration_ms, config.architecture, result.request_id,
                                            aws_calls=result.aws_calls))

    execution = run_locally(definition, input_, None, None, None, skip_waits, subs, project, as_json,
                            on_invoke=record, on_run=lambda run, text: runs.append((run, text)))
    run, text = runs[0]  # run_locally either prepared the run or raised
    children = _local_children(json.loads(text), run.map_runs.values())
    return run_usage(execution.events(), text, invocations, children, _function_aliases(project)), execution


def _function_aliases(project: Path | None) -> dict[str, str]:
    """Deployed function name -> the project's: a stack's definitions call the deployed names
    (``${NameFunctionArn}``), the runtime reports its invocations under the project's."""
    from stepkit.local import LocalRunError, LocalStack, project_of

    try:
        return LocalStack(project_of(project)).aliases()
    except LocalRunError:  # a definition outside any project: its functions have one name
        return {}


def _local_children(definition: Any, map_runs: Any) -> list[Any]:
    """The Distributed Maps' children of a local run, with their item processors."""
    from stepkit.estimate.usage import ChildHistory, item_processor

    children = []
    for map_run in map_runs:
        processor = item_processor(definition, map_run.state_name) or {}
        text = json.dumps(processor)
        children += [
            ChildHistory([event.to_aws() for event in child.history], text, child.express)
            for child in map_run.executions()
        ]
    return children


def _remote_usage(arn: str, endpoint_url: str, region: str | None) -> tuple[Any, str, str]:
    from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

    from stepkit.cli.remote import client
    from stepkit.estimate.remote import fetch_execution
    from stepkit.estimate.usage import run_usage

    parts = arn.split(":")
    if len(parts) < 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "execution":
        raise click.BadParameter(f"not an execution ARN: {arn}", param_hint="--execution")
    try:
        remote = fetch_execution(lambda service: client(service, endpoint_url, parts[3]), arn)
    except EndpointConnectionError:
        raise click.UsageError(f"no endpoint answers at {endpoint_url}: start one with `stepkit up`") from None
    except (ClientError, ParamValidationError) as e:
        message = e.response.get("Error", {}).get("Message") if isinstance(e, ClientError) else str(e)
        raise click.BadParameter(str(message), param_hint="--execution") from None
    usage = run_usage(remote.events, remote.definition, remote.invocations, remote.children)
    return usage, remote.status, region or parts[3]


def _print(document: dict[str, Any]) -> None:
    out = console()
    std, exp, lam = document["standard"], document["express"], document["lambda"]
    out.print(f"[bold]{document['status']}[/]  prices of {document['region']} as of {document['prices_checked']}")
    table = Table("state", "entered", "retries", "transitions", "Standard", "Lambda req", "GB-s", "Lambda",
                  "its S3/SQS req")
    for row in document["states"]:
        table.add_row(row["name"], str(row["entries"]), str(row["retries"]), str(row["transitions"]),
                      _usd(row["standard_usd"]), str(row["lambda_requests"]), f"{row['lambda_gb_seconds']:.4f}",
                      _usd(row["lambda_usd"]), str(_request_count(row["function_requests"])))
    out.print(table)
    children, total, requests = document["map_children"], document["total"], document["requests"]
    more = f"  + Lambda {_usd(lam['usd'])}"
    if _request_count(requests):
        more += f"  + S3/SQS {_usd(requests['usd'])}"
        out.print(_requests_text("S3 requests", "SQS requests", requests))
    own = document["function_requests"]
    if _request_count(own):
        more += f"  + functions' S3/SQS {_usd(own['usd'])}"
        out.print(_requests_text("Functions' own S3 requests", "SQS requests", own))
    if not document["functions_requests_known"]:
        out.print(f"[yellow]Functions' own S3/SQS requests not known for {own['unknown_invocations']} "
                  "invocation(s): their logs do not list them (Lambda on AWS does not; CloudTrail data events "
                  "would)[/]")
    if children["standard"]["executions"] or children["express"]["requests"]:
        more += f"  + Map children {_usd(children['usd'])}"
        out.print(f"Distributed Map children: {children['standard']['executions']} STANDARD "
                  f"({children['standard']['transitions']} transitions {_usd(children['standard']['usd'])}), "
                  f"{children['express']['requests']} EXPRESS ({children['express']['billed_seconds']} s "
                  f"{_usd(children['express']['usd'])})")
    out.print(f"STANDARD  {std['transitions']} transitions {_usd(std['usd'])}{more}"
              f"  = [bold]{_usd(total['standard'])}[/]")
    if exp["usd"] is not None:
        out.print(f"EXPRESS   1 request, {exp['billed_seconds']} s x {exp['billed_memory_mb']} MB {_usd(exp['usd'])}"
                  f"{more}  = [bold]{_usd(total['express'])}[/]")
    out.print(f"Lambda    {lam['requests']} requests, {lam['billed_ms']} ms billed (init {lam['init_ms']} ms), "
              f"{lam['gb_seconds']:.4f} GB-s")
    if "free_tier" in document:
        free = document["free_tier"]
        out.print(f"free tier (were this the month's only usage): Standard {_usd(free['standard_usd'])}, "
                  f"Lambda {_usd(free['lambda_usd'])}")
    for name in document["missing_prices"]:
        out.print(f"[yellow]no {name} prices for {document['region']} in the table[/]")
    out.print(f"[dim]not counted: {'; '.join(document['not_counted'])}[/]")


def _request_count(requests: dict[str, Any]) -> int:
    s3, sqs = requests["s3"], requests["sqs"]
    return int(s3["tier1"] + s3["tier2"] + s3["free"] + sqs["standard"] + sqs["fifo"])


def _requests_text(s3_label: str, sqs_label: str, requests: dict[str, Any]) -> str:
    s3, sqs = requests["s3"], requests["sqs"]
    return (f"{s3_label}: {s3['tier1']} PUT/COPY/POST/LIST, {s3['tier2']} GET and others, {s3['free']} free "
            f"{_usd(s3['usd'])}; {sqs_label}: {sqs['standard']} standard, {sqs['fifo']} FIFO {_usd(sqs['usd'])}")


def _pairs(values: tuple[str, ...], option: str, kind: type) -> tuple[Any, dict[str, Any]]:
    """``VALUE`` (the default) and ``NAME=VALUE`` items of a repeated option."""
    default, named = None, {}
    for item in values:
        name, sep, text = item.rpartition("=")
        try:
            value = kind(text)
        except ValueError:
            raise click.BadParameter(f"expected {'NAME=' if sep else ''}{kind.__name__.upper()}, got {item!r}",
                                     param_hint=option) from None
        if value < 0:
            raise click.BadParameter(f"{item!r}: must not be negative", param_hint=option)
        if sep:
            named[name] = value
        else:
            default = value
    return default, named


@click.command("simulate")
@click.argument("definition", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "input_", metavar="JSON|@FILE", help="Execution input (default {}).")
@click.option("--task-seconds", "task_seconds", multiple=True, metavar="SECONDS|NAME=SECONDS",
              help="How long Task states take (all, or the state NAME; repeatable). Lambda tasks without "
                   "one take what a local run of the project's functions measures.")
@click.option("--account-concurrency", type=click.IntRange(min=1), help="Lambda's concurrency for the account "
              "(default: the quota table's, 1,000).")
@click.option("--reserved", multiple=True, metavar="FUNCTION=N", help="A function's reserved concurrency "
              "(default: the stack's reserved_concurrency).")
@click.option("--cold-start", type=click.FloatRange(min=0), help="Seconds of a cold start (default: the local "
              "run's measured init duration, else 0).")
@click.option("--executions", type=click.IntRange(min=1), default=1, show_default=True,
              help="Executions started at once.")
@click.option("--type", "workflow_type", type=click.Choice(["STANDARD", "EXPRESS"]), default="STANDARD",
              show_default=True, help="The workflow type whose quotas apply.")
@click.option("--region", default="us-east-1", show_default=True, help="The region whose quotas and prices apply.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the retries' FULL jitter.")
@click.option("--sub", "subs", multiple=True, metavar="NAME=VALUE", help="A definition substitution (as run).")
@click.option("--mock-config", type=click.Path(dir_okay=False, path_type=Path),
              help="A Step Functions Local MockConfigFile whose answers steer the traced path.")
@click.option("--test-case", help="The test case of the mock config to use.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path),
              help="The project whose functions' settings (and, to measure, code) apply.")
@click.option("--json", "as_json", is_flag=True, help="Print the simulation as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw Lambda concurrency over time to this image (.png, .svg or .pdf; needs matplotlib: "
                   "the plot extra).")
def simulate_command(definition: Path, input_: str | None, task_seconds: tuple[str, ...],
                     account_concurrency: int | None, reserved: tuple[str, ...], cold_start: float | None,
                     executions: int, workflow_type: str, region: str, seed: int, subs: tuple[str, ...],
                     mock_config: Path | None, test_case: str | None, project: Path | None, as_json: bool,
                     plot_path: Path | None) -> None:
    """Predict how DEFINITION runs on AWS at scale: a discrete-event model of the execution
    under Lambda's concurrency, scaling rate and cold starts, Step Functions' token buckets
    and Map concurrency, with throttles retried as the definition's Retry says. Prints the
    makespan, Lambda concurrency over time, throttles, retries and the predicted cost. Exit
    code: 0 when the simulated run succeeds, 1 when it fails (a throttle no Retry absorbs).

    The path comes from a local run in which every Task answers its own input (or what
    --mock-config answers); when some Lambda task has no --task-seconds, the project's
    functions run for real instead, and that run gives the durations, the cold starts and,
    without a Distributed Map, the path.
    """
    from stepkit.estimate.prices import UnknownRegion, load_prices
    from stepkit.estimate.quotas import load_quotas
    from stepkit.estimate.simulate import Simulation, simulation_document

    prices, quotas = load_prices(), load_quotas()
    _check_plot(plot_path)
    try:
        prices.region(region)
    except UnknownRegion as e:
        raise click.BadParameter(str(e), param_hint="--region") from None
    if mock_config is not None and test_case is None:
        raise click.BadParameter("--mock-config needs --test-case", param_hint="--test-case")
    default_seconds, named_seconds = _pairs(task_seconds, "--task-seconds", float)
    _, reserved_by_name = _pairs(reserved, "--reserved", int)
    traced = _trace(definition, input_, subs, project, mock_config, test_case, as_json)
    seconds, init = dict(named_seconds), dict[str, float]()
    if default_seconds is None and any(name not in seconds for name in _lambda_states(traced.steps)):
        traced, seconds, init = _measured(traced, definition, input_, subs, project, named_seconds, as_json)
    settings = _settings(traced.steps, seconds, default_seconds, init, reserved_by_name, cold_start, project,
                         account_concurrency or quotas.lambda_.account_concurrency)
    settings.executions, settings.workflow_type, settings.region, settings.seed = (executions, workflow_type,
                                                                                  region, seed)
    outcome = Simulation(traced.steps, settings, quotas, traced.error).run()
    document = simulation_document(outcome, settings, quotas, traced.usage, prices)
    document["cause"] = traced.cause if outcome.failed_state is None and outcome.error else None
    if plot_path is not None:
        from stepkit.estimate.plot import plot_simulation

        try:
            plot_simulation(document, plot_path)
        except OSError as e:
            raise click.BadParameter(f"cannot write {plot_path}: {e.strerror or e}", param_hint="--plot") from None
    if as_json:
        click.echo(json.dumps(document))
    else:
        _print_simulation(document)
    sys.exit(0 if outcome.status == "SUCCEEDED" else 1)


def _check_plot(path: Path | None) -> None:
    """Before anything runs: the image's format, and matplotlib."""
    if path is None:
        return
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter(f"{path}: the image is a .png, .svg or .pdf file", param_hint="--plot")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.BadParameter("drawing needs matplotlib: pip install 'stepkit[plot]'", param_hint="--plot") from None


def _trace(definition: Path, input_: str | None, subs: tuple[str, ...], project: Path | None,
           mock_config: Path | None, test_case: str | None, as_json: bool) -> Any:
    """The definition's path through its input (tasks answering their input): a ``Traced``."""
    from stepkit.asl.substitutions import UnresolvedSubstitution, substitute
    from stepkit.cli.inputs import read_json_argument
    from stepkit.cli.run_cmd import _fail_definition, _parse_subs
    from stepkit.estimate.trace import stub_trace
    from stepkit.runner import InvalidDefinition, InvalidExecutionInput

    payload = read_json_argument(input_, "--input", default={})
    try:
        text = definition.read_text()
    except OSError as e:
        raise click.BadParameter(f"cannot read {definition}: {e.strerror}", param_hint="DEFINITION") from None
    from stepkit.stack.references import function_substitutions

    values = function_substitutions(list(_function_settings(project)),
                                    lambda fn: f"arn:aws:lambda:us-east-1:123456789012:function:{fn}")
    values.update(_parse_subs(subs))
    err = console(stderr=True)
    try:
        parsed = json.loads(substitute(text, values))
    except UnresolvedSubstitution as e:
        raise click.BadParameter(f"{e}; give it with --sub NAME=VALUE", param_hint="--sub") from None
    except json.JSONDecodeError as e:
        _fail_definition(err, as_json, f"{definition}: invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})")
    try:
        return stub_trace(parsed, payload, mock_config, test_case)
    except InvalidDefinition as e:
        _fail_definition(err, as_json, str(e), e.diagnostics)
    except InvalidExecutionInput as e:
        raise click.BadParameter(str(e), param_hint="--input") from None
    except (ValueError, OSError) as e:  # what is wrong with the mock config
        raise click.BadParameter(str(e), param_hint="--mock-config") from None
    raise AssertionError("unreachable")  # _fail_definition exits


def _walk(steps: list[Any]) -> Any:
    for step in steps:
        yield step
        for child in step.children:
            yield from _walk(child)


def _lambda_states(trace: list[Any]) -> dict[str, str]:
    """Lambda Task states of a trace, by name, with their function."""
    return {step.name: step.function for step in _walk(trace) if step.kind == "Task" and step.function}


def _measured(traced: Any, definition: Path, input_: str | None, subs: tuple[str, ...], project: Path | None,
              named_seconds: dict[str, float], as_json: bool) -> tuple[Any, dict[str, float], dict[str, float]]:
    """A real local run: its trace when it has no Distributed Map (the children's histories are
    not at hand), the mean seconds of each Lambda state and the mean cold start of each function."""
    from stepkit.estimate.trace import traced_execution

    usage, execution = _local_usage(definition, input_, subs, False, project, as_json)
    if not any(event["type"] == "MapRunStarted" for event in execution.events()):
        traced = traced_execution(json.loads(definition.read_text()), execution)
    seconds = dict(named_seconds)
    for name, state in usage.states.items():
        if state.lambda_invocations and name not in seconds:
            durations = [i.duration_ms / 1000 for i in state.lambda_invocations]
            seconds[name] = sum(durations) / len(durations)
    missing = [name for name in _lambda_states(traced.steps) if name not in seconds]
    if missing:
        raise click.BadParameter(f"the local run did not run {', '.join(missing)}: give --task-seconds",
                                 param_hint="--task-seconds")
    inits: dict[str, list[float]] = {}
    for invocation in usage.lambda_invocations:
        if invocation.init_duration_ms is not None:
            inits.setdefault(invocation.function, []).append(invocation.init_duration_ms / 1000)
    return traced, seconds, {name: sum(values) / len(values) for name, values in inits.items()}


def _settings(trace: list[Any], seconds: dict[str, float], default_seconds: float | None, init: dict[str, float],
              reserved: dict[str, int], cold_start: float | None, project: Path | None,
              account_concurrency: int) -> Any:
    """The simulation's settings; each function's memory, architecture and reserved
    concurrency from the project's stack (--reserved first)."""
    from stepkit.estimate.simulate import FunctionModel, Settings

    functions = {}
    stack = _function_settings(project)
    for function in set(_lambda_states(trace).values()) | set(reserved):
        memory, architecture, stack_reserved = stack.get(function, (128, "x86_64", None))
        functions[function] = FunctionModel(memory, architecture, reserved.get(function, stack_reserved),
                                            cold_start if cold_start is not None else init.get(function, 0.0))
    return Settings(task_seconds=seconds, default_task_seconds=default_seconds or 0.0, functions=functions,
                    account_concurrency=account_concurrency)


def _function_settings(project: Path | None) -> dict[str, tuple[int, str, int | None]]:
    from stepkit.stack.loader import StackError
    from stepkit.stack.project import Project

    try:
        functions = Project.discover(project).functions()
    except StackError as e:
        raise click.ClickException(str(e)) from None
    return {f.name: (f.settings.memory_size, f.settings.architecture, f.settings.reserved_concurrency)
            for f in functions}


def _print_simulation(document: dict[str, Any]) -> None:
    out = console()
    style = "green" if document["status"] == "SUCCEEDED" else "red"
    out.print(f"[bold {style}]{document['status']}[/] predicted makespan [bold]{document['makespan_seconds']} s[/] "
              f"({document['executions']} {document['type']} execution(s), quotas of {document['quotas']['checked']})")
    if document["error"]:
        where = f" in {document['failed_state']}" if document["failed_state"] else " (the traced run ended so)"
        out.print(f"[red]{document['error']}[/]{where}" + (f": {document['cause']}" if document["cause"] else ""))
    lam = document["lambda"]
    out.print(f"Lambda: {lam['invocations']} invocations, peak concurrency {lam['peak_concurrency']} "
              f"(account {document['quotas']['account_concurrency']}), {lam['cold_starts']} cold starts")
    throttles = ", ".join(f"{k} {v}" for k, v in document["throttles"].items()) or "none"
    out.print(f"throttles: {throttles}; retries {document['retries']}; transitions {document['transitions']}")
    series = document["concurrency"]
    peak = max((n for _, n in series), default=0) or 1
    for when, value in series[:: max(1, len(series) // 20)]:
        out.print(f"  {when:9.2f}s {'#' * round(40 * value / peak):<40} {value}")
    cost = document["cost"]
    total, children = cost["total"], cost["map_children"]
    out.print(f"cost: STANDARD {_usd(total['standard'])}"
              + (f", EXPRESS {_usd(total['express'])}" if total["express"] is not None else "")
              + f" (Lambda {_usd(cost['lambda']['usd'])}"
              + (f", Distributed Map children {_usd(children['usd'])})" if children["usd"] else ")"))


COMMANDS = [cost_command, simulate_command]

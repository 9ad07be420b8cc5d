"""``stepkit serving``: the serving API's versions, live metrics, routing policy and rollout log.

Talks to the deployed serving API (``functions/serving``): ``--url`` (or ``$STEPKIT_SERVING_URL``),
else the API of the stack's deploy record for ``--stage`` on ``--target`` (as ``stepkit status``
shows it). Exit codes: 0 success; 1 the API answered with an error (an unknown version, a
policy that does not validate, a conflict); 2 bad arguments, or no API to talk to.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from stepkit.cli.common import EXIT_FAILED, EXIT_USAGE, console, dump, fail, json_option, pasteable_table

_KIND_OPTIONS = ("champion", "weighted", "thompson", "epsilon_greedy", "shadow", "ensemble")


def _api_options(function: Any) -> Any:
    options = [
        click.option("--url", envvar="STEPKIT_SERVING_URL", metavar="URL",
                     help="The serving API's base URL (default: the deployed stack's, see --stage/--target)."),
        click.option("--stage", "-s", default="dev", show_default=True, envvar="STEPKIT_STAGE",
                     help="The stage whose deployed API to use (without --url)."),
        click.option("--target", "-t", default="local", show_default=True, envvar="STEPKIT_TARGET",
                     type=click.Choice(["local", "localstack", "aws"]), help="Where the stack is deployed."),
        click.option("--endpoint-url", metavar="URL", help="The target's endpoint (local and localstack)."),
        click.option("--stack", type=click.Path(dir_okay=False, path_type=Path),
                     help="The stack file (default: infra/stack.yaml found from the current folder up)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _base_url(url: str | None, stage: str, target: str, endpoint: str | None, stack: Path | None,
              as_json: bool) -> str:
    if url:
        return url.rstrip("/")
    from stepkit.cli.deploy_cmd import _open
    from stepkit.demo.serving import api_url

    deployment = _open(stack, stage, target, None, None, as_json, None, endpoint)
    try:
        rows = deployment.status()
    except Exception as exc:  # the target does not answer, or refuses: no API to find
        fail(f"cannot read the deployed stack on {target}: {type(exc).__name__}: {exc}", kind="TargetError",
             exit_code=EXIT_USAGE)
    found = api_url(rows)
    if found is None:
        fail(f"no serving API is deployed for stage {stage} on {target} (deploy the stack, or give --url)",
             kind="NoServingApi", exit_code=EXIT_USAGE)
    return found


def _call(base: str, path: str, body: Any = None, method: str = "GET") -> Any:
    """The API's JSON answer; an error answer is exit 1, no answer at all exit 2."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            message = json.loads(raw).get("error") or raw.decode(errors="replace")
        except (ValueError, AttributeError):
            message = raw.decode(errors="replace")
        fail(f"{method} {path}: {err.code}: {message}", kind=f"Http{err.code}", exit_code=EXIT_FAILED,
             status=err.code)
    except (urllib.error.URLError, OSError) as err:
        fail(f"the serving API at {base} does not answer: {err}", kind="ServingApiUnreachable",
             exit_code=EXIT_USAGE)


@click.group("serving")
def serving_group() -> None:
    """The serving API: per-version metrics, the routing policy, the rollout's decisions."""


def _fmt(value: Any, spec: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def status_table(models: dict[str, Any]) -> Table:
    """One row per version (and per ensemble arm): share, traffic, latency, errors, accuracy."""
    policy = models["policy"]
    arms = [(v["version"], ",".join(v["aliases"]), v) for v in models["versions"]]
    arms += [(name, "", arm) for name, arm in (models.get("other_arms") or {}).items()]
    rows = []
    for name, aliases, arm in arms:
        m = arm["metrics"]
        errors = Text(f"{m['errors']} ({_fmt(m['error_rate'], '.1%')})" if m["requests"] else "0",
                      style="red" if m["errors"] else "")
        rows.append([Text(name), Text(aliases), Text(_fmt(arm["share"], ".0f", "%")),
                     Text(_fmt(arm["observed_share"], ".1%")), Text(str(m["requests"])), Text(_fmt(m["p50_ms"])),
                     Text(_fmt(m["p99_ms"])), errors, Text(_fmt(m["accuracy"], ".3f")), Text(str(m["feedbacks"])),
                     Text(_fmt(m["shadow_agreement"], ".1%"))])
    # Cells and headers are never wrapped (a narrow pipe keeps "p99 ms" whole).
    table = pasteable_table(["version", "aliases", "share", "observed", "requests", "p50 ms", "p99 ms", "errors",
                             "accuracy", "feedback", "shadow agree"], rows)
    table.title = f"model {models['model_name']}: policy {json.dumps(policy)} (revision {models['revision']})"
    return table


@serving_group.command("status")
@_api_options
@json_option
def status_command(url: str | None, stage: str, target: str, endpoint_url: str | None, stack: Path | None,
                   as_json: bool) -> None:
    """Per version: traffic share (configured and observed), requests, p50/p99 latency, errors,
    accuracy from feedback."""
    models = _call(_base_url(url, stage, target, endpoint_url, stack, as_json), "/models")
    if as_json:
        dump(models)
    else:
        console().print(status_table(models))


def _versions(text: str) -> list[str]:
    versions = [v.strip() for v in text.split(",") if v.strip()]
    if not versions:
        raise click.BadParameter(f"{text!r}: give versions separated by commas, for example 3,4")
    return versions


def _weights(text: str) -> dict[str, float]:
    weights = {}
    for part in _versions(text):
        version, sep, weight = part.partition("=")
        try:
            weights[version.strip()] = float(weight)
        except ValueError:
            raise click.BadParameter(f"{part!r}: give VERSION=WEIGHT pairs, for example 3=90,4=10") from None
        if not sep:
            raise click.BadParameter(f"{part!r}: give VERSION=WEIGHT pairs, for example 3=90,4=10")
    return weights


def build_policy(kinds: dict[str, Any], sticky: bool, discount: float, epsilon: float, share: float,
                 method: str) -> dict[str, Any]:
    """The policy document of ``policy set``'s options (exactly one kind given)."""
    given = [k for k in _KIND_OPTIONS if kinds.get(k)]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --champion, --weighted, --thompson, --epsilon-greedy, "
                               "--shadow, --ensemble")
    kind = given[0]
    value = kinds[kind]
    if kind == "champion":
        return {"kind": "champion"}
    if kind == "weighted":
        return {"kind": "weighted", "weights": _weights(value), "sticky": sticky}
    versions = _versions(value)
    if kind == "thompson":
        return {"kind": "thompson", "versions": versions, "discount": discount}
    if kind == "epsilon_greedy":
        return {"kind": "epsilon_greedy", "versions": versions, "epsilon": epsilon}
    if kind == "shadow":
        if len(versions) != 2:
            raise click.BadParameter("--shadow takes PRIMARY,CHALLENGER")
        return {"kind": "shadow", "primary": versions[0], "challenger": versions[1], "share": share}
    return {"kind": "ensemble", "versions": versions, "method": method}


@serving_group.group("policy")
def policy_group() -> None:
    """Show or change a model's routing policy (at run time, no redeploy)."""


def _print_policy(model: str, answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        dump(answer)
    else:
        console().print(f"{model}: {json.dumps(answer['policy'])} (revision {answer['revision']})")


@policy_group.command("show")
@click.argument("model")
@_api_options
@json_option
def policy_show(model: str, url: str | None, stage: str, target: str, endpoint_url: str | None,
                stack: Path | None, as_json: bool) -> None:
    """The model's routing policy and its revision."""
    answer = _call(_base_url(url, stage, target, endpoint_url, stack, as_json), f"/models/{model}/policy")
    _print_policy(model, answer, as_json)


@policy_group.command("set")
@click.argument("model")
@click.option("--champion", is_flag=True, help="Every request to the registry's champion.")
@click.option("--weighted", metavar="V=W,...", help="A split, weights summing to 100: 3=90,4=10.")
@click.option("--no-sticky", is_flag=True, help="With --weighted: draw per request, not per caller.")
@click.option("--thompson", metavar="V,...", help="Thompson sampling over these versions, fed by /feedback.")
@click.option("--discount", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="With --thompson: forget past rewards by this factor per feedback (drifting rewards).")
@click.option("--epsilon-greedy", metavar="V,...", help="ε-greedy over these versions.")
@click.option("--epsilon", type=click.FloatRange(0, 1), default=0.1, show_default=True, help="With --epsilon-greedy.")
@click.option("--shadow", metavar="PRIMARY,CHALLENGER",
              help="Answers from PRIMARY; a share also scored by CHALLENGER in the background, never returned.")
@click.option("--share", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="With --shadow: the share of requests the challenger also scores.")
@click.option("--ensemble", metavar="V,...", help="Every request scored by these versions, combined.")
@click.option("--method", type=click.Choice(["vote", "average"]), default="vote", show_default=True,
              help="With --ensemble.")
@click.option("--reset", is_flag=True, help="Start the versions' counters from zero (a new experiment).")
@click.option("--expected-revision", type=click.IntRange(min=0),
              help="Change it only if the policy is still at this revision (else exit 1).")
@_api_options
@json_option
def policy_set(model: str, champion: bool, weighted: str | None, no_sticky: bool, thompson: str | None,
               discount: float, epsilon_greedy: str | None, epsilon: float, shadow: str | None, share: float,
               ensemble: str | None, method: str, reset: bool, expected_revision: int | None, url: str | None,
               stage: str,
               target: str, endpoint_url: str | None, stack: Path | None, as_json: bool) -> None:
    """Route MODEL's requests by a new policy, for example:

        stepkit serving policy set classifier --weighted 3=90,4=10
        stepkit serving policy set classifier --thompson 3,4
        stepkit serving policy set classifier --champion
    """
    policy = build_policy({"champion": champion, "weighted": weighted, "thompson": thompson,
                           "epsilon_greedy": epsilon_greedy, "shadow": shadow, "ensemble": ensemble},
                          not no_sticky, discount, epsilon, share, method)
    if expected_revision is not None:
        policy["expected_revision"] = expected_revision
    if reset:
        policy["reset_arms"] = True
    base = _base_url(url, stage, target, endpoint_url, stack, as_json)
    answer = _call(base, f"/models/{model}/policy", policy, "PUT")
    _print_policy(model, answer, as_json)


@serving_group.command("decisions")
@click.argument("model")
@_api_options
@json_option
def decisions_command(model: str, url: str | None, stage: str, target: str, endpoint_url: str | None,
                      stack: Path | None, as_json: bool) -> None:
    """The rollout log of MODEL: every canary share, evaluation, promotion and roll back."""
    answer = _call(_base_url(url, stage, target, endpoint_url, stack, as_json), f"/models/{model}/decisions")
    if as_json:
        dump(answer)
        return
    table = Table("time", "action", "versions", "share", "verdict", "reasons", box=None,
                  title=f"rollout log of {model}")
    for d in answer["decisions"]:
        table.add_row(d.get("time", ""), d.get("action", ""), f"{d.get('champion')} → {d.get('challenger')}",
                      _fmt(d.get("share"), ".0f", "%"), d.get("verdict") or "", "; ".join(d.get("reasons") or []))
    console().print(table)


COMMANDS = [serving_group]

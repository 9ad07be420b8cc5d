"""The demo after batch inference: a second model version, and serving both.

1. the training pipeline runs again with one weaker candidate (a depth-1 forest) and
   ``margin: -1`` so that it is registered as a challenger even though it is not better:
   registering a challenger starts the rollout state machine, which gives it a 50 % canary
   share (the A/B split) and waits for feedback;
2. held-out rows go to the API with their true labels as feedback until the rollout decides
   (promote or roll back, from the live accuracy), that is the A/B phase;
3. then a Thompson-sampling bandit over both versions gets the rest of the requests, with
   feedback, and the report says how fast it moved to the better version;
4. the policy goes back to the champion.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from rich.console import Console

from stepkit.demo.pipeline import DemoOptions, DemoResult, output, watch
from stepkit.demo.serving import Phase, ServingRun, api_url, call, held_out_rows, run_phase

#: the second version's grid: one candidate, weaker than the first run's best
SECOND_GRID = [{"id": "stump-forest", "family": "random_forest", "params": {"n_estimators": 3, "max_depth": 1}}]
#: most requests the A/B phase sends while the rollout has not decided (a bound, not a goal)
AB_LIMIT = 20_000


def serve(result: DemoResult, deployment: Any, endpoint: Any, dataset_key: str, options: DemoOptions,
          console: Console) -> str | None:
    """Run the online part; what went wrong (None when nothing did). Fills ``result.serving``."""
    url = api_url(deployment.status())
    if url is None or result.training_output is None:
        return "the stack has no serving API"
    names = deployment.names
    sfn, s3 = endpoint.client("stepfunctions"), endpoint.client("s3")
    rows = held_out_rows(s3, names.bucket("artifacts"), result.training_output["manifest_key"])
    model = result.training_output["model_name"]

    arn = sfn.start_execution(stateMachineArn=names.state_machine_arn("training"), input=json.dumps({
        "dataset_key": dataset_key, "grid": SECOND_GRID, "margin": -1.0, "min_score": 0.5,
        "rollout_input": {"steps": [50], "wait_seconds": 2, "min_feedback": options.canary_feedback,
                          "max_checks": 100_000}}))["executionArn"]
    result.second_training = watch(sfn, arn, console, "training (second version)", step="7")
    result.second_training_output = output(sfn, arn)
    outcome = (result.second_training_output or {}).get("outcome") or {}
    if not outcome.get("rollout_started"):
        return f"the second version was not registered as a challenger: {outcome.get('reason')}"
    champion, challenger = str(outcome["previous_champion"]), str(outcome["version"])
    run = result.serving = ServingRun(url)
    run.rollout = {"execution_arn": outcome["rollout_execution_arn"], "champion": champion, "challenger": challenger}

    ended = _ended(sfn, outcome["rollout_execution_arn"])
    console.print(f"[bold]8. A/B split[/bold]: the rollout gives version {challenger} a 50% canary; {len(rows)} "
                  f"held-out rows go to {url}/predict (with their labels as /feedback) until it decides")
    with console.status("A/B phase: sending requests…"):
        ab = run_phase(url, Phase("ab", {"kind": "weighted", "weights": {champion: 50, challenger: 50}}), rows,
                       requests=AB_LIMIT, until=ended)
    run.add(ab)
    run.rollout.update(_rollout_decision(sfn, outcome["rollout_execution_arn"]))
    console.print(f"   {ab.requests} requests, by version {ab.summary()['by_version']}; the rollout "
                  f"[bold]{run.rollout.get('action')}[/bold] version {challenger}: "
                  f"{'; '.join(run.rollout.get('reasons') or [])}")

    bandit_policy = {"kind": "thompson", "versions": [champion, challenger]}
    # reset_arms: the bandit starts knowing nothing (the A/B phase's feedback is forgotten)
    status, answer = call(f"{url}/models/{model}/policy", {**bandit_policy, "reset_arms": True}, "PUT")
    if status != 200:
        return f"could not set the bandit policy: {answer.get('error')}"
    wanted = max(options.serving_requests - ab.requests, options.serving_requests // 2)
    console.print(f"[bold]9. bandit[/bold]: Thompson sampling over versions {champion} and {challenger}, "
                  f"{wanted} requests with feedback")
    with console.status("bandit phase: sending requests…"):
        bandit = run_phase(url, Phase("bandit", bandit_policy), rows, requests=wanted, start=ab.requests)
    run.add(bandit)
    accuracy = {v: a for p in (ab, bandit) for v, a in p.summary()["accuracy_by_version"].items()}
    run.better_version = max(accuracy, key=lambda v: accuracy[v]) if accuracy else None
    call(f"{url}/models/{model}/policy", {"kind": "champion"}, "PUT")
    console.print(f"   {bandit.requests} requests, by version {bandit.summary()['by_version']}; policy back to "
                  "the champion")
    return None


def _ended(sfn: Any, arn: str, every: float = 0.5) -> Any:
    """A check, cheap to call per request, of whether the execution has ended (asks at most
    every ``every`` seconds)."""
    state = {"checked": 0.0, "ended": False}
    lock = threading.Lock()

    def check() -> bool:
        with lock:
            if not state["ended"] and time.monotonic() - state["checked"] >= every:
                state["checked"] = time.monotonic()
                state["ended"] = sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"
            return bool(state["ended"])

    return check


def _rollout_decision(sfn: Any, arn: str) -> dict[str, Any]:
    described = sfn.describe_execution(executionArn=arn)
    if described["status"] != "SUCCEEDED":
        return {"action": described["status"].lower(), "reasons": [str(described.get("cause") or "")]}
    decision = (json.loads(described.get("output") or "{}").get("finish") or {}).get("decision") or {}
    return {"action": decision.get("action"), "reasons": decision.get("reasons") or []}

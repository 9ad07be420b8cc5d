"""The viewer's JSON API on a real endpoint: what it reads, and that its actions pass the
guard only with the page's token."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from endpoint_helpers import create_function, create_machine, wait_execution
from viewer_scenario import approve, viewer_workflow

from stepkit.endpoint import LocalEndpoint


def _get(endpoint: LocalEndpoint, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(endpoint.url + "/_stepkit/ui/" + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _api(endpoint: LocalEndpoint, path: str) -> tuple[int, Any]:
    status, _, body = _get(endpoint, "api/" + path)
    return status, json.loads(body)


def _post(endpoint: LocalEndpoint, name: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(endpoint.url + "/_stepkit/ui/api/" + name, data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _token(endpoint: LocalEndpoint) -> str:
    _, _, page = _get(endpoint, "")
    match = re.search(rb'name="stepkit-csrf" content="([^"]+)"', page)
    assert match is not None
    return match.group(1).decode()


@pytest.fixture(scope="module")
def finished(endpoint: LocalEndpoint, clients: Any) -> dict[str, str]:
    sfn, lam = clients("stepfunctions"), clients("lambda")
    machine, activity = viewer_workflow(sfn, lam)
    execution = sfn.start_execution(stateMachineArn=machine, name="viewed")["executionArn"]
    approve(sfn, activity)
    assert wait_execution(sfn, execution)["status"] == "SUCCEEDED"
    return {"machine": machine, "execution": execution}


def test_page_static_files_and_headers(endpoint: LocalEndpoint):
    status, headers, page = _get(endpoint, "")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"] and b"__STEPKIT_CSRF_TOKEN__" not in page
    assert _token(endpoint) == endpoint.guard.ui_token
    status, headers, script = _get(endpoint, "static/vendor/dagre.min.js")
    assert status == 200 and "javascript" in headers["Content-Type"] and b"graphlib" in script
    for missing in ("static/nope.js", "static/vendor/../../api.py", "static/", "elsewhere"):
        assert _get(endpoint, missing)[0] == 404, missing


def test_machines_executions_and_filters(endpoint: LocalEndpoint, finished: dict[str, str]):
    status, data = _api(endpoint, "machines")
    machine = next(m for m in data["stateMachines"] if m["stateMachineArn"] == finished["machine"])
    assert status == 200 and machine["counts"]["SUCCEEDED"] == 1 and machine["counts"]["FAILED"] == 0
    _, data = _api(endpoint, f"executions?machine={finished['machine']}&status=SUCCEEDED&name=VIEW")
    assert [e["name"] for e in data["executions"]] == ["viewed"]
    _, data = _api(endpoint, f"executions?machine={finished['machine']}&status=FAILED")
    assert data["executions"] == []
    _, data = _api(endpoint, f"executions?machine={finished['machine']}&since={time.time() + 3600}")
    assert data["executions"] == []
    _, data = _api(endpoint, f"executions?machine={finished['machine']}&since={time.time() - 3600}")
    assert [e["name"] for e in data["executions"]] == ["viewed"]
    assert _api(endpoint, f"executions?machine={finished['machine']}&since=soon")[0] == 400
    status, data = _api(endpoint, f"executions?machine={finished['machine']}&status=BOGUS")
    assert status == 400 and data["code"] == "BadRequest"


def test_execution_graph_states_events_and_map_run(endpoint: LocalEndpoint, finished: dict[str, str]):
    status, data = _api(endpoint, f"execution?arn={finished['execution']}")
    assert status == 200 and data["execution"]["status"] == "SUCCEEDED"
    assert {n["name"] for n in data["graph"]["nodes"]} >= {"Prepare", "Fan", "Double", "Approve", "Done"}
    states = {s["name"]: s for s in data["states"]}
    assert all(states[n]["status"] == "SUCCEEDED" for n in ("Prepare", "Fan", "Approve", "Done"))
    assert json.loads(states["Fan"]["output"])["doubled"][2] == {"n": 3, "double": 6}
    assert data["events"][0]["type"] == "ExecutionStarted" and data["events"][-1]["type"] == "ExecutionSucceeded"
    (map_run,) = data["mapRuns"]
    assert map_run["itemCounts"]["succeeded"] == 3
    status, run = _api(endpoint, f"maprun?arn={map_run['mapRunArn']}")
    assert status == 200 and len(run["executions"]) == 3 and run["failed"] == []
    status, child = _api(endpoint, f"execution?arn={run['executions'][0]['executionArn']}")
    assert status == 200 and [n["name"] for n in child["graph"]["nodes"]] == ["Start", "Double", "End"]
    assert child["states"][0]["status"] == "SUCCEEDED"


def test_bad_reads_answer_json_errors(endpoint: LocalEndpoint):
    missing = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    assert _api(endpoint, f"execution?arn={missing}") == (404, {"code": "ExecutionDoesNotExist", "message":
                                                               f"Execution Does Not Exist: '{missing}'"})
    status, data = _api(endpoint, "execution")
    assert status == 400 and "arn" in data["message"]
    assert _api(endpoint, "execution?arn=garbage")[1]["code"] == "InvalidArn"
    assert _api(endpoint, "nothing")[0] == 404
    assert _api(endpoint, "stop")[0] == 405


def test_actions_need_the_token_and_the_own_origin(endpoint: LocalEndpoint, clients: Any):
    sfn = clients("stepfunctions")
    machine = create_machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    token = _token(endpoint)
    for headers in ({}, {"X-Stepkit-Csrf": "wrong"}, {"X-Stepkit-Csrf": token, "Origin": "http://evil.example"}):
        status, data = _post(endpoint, "stop", {"arn": execution}, headers)
        assert status == 403 and data["code"] == "AccessDeniedException", headers
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert _post(endpoint, "machines", {"arn": execution}, {"X-Stepkit-Csrf": token})[0] == 405
    assert _post(endpoint, "stop", ["x"], {"X-Stepkit-Csrf": token})[0] == 400
    status, data = _post(endpoint, "stop", {"arn": execution}, {"X-Stepkit-Csrf": token, "Origin": endpoint.url})
    assert status == 200 and data["stopDate"] > 0
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_redrive_a_failed_execution(endpoint: LocalEndpoint, clients: Any):
    sfn = clients("stepfunctions")
    machine = create_machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "No"}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_execution(sfn, execution)["status"] == "FAILED"
    status, data = _post(endpoint, "redrive", {"arn": execution}, {"X-Stepkit-Csrf": _token(endpoint)})
    assert status == 200 and data["redriveDate"] > 0
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=execution).get("redriveCount", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sfn.describe_execution(executionArn=execution)["redriveCount"] == 1
    status, data = _post(endpoint, "redrive", {"arn": machine}, {"X-Stepkit-Csrf": _token(endpoint)})
    assert status == 400 and data["code"] == "InvalidArn"


def test_functions_and_their_invocations_from_the_logs(endpoint: LocalEndpoint, finished: dict[str, str]):
    status, data = _api(endpoint, "functions")
    assert status == 200 and data["functions"]
    counts = {}
    for function in data["functions"]:
        _, logged = _api(endpoint, f"invocations?function={function['FunctionName']}")
        counts[function["FunctionName"]] = logged["invocations"]
    doubled = next(runs for runs in counts.values() if len(runs) == 3)
    assert all(run["report"]["durationMs"] >= 0 and run["report"]["memoryMB"] == 128 for run in doubled)
    assert all(run["lines"][0].startswith("START RequestId: ") for run in doubled)
    assert _api(endpoint, "invocations?function=never-made")[1]["invocations"] == []
    assert _api(endpoint, "invocations?function=../x")[0] == 400


GREET = ("def handler(event, context):\n    print('greeting', event['who'])\n"
         "    if event.get('fail'):\n        raise ValueError('no greeting for ' + event['who'])\n"
         "    return {'hello': event['who']}\n")


def test_a_task_states_lambda_log_lines(endpoint: LocalEndpoint, clients: Any):
    """A plain function ARN (retried, then caught) and ``lambda:invoke``: each state's own
    invocations, found by request id, with the lines the function printed."""
    sfn, lam = clients("stepfunctions"), clients("lambda")
    function = lam.get_function(FunctionName=create_function(lam, GREET))["Configuration"]["FunctionArn"]
    machine = create_machine(sfn, {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": function, "Parameters": {"who": "first", "fail": True},
                 "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Invoke"}],
                 "Next": "Invoke"},
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": function, "Payload": {"who": "second"}}, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_execution(sfn, execution)["status"] == "SUCCEEDED"
    # Other executions of the same function at the same time are not this one's.
    other = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_execution(sfn, other)["status"] == "SUCCEEDED"

    status, call = _api(endpoint, f"task-logs?arn={execution}&state=Call")
    assert status == 200 and call["calls"] == 2 and call["unrecorded"] == 0 and call["unlogged"] == 0
    assert len(call["invocations"]) == 2 and {i["function"] for i in call["invocations"]} == {function.split(":")[-1]}
    for invocation in call["invocations"]:
        assert invocation["lines"][0] == f"START RequestId: {invocation['requestId']} Version: $LATEST"
        assert any("greeting first" in line for line in invocation["lines"])
        assert invocation["lines"][-1].startswith(f"REPORT RequestId: {invocation['requestId']}")
    _, invoke = _api(endpoint, f"task-logs?arn={execution}&state=Invoke")
    (only,) = invoke["invocations"]
    output = next(e for e in sfn.get_execution_history(executionArn=execution)["events"]
                  if e["type"] == "TaskSucceeded")["taskSucceededEventDetails"]["output"]
    assert only["requestId"] in output and any("greeting second" in line for line in only["lines"])
    _, again = _api(endpoint, f"task-logs?arn={other}&state=Invoke")
    assert again["invocations"][0]["requestId"] != only["requestId"]

    assert _api(endpoint, f"task-logs?arn={execution}&state=Nowhere")[1]["calls"] == 0
    assert _api(endpoint, f"task-logs?arn={execution}")[0] == 400
    assert _api(endpoint, "task-logs?arn=garbage&state=Call")[1]["code"] == "InvalidArn"


def test_a_poll_reads_only_the_events_after_those_it_holds(endpoint: LocalEndpoint, finished: dict[str, str]):
    _, whole = _api(endpoint, f"execution?arn={finished['execution']}")
    total = len(whole["events"])
    assert whole["eventCount"] == total and whole["graph"] is not None
    _, tail = _api(endpoint, f"execution?arn={finished['execution']}&after={total - 3}")
    assert [e["id"] for e in tail["events"]] == [total - 2, total - 1, total]
    assert tail["graph"] is None and tail["eventCount"] == total and tail["states"] == whole["states"]
    _, none = _api(endpoint, f"execution?arn={finished['execution']}&after={total}")
    assert none["events"] == [] and none["states"] == whole["states"]
    for bad in ("-1", "x", "1&after=2"):
        assert _api(endpoint, f"execution?arn={finished['execution']}&after={bad}")[0] == 400

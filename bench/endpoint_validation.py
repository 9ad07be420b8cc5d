"""What the model-driven request validation costs per request (figures go to bench/README.md).

    .venv/bin/python bench/endpoint_validation.py [--quick]

``stepkit.endpoint.validation.check_input`` runs on every Step Functions and Lambda request
before its handler. Timed here, in-process, on typical requests: the median and p95 of one
check (parsing excluded; blob decoding included, as it is part of the check). A fresh copy
of the parameters is checked each time (the check decodes blobs in place); the copy's own
time is measured apart and subtracted.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from stepkit.endpoint.protocol import service_model
from stepkit.endpoint.validation import InputRules, check_input

ROLE = "arn:aws:iam::123456789012:role/bench"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:bench"


def _definition(states: int) -> str:
    names = [f"S{i}" for i in range(states)]
    body = {n: {"Type": "Pass", "Next": names[i + 1]} for i, n in enumerate(names[:-1])}
    body[names[-1]] = {"Type": "Pass", "End": True}
    return json.dumps({"StartAt": names[0], "States": body})


def _cases() -> list[tuple[str, str, str, dict[str, Any], InputRules]]:
    sfn, lam = InputRules(), InputRules("InvalidRequestContentException")
    zip_b64 = base64.b64encode(os.urandom(1024 * 1024)).decode()
    env = {f"VAR_{i:02d}": "v" * 40 for i in range(50)}
    return [
        ("StartExecution", "stepfunctions", "StartExecution",
         {"stateMachineArn": MACHINE, "name": "run-1", "input": json.dumps({"k": list(range(100))})}, sfn),
        ("CreateStateMachine, 200 states", "stepfunctions", "CreateStateMachine",
         {"name": "bench", "definition": _definition(200), "roleArn": ROLE,
          "tags": [{"key": f"k{i}", "value": "v"} for i in range(10)]}, sfn),
        ("CreateFunction, 1 MB zip", "lambda", "CreateFunction",
         {"FunctionName": "bench", "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
          "Code": {"ZipFile": zip_b64}, "Environment": {"Variables": env}}, lam),
        ("UpdateFunctionConfiguration, 50 variables", "lambda", "UpdateFunctionConfiguration",
         {"FunctionName": "bench", "Timeout": 30, "Environment": {"Variables": env}}, lam),
        ("Invoke (path and headers)", "lambda", "Invoke",
         {"FunctionName": "bench", "InvocationType": "RequestResponse", "Payload": b"{}"}, lam),
    ]


def _times(run: Callable[[], Any], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        out.append(time.perf_counter() - began)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 50 if args.quick else 2000
    print(f"{'request':45} {'median µs':>10} {'p95 µs':>10}")
    for label, service, operation, params, rules in _cases():
        shape = service_model(service).operation_model(operation).input_shape
        rounds_here = max(rounds // 20, 10) if "1 MB" in label else rounds
        copies = _times(lambda params=params: copy.deepcopy(params), rounds_here)
        checks = _times(lambda shape=shape, params=params, rules=rules, operation=operation: check_input(
            shape, copy.deepcopy(params), rules, operation), rounds_here)
        base = statistics.median(copies)
        checks.sort()
        median = (statistics.median(checks) - base) * 1e6
        p95 = (checks[int(len(checks) * 0.95) - 1] - base) * 1e6
        print(f"{label:45} {median:10.1f} {p95:10.1f}")


if __name__ == "__main__":
    main()

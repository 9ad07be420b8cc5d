"""Fuzz every operation of the Step Functions and Lambda services with hostile values.

The operations and their input shapes come from botocore's models; each member gets a
plausible value (an existing resource, a valid definition or zip) or a hostile one: the wrong
type, huge, empty, a lone UTF-16 surrogate, NUL, JSON nested 10,000 deep, an integer out of
Java's range, NaN. Each request is sent as raw HTTP to a real ``LocalEndpoint``. No answer may
be a 500, the server must stay up, and afterwards every record listed can be described, every
execution ends, and every state machine and function can be deleted.

Deterministic (seeded) and bounded: ``STEPKIT_FUZZ_CASES`` (default 600) and
``STEPKIT_FUZZ_SEED`` (default 12) choose a larger or another run.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from endpoint_helpers import ROLE, make_client, zip_code

from stepkit.endpoint import LocalEndpoint
from stepkit.endpoint.protocol import service_model

CASES = int(os.environ.get("STEPKIT_FUZZ_CASES", "600"))
SEED = int(os.environ.get("STEPKIT_FUZZ_SEED", "12"))
DEEP = "\u2063DEEP\u2063"  # replaced by JSON nested 10,000 deep once the body is serialised
DEEP_JSON = "[" * 10000 + "]" * 10000
FUNCTION = "fuzz-function"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
CODE = base64.b64encode(zip_code({"app.py": "def handler(event, context):\n    return event\n"})).decode()
HOSTILE_TEXT = ["", "a\ud800b", "\udfff", "a\x00b", "x" * 70_000, "y" * 300_000, DEEP_JSON, "\ufffe", "😀",
                "../../etc/passwd", "arn:aws:states:us-east-1:123456789012:stateMachine:", "%00", "$LATEST",
                # JSON text whose strings hold a lone surrogate only once parsed (input, output, definitions)
                '{"k": "\\ud800"}', '["\\udc00"]', "[" * 990 + "]" * 990,
                json.dumps({"StartAt": "\ud800", "States": {"\ud800": {"Type": "Pass", "End": True}}})]
HOSTILE_ANY: list[Any] = [None, 0, -1, 2**70, -(2**64), 1.5, float("nan"), True, [], {}, [[[]]], {"a": {"b": 1}},
                          "text", DEEP]


class Fuzzer:
    """Builds one request per case; ``pool`` holds valid values of real resources."""

    def __init__(self, rng: random.Random, pool: dict[str, list[Any]]) -> None:
        self.rng = rng
        self.pool = pool
        self.hostility = 0.0  # the chance of each member being hostile, set per case

    def name(self) -> str:
        return f"fz-{self.rng.getrandbits(32):08x}"

    def params(self, shape: Shape | None) -> dict[str, Any]:
        if shape is None:
            return {}
        value = self.structure(shape, 0)
        return value if isinstance(value, dict) else {}

    def structure(self, shape: Shape, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            required = name in shape.required_members
            if (not required and self.rng.random() < 0.6) or (required and self.rng.random() < 0.05):
                continue
            out[name] = self.value(name, member, depth + 1)
        return out

    def value(self, name: str, shape: Shape, depth: int) -> Any:
        if self.rng.random() < self.hostility:
            return self.hostile(shape)
        known = self.pool.get(name) or self.pool.get(name[:1].lower() + name[1:])
        if known and self.rng.random() < 0.8:
            return self.rng.choice(known)
        return self.plausible(shape, depth)

    def hostile(self, shape: Shape) -> Any:
        if shape.type_name == "string" and self.rng.random() < 0.7:
            return self.rng.choice(HOSTILE_TEXT)
        return self.rng.choice(HOSTILE_ANY)

    def plausible(self, shape: Shape, depth: int) -> Any:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "string":
            if shape.enum:
                return self.rng.choice(shape.enum)
            return self.name()[: meta.get("max", 64)]
        if kind in ("integer", "long"):
            return self.rng.randint(int(meta.get("min", 0)), int(min(meta.get("max", 1000), 1000)))
        if kind in ("float", "double"):
            return self.rng.uniform(0, 100)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "timestamp":
            return int(time.time())
        if kind == "blob":
            return CODE if self.rng.random() < 0.5 else base64.b64encode(b'{"k": 1}').decode()
        if depth > 4:
            return None
        if kind == "structure":
            return self.structure(shape, depth)
        if kind == "list":
            return [self.value("member", shape.member, depth + 1) for _ in range(self.rng.randint(0, 2))]
        if kind == "map":
            return {self.key(i): self.value("value", shape.value, depth + 1) for i in range(self.rng.randint(0, 2))}
        return None

    def key(self, i: int) -> str:
        """A map key: valid for every map of both models, or a hostile text."""
        return self.rng.choice(HOSTILE_TEXT[:8]) if self.rng.random() < self.hostility else f"Key{i}x"


def _dump(value: Any) -> bytes:
    text = json.dumps(value, allow_nan=True)  # lone surrogates come out as \\udXXX escapes
    return text.replace(json.dumps(DEEP), DEEP_JSON).encode()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return DEEP_JSON if value == DEEP else value
    return json.dumps(value, allow_nan=True) if not isinstance(value, bool) else str(value).lower()


def _wire(value: Any) -> str:
    """A value as a URI segment or query value: UTF-8 (lone surrogates as their raw bytes), escaped;
    cut to 2,000 characters (a longer request line is the HTTP server's 414, before any service)."""
    return quote(_text(value)[:2000].encode("utf-8", "surrogatepass"), safe="")


def _auth(service: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host, Signature=00")


def sfn_request(op: OperationModel, params: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AWSStepFunctions.{op.name}",
               "Authorization": _auth("states")}
    return "POST", "/", headers, _dump(params)


def lambda_request(op: OperationModel, params: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
    shape = op.input_shape
    path, _, fixed = op.http["requestUri"].partition("?")
    query = [fixed] if fixed else []
    headers = {"Content-Type": "application/json", "Authorization": _auth("lambda")}
    body: dict[str, Any] = {}
    raw: bytes | None = None
    payload = shape.serialization.get("payload") if shape is not None else None
    for name, value in params.items():
        member = shape.members[name]  # type: ignore[union-attr]
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri":
            path = path.replace("{" + wire + "}", _wire(value)).replace("{" + wire + "+}", _wire(value))
        elif where == "querystring":
            query.append(f"{quote(wire)}={_wire(value)}")
        elif where == "header":
            headers[wire] = re.sub(r"[^\x20-\x7e]", "?", _text(value))[:4000]
        elif name == payload:
            raw = _text(value).encode("utf-8", "surrogatepass") if member.type_name == "blob" else _dump(value)
        else:
            body[name] = value
    path = re.sub(r"\{[^}]+\}", "missing", path)  # a required path member the case left out
    if query:
        path += "?" + "&".join(query)
    data = raw if raw is not None else (_dump(body) if body else b"")
    return op.http["method"], path, headers, data


def send(endpoint: LocalEndpoint, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    status, _, answer = exchange(endpoint, method, path, headers, body)
    return status, answer


def exchange(
    endpoint: LocalEndpoint, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, str | None, bytes]:
    """The status, the error name in the protocol's place (JSON ``__type``, else the
    ``X-Amzn-ErrorType`` header) and the body of one request."""
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=300)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        error = response.getheader("X-Amzn-ErrorType")
        if error is None and response.status >= 400:
            with contextlib.suppress(ValueError, AttributeError):
                error = json.loads(answer).get("__type")
        return response.status, error, answer
    finally:
        connection.close()


#: Errors every AWS JSON / REST-JSON service answers besides those its model lists.
COMMON_ERRORS = {"ValidationException", "SerializationException", "UnknownOperationException",
                 "InvalidRequestContentException", "ServiceException"}


def _ensure_resources(endpoint: LocalEndpoint) -> tuple[str, str, str, str]:
    """The state machines, execution and function the plausible values name (made again when a
    case deleted them)."""
    sfn, lam = make_client(endpoint.url, "stepfunctions"), make_client(endpoint.url, "lambda")
    standard = sfn.create_state_machine(name="fuzz-standard", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    express = sfn.create_state_machine(name="fuzz-express", definition=PASS, roleArn=ROLE,
                                       type="EXPRESS")["stateMachineArn"]
    execution = standard.replace(":stateMachine:", ":execution:") + ":fuzz-execution"
    with contextlib.suppress(ClientError):  # it exists already
        sfn.start_execution(stateMachineArn=standard, name="fuzz-execution")
    function = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
    with contextlib.suppress(ClientError):  # it exists already
        lam.create_function(FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": base64.b64decode(CODE)})
    return standard, express, execution, function


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-state")


@pytest.fixture(scope="module")
def endpoint(state_dir: Path) -> Iterator[LocalEndpoint]:
    """An endpoint with a state dir of its own: the test starts another on the same records."""
    with LocalEndpoint(state_dir=state_dir) as ep:
        yield ep


@pytest.fixture(scope="module")
def resources(endpoint: LocalEndpoint) -> Iterator[dict[str, list[Any]]]:
    standard, express, execution, function = _ensure_resources(endpoint)
    yield {
        "stateMachineArn": [standard, express], "resourceArn": [standard], "executionArn": [execution],
        "definition": [PASS], "roleArn": [ROLE], "Role": [ROLE], "input": ["{}", '{"a": [1, 2]}'],
        "output": ['{"ok": true}'], "FunctionName": [FUNCTION, function], "Resource": [function],
        "Runtime": ["python3.11"], "Handler": ["app.handler"], "Code": [{"ZipFile": CODE}], "ZipFile": [CODE],
        "Payload": ['{"k": 1}'], "Environment": [{"Variables": {"GREETING": "hi"}}],
    }


def _operations(endpoint: LocalEndpoint) -> tuple[list[tuple[str, OperationModel]], list[tuple[str, OperationModel]]]:
    """Every operation of both models, and those the endpoint serves."""
    every, served = [], []
    for service, handlers in (("stepfunctions", endpoint.stepfunctions.app.handlers),
                              ("lambda", endpoint.lambda_service.app.handlers)):
        model = service_model(service)
        for name in model.operation_names:
            every.append((service, model.operation_model(name)))
            if name in handlers:
                served.append(every[-1])
    return every, served


def test_fuzz_every_operation(endpoint: LocalEndpoint, state_dir: Path, resources: dict[str, list[Any]]) -> None:
    rng = random.Random(SEED)
    fuzzer = Fuzzer(rng, resources)
    every, served = _operations(endpoint)
    failures = []
    for case in range(max(CASES, len(every))):
        # each operation once, then the served ones; a third of the cases all plausible (they
        # reach the handlers and make records), the others with a member or two hostile
        service, op = every[case] if case < len(every) else rng.choice(served)
        fuzzer.hostility = 0.0 if rng.random() < 0.35 else 0.25
        if case % 50 == 49:
            _ensure_resources(endpoint)
        params = fuzzer.params(op.input_shape)
        build = sfn_request if service == "stepfunctions" else lambda_request
        method, path, headers, body = build(op, params)
        status, error, answer = exchange(endpoint, method, path, headers, body)
        known = COMMON_ERRORS | {e.name for e in service_model(service).error_shapes}
        if status == 500 or status > 501 or b"Traceback" in answer or (status >= 400 and error not in known):
            failures.append((case, op.name, status, error, path[:120], body[:300], answer[:300]))
    assert failures == []
    assert send(endpoint, "GET", "/_stepkit/health", {}, b"")[0] == 200
    listed = _listed(endpoint)
    endpoint.stop()  # every stored record is read back by the next start, running ones resumed
    with LocalEndpoint(state_dir=state_dir) as again:
        assert _listed(again) == listed
        _nothing_half_made(again)


def _listed(endpoint: LocalEndpoint) -> tuple[list[str], list[str]]:
    sfn, lam = make_client(endpoint.url, "stepfunctions"), make_client(endpoint.url, "lambda")
    machines = [m["stateMachineArn"] for page in sfn.get_paginator("list_state_machines").paginate()
                for m in page["stateMachines"]]
    functions = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate()
                 for f in page["Functions"]]
    return sorted(machines), sorted(functions)


def _settled(check: Any, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _nothing_half_made(endpoint: LocalEndpoint) -> None:
    """Every record listed can be described, every execution ends, everything can be deleted."""
    sfn, lam = make_client(endpoint.url, "stepfunctions"), make_client(endpoint.url, "lambda")
    machines = [m for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]
    assert machines
    for machine in machines:
        described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
        if described["type"] != "STANDARD":
            continue
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
        for execution in [e for page in pages for e in page["executions"]]:
            arn = execution["executionArn"]
            if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                sfn.stop_execution(executionArn=arn)
            assert _settled(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
            sfn.get_execution_history(executionArn=arn)
    for machine in machines:
        sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
    assert sfn.list_state_machines()["stateMachines"] == []
    functions = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert functions
    for function in functions:
        name = function["FunctionName"]
        lam.get_function(FunctionName=name)
        assert _settled(lambda name=name: lam.get_function_configuration(FunctionName=name)["State"] != "Pending")
        lam.delete_function(FunctionName=name)
    assert lam.list_functions()["Functions"] == []

"""Least-privilege policies, generated from what each function and state machine uses.

A function's policy is its provider's (:func:`stepkit.deploy.providers.functions.function_policy`),
from its triggers and ``access:`` grants; what a grant allows is the granted kind's provider's
(:data:`stepkit.deploy.providers.GRANTS`). This module reads definitions: a state machine
may do what its definition's Task states call, on the resources they name (the functions it
invokes, the queues it sends to, the buckets it reads), plus its ``access:`` grants and, when
logging or tracing is on, the delivery calls those need. A wildcard appears only where AWS
offers nothing narrower (log delivery, X-Ray) or where a Task names its target at run time
and the stack gives no narrower set; each such case comes with a note that ``plan`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stepkit.deploy.naming import Names
from stepkit.deploy.policy import PolicyBuilder
from stepkit.stack.resources import Grant

# --- grants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackArns:
    """What a policy needs to know of the stack: its resources' physical names and ARNs."""

    names: Names
    bucket_names: Mapping[str, str]
    """Logical bucket -> physical name."""
    state_machine_types: Mapping[str, str]
    functions: tuple[str, ...]
    queues: tuple[str, ...]

    def bucket_arn(self, bucket: str) -> str:
        return self.names.bucket_arn(self.bucket_names[bucket])




def add_grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """What an ``access:`` grant allows: its target kind's provider says."""
    from stepkit.deploy.providers import GRANTS

    GRANTS[grant.kind](policy, grant, stack)


# --- state machines ---------------------------------------------------------------------------

_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$")
_SDK = re.compile(r"^arn:[^:]+:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\..+)?$")
_OPTIMIZED = re.compile(r"^arn:[^:]+:states:::([a-z0-9-]+):([A-Za-z0-9]+)(\..+)?$")


def state_machine_policy(name: str, settings: Any, definition: Mapping[str, Any], stack: StackArns,
                         log_group: str | None) -> tuple[PolicyBuilder, list[str]]:
    """The policy of state machine ``name`` and the logical names of the functions it invokes."""
    names = stack.names
    policy = PolicyBuilder()
    invoked: list[str] = []
    function_of = {names.function(f): f for f in stack.functions}
    for state_name, state in _task_states(definition):
        _task_permissions(policy, state_name, state, stack, function_of, invoked)
    for reader in _s3_readers(definition):
        _item_reader_permissions(policy, reader, stack)
    if _has_distributed_map(definition):
        policy.allow(["states:StartExecution"], names.state_machine_arn(name))
        # A Distributed Map's child executions: execution:<machine>/<map run>:<id>
        policy.allow(["states:DescribeExecution", "states:StopExecution"],
                     names._arn("states", f"execution:{names.state_machine(name)}/*"))
    for grant in settings.access:
        add_grant(policy, grant, stack)
    if log_group is not None:
        policy.allow(["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                      "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                      "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"], "*")
        policy.note("log delivery actions need Resource \"*\" (CloudWatch Logs offers no narrower resource)")
    if settings.tracing:
        policy.allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                      "xray:GetSamplingTargets"], "*")
        policy.note("X-Ray actions need Resource \"*\"")
    return policy, list(dict.fromkeys(invoked))


def _task_states(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    states = definition.get("States")
    if not isinstance(states, Mapping):
        return
    for state_name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        if state.get("Type") == "Task":
            yield state_name, state
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), Mapping):
                yield from _task_states(state[key])
        for branch in state.get("Branches") or ():
            if isinstance(branch, Mapping):
                yield from _task_states(branch)


def _all_states(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    states = definition.get("States")
    if not isinstance(states, Mapping):
        return
    for state in states.values():
        if not isinstance(state, Mapping):
            continue
        yield state
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), Mapping):
                yield from _all_states(state[key])
        for branch in state.get("Branches") or ():
            if isinstance(branch, Mapping):
                yield from _all_states(branch)


def _has_distributed_map(definition: Mapping[str, Any]) -> bool:
    for state in _all_states(definition):
        processor = state.get("ItemProcessor")
        if isinstance(processor, Mapping):
            config = processor.get("ProcessorConfig")
            if isinstance(config, Mapping) and config.get("Mode") == "DISTRIBUTED":
                return True
    return False


def _s3_readers(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for state in _all_states(definition):
        for key in ("ItemReader", "ResultWriter"):
            if isinstance(state.get(key), Mapping):
                yield state[key]


def _params(state: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("Parameters", "Arguments"):
        if isinstance(state.get(key), Mapping):
            return state[key]
    return {}


def _static(params: Mapping[str, Any], field_name: str) -> str | None:
    """The value of ``field_name`` if fixed in the definition; None when given at run time."""
    value = params.get(field_name)
    if isinstance(value, str) and not value.startswith("{%"):
        return value
    return None


def _item_reader_permissions(policy: PolicyBuilder, reader: Mapping[str, Any], stack: StackArns) -> None:
    resource = reader.get("Resource", "")
    params = _params(reader)
    bucket = _static(params, "Bucket")
    bucket_arn = _bucket_arn_of(bucket, stack)
    buckets = sorted(stack.bucket_arn(b) for b in stack.bucket_names)
    objects = [f"{b}/*" for b in buckets]
    if resource.endswith(":s3:getObject"):
        policy.allow(["s3:GetObject"], f"{bucket_arn}/*" if bucket_arn else _wide(policy, "ItemReader", "Bucket",
                                                                                  objects))
    elif resource.endswith(":s3:listObjectsV2"):
        policy.allow(["s3:ListBucket"], bucket_arn or _wide(policy, "ItemReader", "Bucket", buckets))
    elif resource.endswith(":s3:putObject"):
        policy.allow(["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                     f"{bucket_arn}/*" if bucket_arn else _wide(policy, "ResultWriter", "Bucket", objects))


def _bucket_arn_of(bucket: str | None, stack: StackArns) -> str | None:
    if bucket is None:
        return None
    return stack.names.bucket_arn(bucket)


def _wide(policy: PolicyBuilder, state: str, field_name: str, narrower: list[str] | None = None) -> Any:
    if narrower:
        policy.note(f"{state}: {field_name} is chosen at run time; allowed on every one of the stack's")
        return narrower
    policy.note(f"{state}: {field_name} is chosen at run time and the stack has none to narrow it to: "
                "Resource \"*\"; add a static value or an `access:` grant to narrow it")
    return "*"


def _task_permissions(policy: PolicyBuilder, state_name: str, state: Mapping[str, Any], stack: StackArns,
                      function_of: Mapping[str, str], invoked: list[str]) -> None:
    names = stack.names
    resource = state.get("Resource")
    if not isinstance(resource, str) or resource.startswith("{%"):
        policy.note(f"{state_name}: the Resource is chosen at run time; no permission could be derived")
        return
    params = _params(state)
    direct = _function_named(resource, names, function_of, arn_only=True)
    if direct:
        _invoke(policy, direct, names, function_of, invoked)
        return
    if resource.startswith("arn:") and ":states:::lambda:invoke" in resource:
        target = _static(params, "FunctionName")
        if target is None:
            arns = [names.function_arn(f) for f in stack.functions]
            policy.allow(["lambda:InvokeFunction"], _wide(policy, state_name, "FunctionName", arns))
            invoked.extend(stack.functions)
        else:
            _invoke(policy, _function_named(target, names, function_of) or target, names, function_of, invoked)
        return
    sdk = _SDK.match(resource)
    if sdk:
        service, action = sdk.group(1), sdk.group(2)
        _service_call(policy, state_name, service, action, params, stack, sdk_integration=True)
        return
    optimized = _OPTIMIZED.match(resource)
    if optimized:
        service, action, pattern = optimized.group(1), optimized.group(2), optimized.group(3) or ""
        if service == "states" and action == "startExecution":
            target = _static(params, "StateMachineArn")
            arns = [target] if target else [names.state_machine_arn(s) for s in stack.state_machine_types]
            policy.allow(["states:StartExecution"], arns if target else _wide(policy, state_name, "StateMachineArn",
                                                                               arns))
            if pattern.startswith(".sync"):
                executions = [a.replace(":stateMachine:", ":execution:") + ":*" for a in arns]
                policy.allow(["states:DescribeExecution", "states:StopExecution"], executions)
                policy.allow(["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                             names.rule_arn("StepFunctionsGetEventsForStepFunctionsExecutionRule"))
            return
        _service_call(policy, state_name, service, action, params, stack, sdk_integration=False)
        return
    policy.note(f"{state_name}: unknown Resource {resource!r}; no permission derived")


def _function_named(text: str, names: Names, function_of: Mapping[str, str], *, arn_only: bool = False) -> str | None:
    """The physical function name ``text`` (an ARN, maybe qualified, or a name) refers to."""
    for physical, logical in function_of.items():
        arn = names.function_arn(logical)
        if text == arn or text.startswith(arn + ":") or (not arn_only and text in (physical, f"{physical}:")):
            return physical
    match = _LAMBDA_ARN.match(text)
    if match:
        return match.group(1)
    if arn_only or text.startswith("arn:"):
        return None
    return text.split(":")[0]


def _invoke(policy: PolicyBuilder, function: str, names: Names, function_of: Mapping[str, str],
            invoked: list[str]) -> None:
    if function in function_of:
        invoked.append(function_of[function])
    arn = f"arn:{names.partition}:lambda:{names.region}:{names.account}:function:{function}"
    policy.allow(["lambda:InvokeFunction"], [arn, f"{arn}:*"])


_RESOURCE_FIELDS = {
    "sqs": ("QueueUrl", "queue"),
    "sns": ("TopicArn", None),
    "dynamodb": ("TableName", "table"),
    "lambda": ("FunctionName", "function"),
    "states": ("StateMachineArn", None),
    "events": (None, None),
}


def _service_call(policy: PolicyBuilder, state_name: str, service: str, action: str, params: Mapping[str, Any],
                  stack: StackArns, *, sdk_integration: bool) -> None:
    names = stack.names
    iam_service = {"sfn": "states"}.get(service, service)
    iam_action = f"{iam_service}:{action[:1].upper()}{action[1:]}"
    if service == "s3":
        bucket = _static(params, "Bucket")
        if bucket is None:
            policy.allow([_s3_action(action)], _wide(policy, state_name, "Bucket", sorted(
                f"{names.bucket_arn(b)}/*" for b in stack.bucket_names.values())))
            return
        key = _static(params, "Key")
        bucket_arn = names.bucket_arn(bucket)
        if action.lower().startswith("list"):
            policy.allow([_s3_action(action)], bucket_arn)
        else:
            policy.allow([_s3_action(action)], f"{bucket_arn}/{key}" if key else f"{bucket_arn}/*")
        return
    if service == "sqs":
        url = _static(params, "QueueUrl")
        if url:
            policy.allow([iam_action], names._arn("sqs", url.rstrip("/").rsplit("/", 1)[-1]))
        else:
            policy.allow([iam_action], _wide(policy, state_name, "QueueUrl",
                                             [names.queue_arn(q) for q in stack.queues]))
        return
    if service == "sns":
        topic = _static(params, "TopicArn")
        policy.allow([iam_action], topic or _wide(policy, state_name, "TopicArn"))
        return
    if service == "dynamodb":
        table = _static(params, "TableName")
        policy.allow([iam_action], names._arn("dynamodb", f"table/{table}") if table
                     else _wide(policy, state_name, "TableName"))
        return
    if service == "events" and action == "putEvents":
        buses = {e.get("EventBusName", "default") for e in params.get("Entries", []) if isinstance(e, Mapping)}
        if buses and all(isinstance(b, str) for b in buses):
            policy.allow(["events:PutEvents"], sorted(
                b if b.startswith("arn:") else names._arn("events", f"event-bus/{b}") for b in buses))
        else:
            policy.allow(["events:PutEvents"], _wide(policy, state_name, "EventBusName"))
        return
    policy.allow([iam_action], "*")
    policy.note(f"{state_name}: {iam_action} has no known resource in the definition: Resource \"*\"; "
                "narrow it with an `access:` grant if the target is a stack resource")


def _s3_action(action: str) -> str:
    special = {"listObjectsV2": "s3:ListBucket", "listObjects": "s3:ListBucket", "headObject": "s3:GetObject",
               "copyObject": "s3:PutObject"}
    return special.get(action, f"s3:{action[:1].upper()}{action[1:]}")

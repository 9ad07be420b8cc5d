"""CreateEventSourceMapping and UpdateEventSourceMapping for Kinesis and DynamoDB Streams.

The Lambda service (``lambda_service.py``) hands a request whose ``EventSourceArn`` is a
stream here; the record it keeps is the mapping as GetEventSourceMapping shows it, with
Lambda's defaults for streams (``BatchSize`` 100, ``MaximumRetryAttempts`` and
``MaximumRecordAgeInSeconds`` -1, ``ParallelizationFactor`` 1, ``BisectBatchOnFunctionError``
false, ``DestinationConfig: {"OnFailure": {}}``, ``TumblingWindowInSeconds`` 0,
``StateTransitionReason: "User action"``, ``LastProcessingResult: "No records processed"``).

Checks, all before anything is stored, with AWS's answers where they are on record
(LocalStack's snapshots of AWS, ``tests/aws/services/lambda_/event_source_mapping``):
a missing ``StartingPosition`` ("1 validation error detected: Value null at
'startingPosition' failed to satisfy constraint: Member must not be null."), ``AT_TIMESTAMP``
on a DynamoDB stream ("Unsupported starting position for arn type: ..."), a timestamp without
``AT_TIMESTAMP`` ("Timestamp only valid with StartingPosition AT_TIMESTAMP"), a stream that
does not exist ("Stream not found: ..."), a filter that is not an event pattern ("Invalid filter
pattern definition."), an ``OnSuccess`` destination ("Unsupported DestinationConfig parameter
for given event source mapping type."), a second mapping of one stream to one function
(``ResourceConflictException``). The range checks (batch size, window, factor, retries) are the
model's, done before any handler. Not on record, so worded here: a maximum record age between
0 and 59 (the API reference: "-1 or 60 to 604,800"), an on-failure destination that is not an
SQS queue or SNS topic.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from stepkit.endpoint.events import check_filter_criteria
from stepkit.endpoint.protocol import AwsError
from stepkit.endpoint.stream_sources import DYNAMODB_STREAM_ARN

_DEFAULTS: dict[str, Any] = {
    "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
    "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": -1, "BisectBatchOnFunctionError": False,
    "TumblingWindowInSeconds": 0,
}
_UPDATABLE = ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "MaximumRecordAgeInSeconds",
              "MaximumRetryAttempts", "BisectBatchOnFunctionError", "TumblingWindowInSeconds",
              "FunctionResponseTypes", "FilterCriteria", "DestinationConfig")


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message)


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _check_common(p: dict[str, Any]) -> None:
    age = p.get("MaximumRecordAgeInSeconds")
    if age is not None and 0 <= age < 60:
        raise _invalid("MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800 seconds.")
    destination = p.get("DestinationConfig")
    if destination:
        if destination.get("OnSuccess"):
            raise _invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
        target = (destination.get("OnFailure") or {}).get("Destination")
        if target and target.split(":")[2:3] not in (["sqs"], ["sns"]):
            raise _invalid(f"The on-failure destination {target} of a stream event source mapping must be an "
                           "Amazon SQS queue or an Amazon SNS topic.")
    check_filter_criteria(p.get("FilterCriteria"))


def create_stream_mapping(service: Any, p: dict[str, Any]) -> dict[str, Any]:
    """Check a CreateEventSourceMapping request for a stream, store the mapping and start it."""
    source = p["EventSourceArn"]
    position = p.get("StartingPosition")
    if not position:
        raise _invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                       "constraint: Member must not be null.")
    if position == "AT_TIMESTAMP" and DYNAMODB_STREAM_ARN.fullmatch(source):
        raise _invalid(f"Unsupported starting position for arn type: {source}")
    if p.get("StartingPositionTimestamp") is not None and position != "AT_TIMESTAMP":
        raise _invalid("Timestamp only valid with StartingPosition AT_TIMESTAMP")
    _check_common(p)
    name, qualifier = service._ref(p["FunctionName"])
    service._function(name)
    function_arn = service.arn(name, qualifier)
    if service.pollers is not None and not service.pollers.streams.source(source).exists():
        raise _invalid(f"Stream not found: {source}")
    for other in list(service.mappings.values()):
        if other["EventSourceArn"] == source and other["FunctionArn"] == function_arn:
            raise AwsError("ResourceConflictException", f'The event source arn (" {source} ") and function '
                           f'(" {name} ") provided mapping already exists. Please update or delete the existing '
                           f"mapping with UUID {other['UUID']}")
    uid = str(uuid.uuid4())
    rec: dict[str, Any] = {
        "UUID": uid, **_DEFAULTS, **{k: p[k] for k in _DEFAULTS if k in p},
        "EventSourceArn": source, "FunctionArn": function_arn, "StartingPosition": position,
        "State": "Creating" if p.get("Enabled", True) else "Disabled", "StateTransitionReason": "User action",
        "LastProcessingResult": "No records processed", "FunctionResponseTypes": p.get("FunctionResponseTypes") or [],
        "DestinationConfig": {"OnFailure": (p.get("DestinationConfig") or {}).get("OnFailure") or {}},
        "EventSourceMappingArn": f"arn:aws:lambda:{service.region}:{service.account}:event-source-mapping:{uid}",
        "_modified": time.time(),
    }
    if position == "AT_TIMESTAMP":
        rec["StartingPositionTimestamp"] = _timestamp(p.get("StartingPositionTimestamp") or 0)
    if p.get("FilterCriteria"):
        rec["FilterCriteria"] = p["FilterCriteria"]
    with service._lock:
        service.mappings[uid] = rec
        service.store.put("lambda_esm", uid, rec)
    out = service._mapping_out(rec)
    if rec["State"] == "Creating":
        service._enable(rec)
    return out


def update_stream_mapping(service: Any, rec: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """UpdateEventSourceMapping of a stream mapping: the checks of create, then the change; the
    shard pollers restart from their checkpoints."""
    _check_common(p)
    function_arn = service.arn(*service._ref(p["FunctionName"])) if "FunctionName" in p else rec["FunctionArn"]
    if "FunctionName" in p:
        service._function(service._ref(p["FunctionName"])[0])
    with service._lock:
        for key in _UPDATABLE:
            if key in p:
                rec[key] = p[key]
        if "DestinationConfig" in p:
            rec["DestinationConfig"] = {"OnFailure": (p["DestinationConfig"] or {}).get("OnFailure") or {}}
        rec.update(FunctionArn=function_arn, _modified=time.time())
        service.store.put("lambda_esm", rec["UUID"], rec)
    if service.pollers is not None:
        service.pollers.stop(rec["UUID"])
    enabled = p.get("Enabled")
    if enabled is False:
        with service._lock:
            rec["State"] = "Disabled"
            service.store.put("lambda_esm", rec["UUID"], rec)
    elif enabled is True or rec["State"] == "Enabled":
        service._enable(rec)
    return service._mapping_out(rec)

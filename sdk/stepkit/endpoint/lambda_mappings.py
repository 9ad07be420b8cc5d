"""Lambda event source mappings: the ``*EventSourceMapping`` operations; the endpoint's
pollers (``pollers``, set by the endpoint) read the queues and streams and invoke the
functions. SQS mappings are checked here; Kinesis and DynamoDB Streams ones in
``stream_mappings.py``."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stepkit.endpoint.lambda_pages import ApiPart, marker_page, public
from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.endpoint.stream_mappings import create_stream_mapping, update_stream_mapping
from stepkit.endpoint.stream_sources import is_stream_arn

if TYPE_CHECKING:
    from stepkit.endpoint.lambda_service import LambdaService

_QUEUE_ARN = re.compile(r"arn:aws[\w-]*:sqs:(?P<region>[\w-]+):(?P<account>\d{12}):(?P<name>[\w.-]+)")


class EventSourceMappings(ApiPart):
    def __init__(self, service: LambdaService) -> None:
        super().__init__(service)
        self.records: dict[str, dict[str, Any]] = {}  # by UUID
        self.pollers: Any = None  # set by the endpoint: starts/stops SQS pollers

    def load(self) -> None:
        for rec in self.service.store.all("lambda_esm"):
            self.records[rec["UUID"]] = rec

    def of_function(self, function_arn: str) -> list[str]:
        """The UUIDs of the mappings that invoke ``function_arn``."""
        return [uid for uid, rec in self.records.items() if rec["FunctionArn"] == function_arn]

    def mapping_out(self, rec: dict[str, Any]) -> dict[str, Any]:
        out = public(rec)
        out["LastModified"] = datetime.fromtimestamp(rec["_modified"], UTC)
        return out

    def CreateEventSourceMapping(self, p: dict, ctx: RequestContext) -> dict:
        source = p.get("EventSourceArn")
        if is_stream_arn(source or ""):  # Kinesis and DynamoDB Streams: stream_mappings.py
            return create_stream_mapping(self, p)
        m = _QUEUE_ARN.fullmatch(source or "")
        if m is None:
            raise AwsError("InvalidParameterValueException", "stepkit's event source mappings read SQS queues, "
                           f"Kinesis streams and DynamoDB streams: EventSourceArn {source!r} is none of them")
        name, qualifier = self.service.ref(p["FunctionName"])
        fn = self.service.function(name)
        batch = p.get("BatchSize", 10)
        window = p.get("MaximumBatchingWindowInSeconds", 0)
        _check_batching(batch, window)
        timeout = self.pollers.visibility_timeout(source) if self.pollers is not None else None
        if timeout is not None and timeout < fn["Timeout"]:
            raise AwsError("InvalidParameterValueException", f"Queue visibility timeout: {timeout} seconds is less "
                           f"than Function timeout: {fn['Timeout']} seconds")
        rec: dict[str, Any] = {
            "UUID": str(uuid.uuid4()),
            "BatchSize": batch,
            "MaximumBatchingWindowInSeconds": window,
            "EventSourceArn": source,
            "FunctionArn": self.service.arn(name, qualifier),
            "State": "Creating" if p.get("Enabled", True) else "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": p.get("FunctionResponseTypes") or [],
            "_modified": time.time(),
        }
        for key in ("ScalingConfig", "FilterCriteria"):
            if p.get(key):
                rec[key] = p[key]
        where = f"{self.service.region}:{self.service.account}"
        rec["EventSourceMappingArn"] = f"arn:aws:lambda:{where}:event-source-mapping:{rec['UUID']}"
        with self.service.lock:
            self.records[rec["UUID"]] = rec
            self.service.store.put("lambda_esm", rec["UUID"], rec)
        out = self.mapping_out(rec)
        if rec["State"] == "Creating":
            self.enable(rec)
        return out

    def enable(self, rec: dict[str, Any]) -> None:
        with self.service.lock:
            rec["State"] = "Enabled"
            self.service.store.put("lambda_esm", rec["UUID"], rec)
        if self.pollers is not None:
            self.pollers.start(rec)

    def start(self) -> None:
        """Start polling for every enabled mapping (at the endpoint's start)."""
        for rec in list(self.records.values()):
            if rec["State"] in ("Enabled", "Creating", "Enabling"):
                self.enable(rec)

    def _mapping(self, uid: str) -> dict[str, Any]:
        rec = self.records.get(uid)
        if rec is None:
            raise AwsError("ResourceNotFoundException", f"The resource you requested does not exist. (Service: "
                           f"Lambda, Status Code: 404, Request ID: {uuid.uuid4()})")
        return rec

    def GetEventSourceMapping(self, p: dict, ctx: RequestContext) -> dict:
        return self.mapping_out(self._mapping(p["UUID"]))

    def ListEventSourceMappings(self, p: dict, ctx: RequestContext) -> dict:
        rows = []
        for rec in list(self.records.values()):
            if p.get("EventSourceArn") and rec["EventSourceArn"] != p["EventSourceArn"]:
                continue
            if p.get("FunctionName") and rec["FunctionArn"] != self.service.arn(*self.service.ref(p["FunctionName"])):
                continue
            rows.append(self.mapping_out(rec))
        return marker_page(rows, p, "EventSourceMappings")

    def UpdateEventSourceMapping(self, p: dict, ctx: RequestContext) -> dict:
        rec = self._mapping(p["UUID"])
        if is_stream_arn(rec["EventSourceArn"]):
            return update_stream_mapping(self, rec, p)
        batch = p.get("BatchSize", rec["BatchSize"])
        window = p.get("MaximumBatchingWindowInSeconds", rec["MaximumBatchingWindowInSeconds"])
        _check_batching(batch, window)
        with self.service.lock:
            rec.update(BatchSize=batch, MaximumBatchingWindowInSeconds=window, _modified=time.time())
            for key in ("FunctionResponseTypes", "ScalingConfig", "FilterCriteria"):
                if key in p:
                    rec[key] = p[key]
            if "FunctionName" in p:
                rec["FunctionArn"] = self.service.arn(*self.service.ref(p["FunctionName"]))
            enabled = p.get("Enabled")
            self.service.store.put("lambda_esm", rec["UUID"], rec)
        if self.pollers is not None:
            self.pollers.stop(rec["UUID"])
        if enabled is False:
            rec["State"] = "Disabled"
            self.service.store.put("lambda_esm", rec["UUID"], rec)
        elif enabled is True or rec["State"] == "Enabled":
            self.enable(rec)
        return self.mapping_out(rec)

    def delete(self, uid: str) -> dict[str, Any] | None:
        with self.service.lock:
            rec = self.records.pop(uid, None)
            self.service.store.delete("lambda_esm", uid)
        if self.pollers is not None:
            self.pollers.stop(uid)
        return rec

    def DeleteEventSourceMapping(self, p: dict, ctx: RequestContext) -> dict:
        rec = self._mapping(p["UUID"])
        self.delete(p["UUID"])
        out = self.mapping_out(rec)
        out["State"] = "Deleting"
        return out


def _check_batching(batch: int, window: int) -> None:
    if batch > 10 and window < 1:
        raise AwsError("InvalidParameterValueException", "Maximum batch window in seconds must be greater than 0 if "
                       "maximum batch size is greater than 10")
    if batch > 10000:
        raise AwsError("InvalidParameterValueException", "BatchSize must be between 1 and 10000 for SQS queues.")

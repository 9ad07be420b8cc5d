"""EventBridge Pipes: moto keeps the pipes (the control plane), stepkit runs them.

Each pipe whose ``DesiredState`` is ``RUNNING`` gets the poller of its source, the same ones
event source mappings use: ``events.SqsPollers`` for an SQS queue (batches of
``SqsQueueParameters.BatchSize``, a failed batch left to come back after the visibility
timeout and, after ``maxReceiveCount``, to the queue's own dead-letter queue) and
``stream_pollers.StreamPollers`` for a Kinesis or DynamoDB stream (``StartingPosition``,
``BatchSize``, ``MaximumBatchingWindowInSeconds``, ``ParallelizationFactor``,
``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds``, ``OnPartialBatchItemFailure:
AUTOMATIC_BISECT``, ``DeadLetterConfig``), with the source's ``FilterCriteria``. Stopping or
deleting the pipe stops its poller; a stream source's checkpoints are kept across a stop
and a restart of the endpoint, and dropped with the pipe.

A batch goes through (the Pipes user guide, "Amazon EventBridge Pipes"):

1. the events, as Pipes shapes them: SQS records and DynamoDB records as Lambda sees them,
   Kinesis records flattened (``partitionKey``, ``sequenceNumber``, ``data``... beside
   ``eventSource``, not under ``kinesis``);
2. the enrichment, if any: a Lambda function invoked synchronously or an Express state
   machine run with StartSyncExecution, with the batch (a JSON array) as input; its output is
   the new batch (an array is a batch of events, anything else one event, an empty array or
   null ends the batch there);
3. the target: a Lambda function (``REQUEST_RESPONSE`` by default, or ``FIRE_AND_FORGET``), a
   state machine (StartExecution, ``FIRE_AND_FORGET``, or StartSyncExecution for
   ``REQUEST_RESPONSE``), an SQS queue (one message per event, ``MessageGroupId`` for a FIFO
   queue) or an event bus (one event per event: ``source`` "Pipe <name>", ``detail-type``
   "Event from <event source>", unless ``EventBridgeEventBusParameters`` name others).

A failure anywhere fails the batch, which the source's poller retries as its kind does. What
is not done: ``InputTemplate`` (of enrichment and target), targets other than these four, and
the pipe's CloudWatch logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from stepkit.endpoint.stream_sources import is_stream_arn

log = logging.getLogger(__name__)

_STREAM_SETTINGS = ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor", "MaximumRetryAttempts",
                    "MaximumRecordAgeInSeconds", "StartingPosition")


@dataclass(frozen=True)
class PipeResult:
    """What a pipe's run answers its source poller (the shape of an InvokeResult it reads)."""

    function_error: str | None = None
    payload: bytes = b""
    executed_version: str = "$LATEST"
    request_id: str = ""


class PipeFailure(Exception):
    """A step of a pipe failed: the batch fails."""


def pipe_mapping(pipe: Any) -> dict[str, Any]:
    """A pipe's source as the pollers read an event source mapping."""
    params = pipe.source_parameters or {}
    uid = "pipe-" + hashlib.sha256(pipe.arn.encode()).hexdigest()[:24]
    mapping: dict[str, Any] = {"UUID": uid, "FunctionArn": pipe.arn, "EventSourceArn": pipe.source, "_pipe": True,
                               "FilterCriteria": params.get("FilterCriteria")}
    if is_stream_arn(pipe.source):
        stream = params.get("KinesisStreamParameters") or params.get("DynamoDBStreamParameters") or {}
        mapping.update({"BatchSize": 100, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1,
                        **{k: stream[k] for k in _STREAM_SETTINGS if k in stream}})
        if stream.get("StartingPositionTimestamp") is not None:
            mapping["StartingPositionTimestamp"] = stream["StartingPositionTimestamp"]
        mapping["BisectBatchOnFunctionError"] = stream.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT"
        dead = (stream.get("DeadLetterConfig") or {}).get("Arn")
        mapping["DestinationConfig"] = {"OnFailure": {"Destination": dead} if dead else {}}
    else:
        queue = params.get("SqsQueueParameters") or {}
        mapping.update(BatchSize=queue.get("BatchSize", 10),
                       MaximumBatchingWindowInSeconds=queue.get("MaximumBatchingWindowInSeconds", 0))
    return mapping


def pipe_events(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as a pipe's enrichment and target see them (Kinesis's flattened)."""
    out = []
    for record in records:
        if "kinesis" in record:
            flat = {k: v for k, v in record.items() if k != "kinesis"}
            flat.update(record["kinesis"])
            out.append(flat)
        else:
            out.append(record)
    return out


def _as_batch(output: Any) -> list[Any]:
    if output is None:
        return []
    return list(output) if isinstance(output, list) else [output]


class Pipes:
    """Starts and stops the pipes' pollers as moto's pipes come, go, start and stop."""

    def __init__(self, moto_lock: Any, client: Any, invoke: Any, start_execution: Any, start_sync_execution: Any,
                 interval: float = 0.2) -> None:
        self.moto_lock = moto_lock
        self.sqs: Any = None  # events.SqsPollers invoking self.run (set by the endpoint)
        self.streams: Any = None  # stream_pollers.StreamPollers invoking self.run (set by the endpoint)
        self.client = client
        self.invoke = invoke
        self.start_execution = start_execution
        self.start_sync_execution = start_sync_execution
        self.interval = interval
        self._running: dict[str, tuple[str, dict[str, Any]]] = {}  # pipe ARN -> (signature, mapping)
        self._pipes: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for _, mapping in list(self._running.values()):
            self._pollers(mapping).stop(mapping["UUID"])
        self._running.clear()

    def is_running(self, pipe_arn: str) -> bool:
        return pipe_arn in self._running

    def role_of(self, pipe_arn: str) -> str | None:
        pipe = self._pipes.get(pipe_arn)
        return None if pipe is None else pipe.role_arn  # type: ignore[no-any-return]

    def _pollers(self, mapping: dict[str, Any]) -> Any:
        return self.streams if is_stream_arn(mapping["EventSourceArn"]) else self.sqs

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # a bug here must not stop the pipes
                log.exception("pipes: a look at the pipes failed")
            self._stop.wait(self.interval)

    def sync(self) -> None:
        """Start the pollers of the running pipes, stop the others."""
        from moto.pipes.models import pipes_backends

        wanted: dict[str, Any] = {}
        with self.moto_lock:
            for account in list(pipes_backends.keys()):
                for region in list(pipes_backends[account].keys()):
                    for pipe in list(pipes_backends[account][region].pipes.values()):
                        wanted[pipe.arn] = pipe
        self._pipes = wanted
        for arn, (signature, mapping) in list(self._running.items()):
            pipe = wanted.get(arn)
            if pipe is None or pipe.desired_state != "RUNNING" or _signature(pipe) != signature:
                del self._running[arn]
                self._pollers(mapping).stop(mapping["UUID"])
                if pipe is None and is_stream_arn(mapping["EventSourceArn"]):
                    self.streams.forget(mapping["UUID"])  # deleted: its checkpoints go too
        for arn, pipe in wanted.items():
            if pipe.desired_state == "RUNNING" and arn not in self._running:
                mapping = pipe_mapping(pipe)
                self._running[arn] = (_signature(pipe), mapping)
                self._pollers(mapping).start(mapping)

    # -- a batch through the pipe ---------------------------------------------------------------
    def run(self, pipe_arn: str, body: bytes) -> PipeResult:
        """The source poller's "invoke": enrichment and target for one batch."""
        pipe = self._pipes.get(pipe_arn)
        if pipe is None:
            raise PipeFailure(f"the pipe {pipe_arn} is gone")
        events = pipe_events(json.loads(body)["Records"])
        request = str(uuid.uuid4())
        try:
            if pipe.enrichment:
                events = self._enrich(pipe, events)
            if events:
                self._target(pipe, events)
        except Exception as exc:
            log.info("pipe %s: a batch failed: %s", pipe.name, exc)
            return PipeResult(function_error="Unhandled", request_id=request)
        return PipeResult(request_id=request)

    def _enrich(self, pipe: Any, events: list[Any]) -> list[Any]:
        service = pipe.enrichment.split(":")[2]
        if service == "lambda":
            result = self.invoke(pipe.enrichment, json.dumps(events).encode())
            if result.function_error:
                raise PipeFailure(f"the enrichment failed: {result.payload[:200]!r}")
            return _as_batch(json.loads(result.payload) if result.payload and result.payload.strip() else None)
        if service == "states":
            return _as_batch(json.loads(self._sync_execution(pipe.enrichment, events)))
        raise PipeFailure(f"stepkit enriches with Lambda functions and Express state machines, not {pipe.enrichment}")

    def _sync_execution(self, machine: str, events: list[Any]) -> str:
        from stepkit.endpoint.protocol import RequestContext

        out = self.start_sync_execution({"stateMachineArn": machine, "input": json.dumps(events)}, RequestContext())
        if out["status"] != "SUCCEEDED":
            raise PipeFailure(f"{machine}: {out['status']} {out.get('error')}: {out.get('cause')}")
        return str(out.get("output") or "null")

    def _target(self, pipe: Any, events: list[Any]) -> None:
        from stepkit.endpoint.protocol import RequestContext

        params = pipe.target_parameters or {}
        service = pipe.target.split(":")[2]
        if service == "lambda":
            mode = (params.get("LambdaFunctionParameters") or {}).get("InvocationType", "REQUEST_RESPONSE")
            result = self.invoke(pipe.target, json.dumps(events).encode(),
                                 invocation_type="Event" if mode == "FIRE_AND_FORGET" else "RequestResponse")
            if result.function_error:
                raise PipeFailure(f"the target failed: {result.payload[:200]!r}")
        elif service == "states":
            mode = (params.get("StepFunctionStateMachineParameters") or {}).get("InvocationType", "FIRE_AND_FORGET")
            if mode == "REQUEST_RESPONSE":
                self._sync_execution(pipe.target, events)
            else:
                self.start_execution({"stateMachineArn": pipe.target, "input": json.dumps(events)}, RequestContext())
        elif service == "sqs":
            self._to_queue(pipe, params, events)
        elif service == "events":
            self._to_bus(pipe, params, events)
        else:
            raise PipeFailure(f"stepkit's pipes target Lambda, Step Functions, SQS and EventBridge, not {pipe.target}")

    def _to_queue(self, pipe: Any, params: dict[str, Any], events: list[Any]) -> None:
        parts = pipe.target.split(":")
        sqs = self.client("sqs", parts[3])
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        queue = params.get("SqsQueueParameters") or {}
        for event in events:
            extra = {k: queue[k] for k in ("MessageGroupId", "MessageDeduplicationId") if queue.get(k)}
            if "MessageGroupId" in extra and "MessageDeduplicationId" not in extra:
                extra["MessageDeduplicationId"] = uuid.uuid4().hex
            sqs.send_message(QueueUrl=url, MessageBody=event if isinstance(event, str) else json.dumps(event),
                             **extra)

    def _to_bus(self, pipe: Any, params: dict[str, Any], events: list[Any]) -> None:
        bus = params.get("EventBridgeEventBusParameters") or {}
        origin = next((e.get("eventSource") for e in events if isinstance(e, dict) and e.get("eventSource")), None)
        entries = [{
            "EventBusName": pipe.target, "Source": bus.get("Source") or f"Pipe {pipe.name}",
            "DetailType": bus.get("DetailType") or f"Event from {origin or pipe.source.split(':')[2]}",
            "Detail": event if isinstance(event, str) else json.dumps(event),
            **({"Resources": bus["Resources"]} if bus.get("Resources") else {}),
        } for event in events]
        events_client = self.client("events", pipe.target.split(":")[3])
        for start in range(0, len(entries), 10):
            answer = events_client.put_events(Entries=entries[start:start + 10])
            if answer.get("FailedEntryCount"):
                raise PipeFailure(f"the event bus refused {answer['FailedEntryCount']} events")


def _signature(pipe: Any) -> str:
    """What, when changed, restarts a pipe's poller."""
    return json.dumps([pipe.source, pipe.source_parameters, pipe.enrichment, pipe.target], sort_keys=True,
                      default=str)

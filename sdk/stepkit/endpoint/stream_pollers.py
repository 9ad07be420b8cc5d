"""Kinesis and DynamoDB Streams event source mappings: shard pollers, as Lambda runs them.

Per enabled mapping, a thread per shard reads records in order (``stream_sources``), keeps
those its ``FilterCriteria`` match, and invokes the function synchronously with batches of up
to ``BatchSize`` records, gathered for up to ``MaximumBatchingWindowInSeconds``. With a
``ParallelizationFactor`` above 1, a chunk of ``BatchSize x factor`` records is split into
lanes by partition key (DynamoDB: the item's keys) and the lanes' batches run concurrently:
records of one key are always processed in order, as Lambda documents.

The shard's checkpoint (the last sequence number done) is a store record, written once a
chunk is done: delivery is at least once and a restarted endpoint goes on from it, as a
mapping in AWS does after an outage. ``StartingPosition``: ``LATEST`` is fixed when the mapping
starts for the first time (the shards' last sequence numbers then, stored), so records put
after CreateEventSourceMapping answered are delivered even if the poller starts later or the
endpoint restarts; ``TRIM_HORIZON`` starts at the oldest record; ``AT_TIMESTAMP`` at the
first record that arrived at ``StartingPositionTimestamp`` or later. A shard that appears
later (a resharding) is read from its start, after its parent has been read to its end.

A failed batch (Lambda's "Error handling for stream sources"; "kinesis-on-failure-destination"):

- a function error: retried, in order, until it succeeds, ``MaximumRetryAttempts`` retries are
  spent, or its oldest record is older than ``MaximumRecordAgeInSeconds`` (-1: never; the
  shard waits meanwhile); with ``BisectBatchOnFunctionError`` the batch is split in two first
  (splits do not count as retries);
- ``ReportBatchItemFailures``: the function's ``batchItemFailures`` name sequence numbers; the
  batch is retried from the lowest of them (the records before it are done); an empty or
  null answer is a success; an entry that names no record of the batch fails it whole;
- the function could not be invoked (it does not exist, it is not Active): retried without
  counting, until the records are too old;
- a discarded batch goes to ``DestinationConfig.OnFailure`` (an SQS queue or SNS topic) as
  Lambda's invocation record (``requestContext``, ``responseContext``, ``version``,
  ``timestamp``, ``KinesisBatchInfo``/``DDBStreamBatchInfo``), then the shard goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stepkit.endpoint.events import batch_item_failures, match_filters
from stepkit.endpoint.stream_sources import StreamRecord, StreamSource, iso, lane, source_for

log = logging.getLogger(__name__)

CHECKPOINT = "lambda_esm_shard"  # store kind: "<uuid>/<shard>" -> {"after": sequence | None}
PRIMED = "lambda_esm_primed"  # store kind: "<uuid>" -> the starting position was fixed
_MAX_BACKOFF = 1.0
_SHARD_LOOK = 1.0  # seconds between looks for new shards


@dataclass
class _Part:
    """A batch (or a part of one) on its way: its records and what its tries used."""

    records: list[StreamRecord]
    retries: int = 0
    invokes: int = 0
    last: Any = None  # the last InvokeResult
    error: str | None = None


@dataclass
class _Running:
    stop: threading.Event
    threads: list[threading.Thread] = field(default_factory=list)
    shards: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)  # shards read to their end (closed parents)


class StreamPollers:
    """The shard pollers of every enabled Kinesis/DynamoDB Streams mapping."""

    def __init__(
        self,
        store: Any,
        lock: Any,
        invoke: Callable[[str, bytes], Any],
        is_active: Callable[[str], bool],
        role_of: Callable[[str], str | None],
        send_failure: Callable[[str, str], None],
        *,
        idle: float = 0.05,
    ) -> None:
        self.store = store
        self.lock = lock
        self.invoke = invoke
        self.is_active = is_active
        self.role_of = role_of
        self.send_failure = send_failure
        self.idle = idle
        self.counts: Counter[str] = Counter()
        self._running: dict[str, _Running] = {}
        self._guard = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------
    def source(self, arn: str) -> StreamSource:
        return source_for(arn, self.lock)

    def start(self, mapping: dict[str, Any]) -> None:
        uid = mapping["UUID"]
        self.stop(uid)
        source = self.source(mapping["EventSourceArn"])
        self._prime(mapping, source)
        running = _Running(threading.Event())
        with self._guard:
            self._running[uid] = running
        watcher = threading.Thread(target=self._watch, args=(mapping, source, running),
                                   name=f"esm-{uid[:8]}-shards", daemon=True)
        running.threads.append(watcher)
        watcher.start()

    def stop(self, uid: str) -> None:
        with self._guard:
            running = self._running.pop(uid, None)
        if running is not None:
            running.stop.set()

    def forget(self, uid: str) -> None:
        """The mapping was deleted: its checkpoints go too."""
        self.stop(uid)
        self.store.delete(PRIMED, uid)
        for key in [k for k in self._checkpoint_keys() if k.startswith(uid + "/")]:
            self.store.delete(CHECKPOINT, key)

    def _checkpoint_keys(self) -> list[str]:
        return [r["key"] for r in self.store.all(CHECKPOINT)]

    def close(self) -> None:
        with self._guard:
            entries = list(self._running.values())
            self._running.clear()
        for running in entries:
            running.stop.set()
        for running in entries:
            for thread in list(running.threads):
                thread.join(5)

    def _prime(self, mapping: dict[str, Any], source: StreamSource) -> None:
        """Fix LATEST once, at the first start: the shards' last records now."""
        uid = mapping["UUID"]
        if self.store.get(PRIMED, uid) is not None:
            return
        if mapping.get("StartingPosition") == "LATEST":
            for shard, _parent in source.shards() or []:
                self._save(uid, shard, source.latest(shard))
        self.store.put(PRIMED, uid, {"at": time.time()})

    def _save(self, uid: str, shard: str, after: int | None) -> None:
        key = f"{uid}/{shard}"
        self.store.put(CHECKPOINT, key, {"key": key, "after": after})

    def _checkpoint(self, uid: str, shard: str) -> tuple[bool, int | None]:
        saved = self.store.get(CHECKPOINT, f"{uid}/{shard}")
        return (saved is not None, None if saved is None else saved["after"])

    # -- shards -------------------------------------------------------------------------------
    def _watch(self, mapping: dict[str, Any], source: StreamSource, running: _Running) -> None:
        """Start a poller per shard; look for new shards (a child waits for its parent)."""
        while not running.stop.is_set():
            shards = source.shards()
            for shard, parent in shards or []:
                if shard in running.shards:
                    continue
                if parent and parent in {s for s, _ in shards or []} and parent not in running.done:
                    continue
                running.shards.add(shard)
                thread = threading.Thread(target=self._poll_shard, args=(mapping, source, shard, running),
                                          name=f"esm-{mapping['UUID'][:8]}-{shard[-6:]}", daemon=True)
                running.threads.append(thread)
                thread.start()
            running.stop.wait(_SHARD_LOOK)

    def _poll_shard(self, mapping: dict[str, Any], source: StreamSource, shard: str, running: _Running) -> None:
        uid, stop = mapping["UUID"], running.stop
        idle = self.idle
        while not stop.is_set():
            if not self.is_active(mapping["FunctionArn"]):
                stop.wait(self.idle)  # a Pending function: invoking now would only count a failure
                continue
            try:
                known, after = self._checkpoint(uid, shard)
                chunk = self._gather(mapping, source, shard, known, after, stop)
            except Exception as exc:  # the endpoint is stopping, moto raised...
                log.debug("shard poller %s/%s: %r", uid, shard, exc)
                stop.wait(0.5)
                continue
            if chunk is None:  # the shard (or the stream) is gone
                running.done.add(shard)
                return
            if not chunk:
                stop.wait(idle)
                idle = min(idle * 2, 0.5)
                continue
            idle = self.idle
            if self._process(mapping, source, shard, chunk, stop):
                self._save(uid, shard, chunk[-1].sequence)

    def _gather(self, mapping: dict[str, Any], source: StreamSource, shard: str, known: bool, after: int | None,
                stop: threading.Event) -> list[StreamRecord] | None:
        """The next chunk: ``BatchSize x ParallelizationFactor`` records at most, waiting up to
        the batching window for a full batch once one record is there."""
        size = int(mapping.get("BatchSize", 100)) * int(mapping.get("ParallelizationFactor", 1))
        window = float(mapping.get("MaximumBatchingWindowInSeconds", 0))
        since = None
        if not known and mapping.get("StartingPosition") == "AT_TIMESTAMP":
            since = float(mapping.get("StartingPositionTimestamp") or 0)
        records = source.read(shard, after, size, since)
        if not records or window <= 0:
            return records
        deadline = time.monotonic() + window
        while len(records) < size and time.monotonic() < deadline and not stop.is_set():
            stop.wait(min(0.05, max(deadline - time.monotonic(), 0)))
            more = source.read(shard, records[-1].sequence, size - len(records))
            records.extend(more or [])
        return records

    # -- batches ------------------------------------------------------------------------------
    def _process(self, mapping: dict[str, Any], source: StreamSource, shard: str, chunk: list[StreamRecord],
                 stop: threading.Event) -> bool:
        """Deliver a chunk; False if the mapping stopped first (the chunk is read again later)."""
        keep = [r for r in chunk if match_filters(source.filter_view(r), mapping.get("FilterCriteria"))]
        self.counts["records_filtered_out"] += len(chunk) - len(keep)
        factor = int(mapping.get("ParallelizationFactor", 1))
        lanes: dict[int, list[StreamRecord]] = {}
        for record in keep:
            lanes.setdefault(lane(record.key, factor), []).append(record)
        size = int(mapping.get("BatchSize", 100))
        work = [[records[i:i + size] for i in range(0, len(records), size)] for records in lanes.values()]

        def run_lane(batches: list[list[StreamRecord]]) -> bool:
            return all(self._deliver(mapping, source, shard, batch, stop) for batch in batches)

        if len(work) <= 1:
            return all(run_lane(batches) for batches in work) and not stop.is_set()
        with ThreadPoolExecutor(len(work), thread_name_prefix=f"esm-{mapping['UUID'][:8]}-lane") as pool:
            done = list(pool.map(run_lane, work))
        return all(done) and not stop.is_set()

    def _deliver(self, mapping: dict[str, Any], source: StreamSource, shard: str, batch: list[StreamRecord],
                 stop: threading.Event) -> bool:
        """One batch, until it succeeds or is discarded; False if the mapping stopped first."""
        parts = deque([_Part(batch)])
        bisect = bool(mapping.get("BisectBatchOnFunctionError"))
        while parts:
            if stop.is_set():
                return False
            part = parts[0]
            outcome, failed_from = self._try(mapping, part)
            if outcome == "ok":
                parts.popleft()
                continue
            if outcome == "partial":  # the records before the lowest reported failure are done
                part.records = part.records[failed_from:]
            elif outcome == "function" and bisect and len(part.records) > 1:
                half = len(part.records) // 2
                parts.popleft()
                parts.extendleft([_Part(part.records[half:], part.retries), _Part(part.records[:half], part.retries)])
                continue
            if outcome != "invoke":  # a failure to invoke is retried without counting
                part.retries += 1
            condition = self._exhausted(mapping, part)
            if condition:
                parts.popleft()
                self._discard(mapping, source, shard, part, condition)
                continue
            stop.wait(min(0.05 * 2 ** min(part.invokes, 8), _MAX_BACKOFF))
        return True

    def _try(self, mapping: dict[str, Any], part: _Part) -> tuple[str, int]:
        """Invoke with a part: ("ok", 0), ("partial", index of the lowest reported failure),
        ("function", 0) for a function error, ("invoke", 0) when it could not be invoked."""
        role = self.role_of(mapping["FunctionArn"])
        records = [dict(r.event, invokeIdentityArn=role) if "kinesis" in r.event and role else r.event
                   for r in part.records]
        part.invokes += 1
        try:
            result = self.invoke(mapping["FunctionArn"], json.dumps({"Records": records}).encode())
        except Exception as exc:
            part.error = getattr(exc, "error_code", None) or type(exc).__name__
            mapping["LastProcessingResult"] = "PROBLEM: Function call failed"
            self.counts["invoke_errors"] += 1
            return "invoke", 0
        part.last, part.error = result, None
        if result.function_error:
            mapping["LastProcessingResult"] = "PROBLEM: Function call failed"
            self.counts["batches_failed"] += 1
            return "function", 0
        mapping["LastProcessingResult"] = "OK"
        if "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []):
            failed = batch_item_failures(result.payload, {str(r.sequence) for r in part.records})
            if failed:
                lowest = min(int(s) for s in failed)
                self.counts["batches_partly_failed"] += 1
                index = next(i for i, r in enumerate(part.records) if r.sequence >= lowest)
                self.counts["records_processed"] += index
                return "partial", index
        self.counts["records_processed"] += len(part.records)
        return "ok", 0

    @staticmethod
    def _exhausted(mapping: dict[str, Any], part: _Part) -> str | None:
        retries = int(mapping.get("MaximumRetryAttempts", -1))
        if retries != -1 and part.retries > retries:
            return "RetryAttemptsExhausted"
        age = int(mapping.get("MaximumRecordAgeInSeconds", -1))
        if age != -1 and time.time() - part.records[0].arrival > age:
            return "MaximumRecordAgeExceeded"
        return None

    def _discard(self, mapping: dict[str, Any], source: StreamSource, shard: str, part: _Part,
                 condition: str) -> None:
        self.counts["batches_discarded"] += 1
        destination = (((mapping.get("DestinationConfig") or {}).get("OnFailure")) or {}).get("Destination")
        if not destination:
            log.warning("event source mapping %s discarded %d records of %s (%s) and has no on-failure destination",
                        mapping["UUID"], len(part.records), shard, condition)
            return
        body = json.dumps(failure_record(mapping, source, shard, part, condition))
        try:
            self.send_failure(destination, body)
        except Exception as exc:
            log.warning("event source mapping %s: on-failure destination %s refused a record: %s",
                        mapping["UUID"], destination, exc)


def failure_record(mapping: dict[str, Any], source: StreamSource, shard: str, part: _Part,
                   condition: str) -> dict[str, Any]:
    """Lambda's invocation record for a discarded stream batch."""
    last = part.last
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None}
    if last is not None:
        response.update(executedVersion=last.executed_version, functionError=last.function_error)
    first, final = part.records[0], part.records[-1]
    if mapping.get("_pipe"):  # a pipe's dead-letter record: its own context, no function's
        context: dict[str, Any] = {"context": {"partnerResourceArn": mapping["FunctionArn"], "condition": condition}}
    else:
        context = {
            "requestContext": {
                "requestId": last.request_id if last is not None else str(uuid.uuid4()),
                "functionArn": mapping["FunctionArn"],
                "condition": condition,
                "approximateInvokeCount": part.invokes,
            },
            "responseContext": response,
        }
    return {
        **context,
        "version": "1.0",
        "timestamp": iso(time.time()),
        source.batch_info: {
            "shardId": shard,
            "startSequenceNumber": str(first.sequence),
            "endSequenceNumber": str(final.sequence),
            "approximateArrivalOfFirstRecord": iso(first.arrival, source.millis),
            "approximateArrivalOfLastRecord": iso(final.arrival, source.millis),
            "batchSize": len(part.records),
            "streamArn": source.arn,
        },
    }


class MappingPollers:
    """The Lambda service's ``pollers``: SQS mappings to ``SqsPollers``, streams to
    ``StreamPollers``; a stream mapping's checkpoints go when the mapping is deleted."""

    def __init__(self, sqs: Any, streams: StreamPollers, mappings: dict[str, dict[str, Any]]) -> None:
        self.sqs = sqs
        self.streams = streams
        self.mappings = mappings

    def visibility_timeout(self, queue_arn: str) -> int | None:
        return self.sqs.visibility_timeout(queue_arn)  # type: ignore[no-any-return]

    def start(self, mapping: dict[str, Any]) -> None:
        from stepkit.endpoint.stream_sources import is_stream_arn

        (self.streams if is_stream_arn(mapping["EventSourceArn"]) else self.sqs).start(mapping)

    def stop(self, uid: str) -> None:
        self.sqs.stop(uid)
        if uid in self.mappings:
            self.streams.stop(uid)
        else:
            self.streams.forget(uid)

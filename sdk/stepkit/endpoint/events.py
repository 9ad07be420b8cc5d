"""Event delivery: S3 notifications, EventBridge rules, SQS event source mappings.

moto already matches S3 notification configurations and EventBridge event patterns, and
delivers to SQS (and SNS, CloudWatch Logs) itself. Two of its delivery functions are
pointed at stepkit, because the functions and state machines live here, not in moto:

- ``moto.s3.notifications._invoke_awslambda``: an S3 event for a Lambda function (and
  ``_get_s3_event``, so that the key keeps its slashes, as AWS writes it);
- ``moto.events.models.Rule.send_to_targets``: targets that are Lambda functions or state
  machines (moto raises NotImplementedError for them) are delivered by stepkit; the
  others still go to moto. Disabled rules deliver nothing.

Delivery is at least once and accounted: a delivery is written to the store (the outbox)
inside the request that caused it, before the request is answered, and deleted when its
target accepted it; a failed delivery is retried with back-off and, when its retries are
used up or the failure is final, sent to the target's dead-letter queue
(``DeadLetterConfig``); the outbox is replayed at start-up. A state machine target is
started with an execution name derived from the event, rule and target, so a delivery
repeated after a crash finds the execution it already started instead of a second one.

SQS event source mappings are polled by ``SqsPollers``: batches of up to ``BatchSize``
messages gathered for up to ``MaximumBatchingWindowInSeconds``, the function invoked
synchronously, the processed messages deleted; failed ones (the whole batch on a function
error, or the ``batchItemFailures`` with ``ReportBatchItemFailures``) are left to come back
after their visibility timeout, and SQS moves them to the dead-letter queue after
``maxReceiveCount`` receives.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import inspect
import json
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.endpoint.store import Store

log = logging.getLogger(__name__)

#: Failures no retry can mend: straight to the dead-letter queue.
_FINAL = {"StateMachineDoesNotExist", "InvalidArn", "ResourceNotFoundException", "InvalidExecutionInput",
          "InvalidParameterValueException", "InvalidRequestContentException", "RequestEntityTooLargeException",
          "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NotFound"}
_MAX_BACKOFF = 2.0


class Deliveries:
    """The durable outbox of deliveries to Lambda functions and state machines."""

    def __init__(
        self,
        store: Store,
        start_execution: Callable[[dict[str, Any], RequestContext], dict[str, Any]],
        invoke_async: Callable[[str, bytes], Any],
        send_to_queue: Callable[[str, str, dict[str, Any]], None],
        workers: int = 8,
        publish: Callable[[str, str], None] | None = None,
    ) -> None:
        """``send_to_queue(arn, body, attributes)``: an ``MessageGroupId`` attribute is the
        group of a FIFO queue's message, not a message attribute."""
        self.store = store
        self.publish = publish
        self.start_execution = start_execution
        self.invoke_async = invoke_async
        self.send_to_queue = send_to_queue
        self.counts: Counter[str] = Counter()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"delivery-{i}", daemon=True)
                         for i in range(workers)]
        self._pending = 0
        self._cond = threading.Condition()

    def start(self) -> None:
        for record in self.store.all("outbox"):
            self._enqueue(record)
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self._stop.set()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(2)

    def submit(self, kind: str, target: str, payload: Any, *, name: str | None = None,
               dead_letter: str | None = None, retries: int = 185, max_age: float = 86400.0,
               source: dict[str, str] | None = None, dead_letter_body: str | None = None,
               dead_letter_style: str = "events") -> None:
        """``dead_letter_body``: what the dead-letter queue receives instead of the payload;
        ``dead_letter_style``: its error attributes, EventBridge's (``ERROR_CODE``, ``ERROR_MESSAGE``,
        ``TARGET_ARN``) or SNS's (``"sns"``: ``RequestID``, ``ErrorCode``, ``ErrorMessage``)."""
        record = {
            "id": str(uuid.uuid4()), "kind": kind, "target": target, "payload": payload, "name": name,
            "dead_letter": dead_letter, "retries": retries, "max_age": max_age, "attempts": 0,
            "created": time.time(), "source": source or {}, "dead_letter_body": dead_letter_body,
            "dead_letter_style": dead_letter_style,
        }
        self.store.put("outbox", record["id"], record)
        self.counts["submitted"] += 1
        self._enqueue(record)

    def _enqueue(self, record: dict[str, Any]) -> None:
        with self._cond:
            self._pending += 1
        self._queue.put(record)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def _done(self, record: dict[str, Any], outcome: str) -> None:
        self.store.delete("outbox", record["id"])
        self.counts[outcome] += 1
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def _work(self) -> None:
        while not self._stop.is_set():
            record = self._queue.get()
            if record is None:
                return
            try:
                self._deliver(record)
            except Exception as exc:  # a bug here must not stop the worker
                log.error("delivery %s failed unexpectedly: %r", record.get("id"), exc)
                self._done(record, "dropped")

    def _deliver(self, record: dict[str, Any]) -> None:
        try:
            self._send(record)
        except Exception as exc:
            code = getattr(exc, "code", None) or getattr(exc, "error_code", None) or type(exc).__name__
            if hasattr(exc, "response"):  # a boto3 ClientError (SQS and SNS targets)
                code = exc.response.get("Error", {}).get("Code", code)
            message = getattr(exc, "message", None) or str(exc)
            record["attempts"] += 1
            too_old = time.time() - record["created"] > record["max_age"]
            if code in _FINAL or too_old or record["attempts"] > record["retries"] or self._stop.is_set():
                condition = "MaximumEventAgeInSeconds" if too_old else (
                    "MaximumRetryAttempts" if record["attempts"] > record["retries"] else None)
                self._dead_letter(record, code, message, condition)
                return
            self.store.put("outbox", record["id"], record)
            delay = min(0.05 * 2 ** (record["attempts"] - 1), _MAX_BACKOFF)
            threading.Timer(delay, self._queue.put, args=(record,)).start()
            return
        self._done(record, "delivered")

    def _send(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "states":
            params = {"stateMachineArn": record["target"], "input": json.dumps(record["payload"])}
            if record.get("name"):
                params["name"] = record["name"]
            try:
                self.start_execution(params, RequestContext())
            except AwsError as err:
                if err.code != "ExecutionAlreadyExists":  # already started by an earlier attempt
                    raise
        elif kind == "sqs":  # the payload is the message body; ``name`` a FIFO queue's group
            self.send_to_queue(record["target"], record["payload"],
                               {"MessageGroupId": record["name"]} if record.get("name") else {})
        elif kind == "sns":
            if self.publish is None:
                raise AwsError("InvalidParameterValueException", "this endpoint cannot publish to SNS")
            self.publish(record["target"], record["payload"])
        elif kind == "lambda":
            self.invoke_async(record["target"], json.dumps(record["payload"]).encode())
        else:
            raise AwsError("InvalidParameterValueException",
                           f"stepkit delivers to Lambda, Step Functions, SQS and SNS, not to {record['target']}")

    def _dead_letter(self, record: dict[str, Any], code: str, message: str, condition: str | None = None) -> None:
        dlq = record.get("dead_letter")
        if not dlq:
            log.warning("delivery to %s failed (%s: %s) and has no dead-letter queue", record["target"], code, message)
            self._done(record, "dropped")
            return
        style = record.get("dead_letter_style")
        if style == "sns":
            attributes = {"RequestID": record["id"], "ErrorCode": code, "ErrorMessage": message[:256]}
        elif style == "scheduler":  # EventBridge Scheduler's dead-letter event
            attributes = {
                "ERROR_CODE": code, "ERROR_MESSAGE": message[:256], "TARGET_ARN": record["target"],
                "RETRY_ATTEMPTS": str(max(record["attempts"] - 1, 0)), "IS_PAYLOAD_TRUNCATED": "false",
                **({"EXHAUSTED_RETRY_CONDITION": condition} if condition else {}), **record.get("source", {}),
            }
        else:
            attributes = {
                "ERROR_CODE": code, "ERROR_MESSAGE": message[:256], "TARGET_ARN": record["target"],
                **record.get("source", {}),
            }
        body = record.get("dead_letter_body")
        try:
            self.send_to_queue(dlq, body if body is not None else json.dumps(record["payload"]), attributes)
        except Exception as exc:
            log.warning("dead-letter queue %s refused a message: %s", dlq, exc)
            self._done(record, "dropped")
            return
        self._done(record, "dead_lettered")


# -- moto hooks ----------------------------------------------------------------------------

_router: dict[str, Any] = {}
_endpoints: list[Deliveries] = []  # the endpoints of this process that have the hooks installed
_originals: dict[str, Any] = {}
_schedules_of: dict[int, Any] = {}  # each endpoint's (RuleSchedules, SchedulerSchedules), by id of its Deliveries
_install_lock = threading.Lock()


def install_moto_hooks(deliveries: Deliveries, account: str, schedules: Any = None, scheduler: Any = None) -> None:
    """Point moto's Lambda/state-machine deliveries at ``deliveries``, its PutRule at
    ``schedules`` and its CreateSchedule at ``scheduler`` (the latest endpoint wins); moto's own
    functions come back when the last endpoint uninstalls them."""
    with _install_lock:
        _router["deliveries"] = deliveries
        _router["account"] = account
        _router["schedules"] = schedules
        _router["scheduler"] = scheduler
        _schedules_of[id(deliveries)] = (schedules, scheduler)
        _endpoints.append(deliveries)
        if _originals:
            return
        import moto.s3.notifications as s3_notifications
        from moto.events.models import EventsBackend, Rule

        _originals.update(invoke=s3_notifications._invoke_awslambda, event=s3_notifications._get_s3_event,
                          send=Rule.send_to_targets, put_rule=EventsBackend.put_rule)
        original_event = _originals["event"]
        original_send = _originals["send"]

        def s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
            # AWS URL-encodes the key as a form value but keeps its slashes (moto encodes them too)
            event = original_event(event_name, bucket, key, notification_id)
            for record in event["Records"]:
                record["s3"]["object"]["key"] = quote_plus(key.name, safe="/")
            return event

        def send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
            _rule_to_targets(rule, event, transform_input, original_send)

        from stepkit.endpoint import sns_lambda

        sns_lambda.install(_originals, lambda: _router.get("deliveries"))
        from stepkit.endpoint import scheduler as scheduler_hooks

        scheduler_hooks.install(_originals, lambda: _router.get("scheduler"))
        s3_notifications._invoke_awslambda = _s3_to_lambda
        s3_notifications._get_s3_event = s3_event
        setattr(Rule, "send_to_targets", send_to_targets)  # noqa: B010 - moto's methods, patched
        setattr(EventsBackend, "put_rule", _put_rule)  # noqa: B010


def uninstall_moto_hooks(deliveries: Deliveries) -> None:
    with _install_lock:
        if deliveries in _endpoints:
            _endpoints.remove(deliveries)
        _schedules_of.pop(id(deliveries), None)
        if _router.get("deliveries") is deliveries:
            _router.pop("deliveries", None)
            _router.pop("schedules", None)
            _router.pop("scheduler", None)
            if _endpoints:
                _router["deliveries"] = _endpoints[-1]
                _router["schedules"], _router["scheduler"] = _schedules_of.get(id(_endpoints[-1]), (None, None))
        if _endpoints or not _originals:
            return
        import moto.s3.notifications as s3_notifications
        from moto.events.models import EventsBackend, Rule

        s3_notifications._invoke_awslambda = _originals["invoke"]
        s3_notifications._get_s3_event = _originals["event"]
        setattr(Rule, "send_to_targets", _originals["send"])  # noqa: B010
        setattr(EventsBackend, "put_rule", _originals["put_rule"])  # noqa: B010
        from stepkit.endpoint import sns_lambda

        sns_lambda.uninstall(_originals)
        from stepkit.endpoint import scheduler as scheduler_hooks

        scheduler_hooks.uninstall(_originals)
        _originals.clear()


def _put_rule(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """moto's PutRule, with AWS's check of a schedule expression (moto takes any ``cron(...)``
    and ``rate(1 minutes)``); the endpoint's schedules learn of the rule once it is stored."""
    from moto.events.exceptions import ValidationException

    from stepkit.stack.schedule_expressions import parse_schedule

    bound = inspect.signature(_originals["put_rule"]).bind(backend, name, *args, **kwargs)
    expression = bound.arguments.get("scheduled_expression")
    if expression:
        try:
            parse_schedule(expression)
        except ValueError:
            raise ValidationException("Parameter ScheduleExpression is not valid.") from None
    rule = _originals["put_rule"](backend, name, *args, **kwargs)
    schedules = _router.get("schedules")
    if schedules is not None:
        schedules.put(rule)
    return rule


def fire_scheduled_rule(rule: Any, event: dict[str, Any]) -> None:
    """A scheduled rule's firing (``schedules.RuleSchedules``) to all its targets, whatever its
    event pattern."""
    _rule_to_targets(rule, event, True, _originals["send"], scheduled=True)


def _s3_to_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    deliveries: Deliveries | None = _router.get("deliveries")
    if deliveries is None:
        return
    deliveries.submit("lambda", fn_arn, event_body, source={"SOURCE": "aws.s3"})


def _iso(value: Any) -> Any:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _target_input(target: dict[str, Any], event: dict[str, Any], transform: bool) -> Any:
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transform and transformer:
        from moto.events.utils import EventTemplateParser

        # moto's parser needs the ingestion time (the predefined <aws.events.event.ingestion-time>)
        ingested: Any = {**event, "ingestion-time": event.get("ingestion-time", event.get("time"))}
        return EventTemplateParser.parse(transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}),
                                         ingested)
    return event


def _rule_to_targets(rule: Any, event: dict[str, Any], transform_input: bool, original: Callable[..., Any],
                     scheduled: bool = False) -> None:
    """A rule's targets for ``event``: a matching event, or (``scheduled``) the rule's firing. A
    rule with a schedule and no pattern matches no event (moto's empty pattern matches all)."""
    if getattr(rule, "state", "ENABLED") != "ENABLED":
        return
    if not scheduled:
        if getattr(rule, "scheduled_expression", None) and not rule.event_pattern.get_pattern():
            return
        if not rule.event_pattern.matches_event(event):
            return
    deliveries: Deliveries | None = _router.get("deliveries")
    own = [t for t in rule.targets if t.get("Arn", "").split(":")[2:3] in (["lambda"], ["states"], ["sqs"], ["sns"])]
    others = [t for t in rule.targets if t not in own]
    if others:
        from moto.events.models import EventPattern

        subset = copy.copy(rule)
        subset.targets = others
        if scheduled:
            subset.event_pattern = EventPattern(None, {})
        original(subset, copy.deepcopy(event), transform_input)
    if not own or deliveries is None:
        return
    event = copy.deepcopy(event)
    from moto.events.utils import _BASE_EVENT_MESSAGE

    if event.get("id") == _BASE_EVENT_MESSAGE["id"]:  # moto's S3 events all carry one fixed id
        from moto.moto_api._internal import mock_random  # seeded per request: a journal replay draws the same id

        event["id"] = str(mock_random.uuid4())
    event["time"] = _iso(event.get("time"))
    event.pop("ingestion-time", None)
    for target in own:
        payload = _target_input(target, event, transform_input)
        if target["Arn"].split(":")[2] == "sqs":
            _to_queue(rule, target, payload)
            continue
        if target["Arn"].split(":")[2] == "sns":
            _to_topic(rule, target, payload)
            continue
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        policy = target.get("RetryPolicy") or {}
        kind = "states" if target["Arn"].split(":")[2] == "states" else "lambda"
        name = None
        if kind == "states":
            seed = f"{event.get('id')}|{rule.arn}|{target.get('Id')}"
            name = str(uuid.UUID(hashlib.sha256(seed.encode()).hexdigest()[:32]))
        deliveries.submit(
            kind, target["Arn"], payload, name=name, dead_letter=dlq,
            retries=int(policy.get("MaximumRetryAttempts", 185)),
            max_age=float(policy.get("MaximumEventAgeInSeconds", 86400)),
            source={"RULE_ARN": rule.arn},
        )


def _to_queue(rule: Any, target: dict[str, Any], payload: Any) -> None:
    """An SQS target, with Input/InputPath/InputTransformer applied (moto's own delivery reshapes
    the event and ignores InputPath). Runs inside the moto request that raised the event."""
    from moto.sqs.models import sqs_backends

    parts = target["Arn"].split(":")
    body = payload if isinstance(payload, str) else json.dumps(payload)
    group = (target.get("SqsParameters") or {}).get("MessageGroupId")
    try:
        sqs_backends[parts[4]][parts[3]].send_message(queue_name=parts[5], message_body=body, group_id=group)
    except Exception as exc:  # a missing queue: EventBridge drops it (its DLQ is for the target's own errors)
        log.warning("rule %s: SQS target %s refused the event: %s", rule.name, target["Arn"], exc)


def _to_topic(rule: Any, target: dict[str, Any], payload: Any) -> None:
    """An SNS target (moto's rules have none): the payload published to the topic."""
    from moto.sns.models import sns_backends

    parts = target["Arn"].split(":")
    body = payload if isinstance(payload, str) else json.dumps(payload)
    try:
        sns_backends[parts[4]][parts[3]].publish(body, arn=target["Arn"])
    except Exception as exc:  # a missing topic: EventBridge drops it, as for a missing queue
        log.warning("rule %s: SNS target %s refused the event: %s", rule.name, target["Arn"], exc)


# -- SQS event source mappings ---------------------------------------------------------------


class SqsPollers:
    """One poller group per enabled SQS event source mapping."""

    def __init__(
        self,
        sqs_client: Callable[[], Any],
        invoke: Callable[[str, bytes], Any],
        region: str,
        is_active: Callable[[str], bool] | None = None,
    ) -> None:
        self.sqs_client = sqs_client
        self.invoke = invoke
        self.region = region
        self.is_active = is_active
        self._pollers: dict[str, tuple[threading.Event, list[threading.Thread]]] = {}
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def visibility_timeout(self, queue_arn: str) -> int | None:
        try:
            client = self.sqs_client()
            url = self._queue_url(client, queue_arn)
            attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            return int(attrs["Attributes"]["VisibilityTimeout"])
        except Exception:
            return None

    @staticmethod
    def _queue_url(client: Any, queue_arn: str) -> str:
        parts = queue_arn.split(":")
        return client.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]

    def start(self, mapping: dict[str, Any]) -> None:
        uid = mapping["UUID"]
        self.stop(uid)
        stop = threading.Event()
        concurrency = int((mapping.get("ScalingConfig") or {}).get("MaximumConcurrency", 2))
        threads = [threading.Thread(target=self._poll, args=(mapping, stop), name=f"esm-{uid[:8]}-{i}", daemon=True)
                   for i in range(max(1, min(concurrency, 8)))]
        with self._lock:
            self._pollers[uid] = (stop, threads)
        for t in threads:
            t.start()

    def stop(self, uid: str) -> None:
        with self._lock:
            entry = self._pollers.pop(uid, None)
        if entry is not None:
            entry[0].set()

    def close(self) -> None:
        with self._lock:
            entries = list(self._pollers.values())
            self._pollers.clear()
        for stop, _ in entries:
            stop.set()
        for _, threads in entries:
            for t in threads:
                t.join(2)

    def _poll(self, mapping: dict[str, Any], stop: threading.Event) -> None:
        client = None
        url = None
        idle = 0.02
        while not stop.is_set():
            if self.is_active is not None and not self.is_active(mapping["FunctionArn"]):
                stop.wait(0.05)  # a Pending function: receiving now would only count a failed try
                continue
            try:
                if client is None:
                    client = self.sqs_client()
                    url = self._queue_url(client, mapping["EventSourceArn"])
                batch = self._gather(client, url, mapping, stop)
                if not batch:
                    stop.wait(idle)
                    idle = min(idle * 2, 0.5)
                    continue
                idle = 0.02
                self._process(client, url, mapping, batch)
            except Exception as exc:  # the queue is gone, the endpoint is stopping...
                log.debug("poller of %s: %r", mapping["UUID"], exc)
                client = None
                stop.wait(0.5)

    def _gather(self, client: Any, url: str | None, mapping: dict[str, Any], stop: threading.Event) -> list[dict]:
        size = int(mapping.get("BatchSize", 10))
        window = float(mapping.get("MaximumBatchingWindowInSeconds", 0))
        deadline = time.monotonic() + window
        batch: list[dict] = []
        while len(batch) < size and not stop.is_set():
            response = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(10, size - len(batch)), WaitTimeSeconds=0,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            batch.extend(messages)
            if not messages:
                if not batch or time.monotonic() >= deadline:
                    break
                stop.wait(min(0.05, max(deadline - time.monotonic(), 0)))
            elif time.monotonic() >= deadline and window == 0:
                break
        return batch

    def _record(self, message: dict[str, Any], mapping: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in (message.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
            attributes[name] = {k: v for k, v in attributes[name].items() if v is not None}
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": mapping["EventSourceArn"],
            "awsRegion": mapping["EventSourceArn"].split(":")[3],
        }

    def _process(self, client: Any, url: str | None, mapping: dict[str, Any], batch: list[dict]) -> None:
        records = [self._record(m, mapping) for m in batch]
        keep, drop = _filter(records, mapping.get("FilterCriteria"))
        if drop:  # messages no filter matches are deleted without an invocation, as Lambda does
            self._delete(client, url, drop)
        if not keep:
            return
        try:
            result = self.invoke(mapping["FunctionArn"], json.dumps({"Records": keep}).encode())
        except Exception as exc:
            log.info("event source mapping %s: invoke failed: %s", mapping["UUID"], exc)
            self.counts["batches_failed"] += 1
            return
        failed: set[str] = set()
        if result.function_error:
            failed = {r["messageId"] for r in keep}
        elif "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []):
            failed = batch_item_failures(result.payload, {r["messageId"] for r in keep})
        done = [r for r in keep if r["messageId"] not in failed]
        self.counts["messages_processed"] += len(done)
        self.counts["messages_failed"] += len(failed)
        if done:
            self._delete(client, url, done)

    @staticmethod
    def _delete(client: Any, url: str | None, records: list[dict]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start: start + 10]
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )


def batch_item_failures(payload: bytes, ids: set[str]) -> set[str]:
    """Lambda's rules: an empty or null answer means all succeeded; an entry naming no
    message of the batch fails the whole batch."""
    try:
        answer = json.loads(payload) if payload and payload.strip() else None
    except ValueError:
        return set()
    if not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures")
    if not failures:
        return set()
    failed = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in ids:
            return set(ids)
        failed.add(ident)
    return failed


def _filter(records: list[dict], criteria: dict[str, Any] | None) -> tuple[list[dict], list[dict]]:
    keep: list[dict] = []
    drop: list[dict] = []
    for record in records:
        candidate = dict(record)
        with contextlib.suppress(ValueError):
            candidate["body"] = json.loads(record["body"])
        (keep if match_filters(candidate, criteria) else drop).append(record)
    return keep, drop


def match_filters(view: dict[str, Any], criteria: dict[str, Any] | None) -> bool:
    """Whether an event source mapping's ``FilterCriteria`` keeps a record (seen as ``view``):
    no filter keeps all, else any filter's pattern (EventBridge's pattern language) must match."""
    patterns = _patterns(json.dumps((criteria or {}).get("Filters") or [], sort_keys=True))
    return not patterns or any(p.matches_event(view) for p in patterns)


@functools.lru_cache(maxsize=256)
def _patterns(filters: str) -> tuple[Any, ...]:
    from moto.events.models import EventPattern

    return tuple(EventPattern.load(f["Pattern"]) for f in json.loads(filters) if f.get("Pattern"))


def check_filter_criteria(criteria: dict[str, Any] | None) -> None:
    """AWS's answer to a filter that is not an event pattern, at create time."""
    for item in (criteria or {}).get("Filters") or []:
        pattern = item.get("Pattern")
        try:
            loaded = json.loads(pattern) if isinstance(pattern, str) else None
            if not isinstance(loaded, dict):
                raise ValueError(pattern)
            _patterns(json.dumps([item], sort_keys=True))
        except Exception:
            raise AwsError("InvalidParameterValueException", "Invalid filter pattern definition.") from None

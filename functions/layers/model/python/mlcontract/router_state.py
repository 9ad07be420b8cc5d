"""The router's state in one DynamoDB table (the stack's ``router`` table, ``ROUTER_TABLE``).

Items (partition key ``pk``, sort key ``sk``, both strings; TTL attribute ``expires_at``):

* ``model#<name>`` / ``policy``: the routing policy (JSON), its ``revision`` (changed only by a
  conditional or atomic write), the ``feedback_seq``/``decision_seq`` sequence counters, and
  ``arms``, the set of versions that ever had counters (added to before an arm's first write);
* ``model#<name>`` / ``arm#<version>``: one version's counters, changed ONLY by ``UpdateItem ...
  ADD`` (atomic on the server, no read-modify-write), so concurrent workers never lose an update;
* ``request#<request_id>`` / ``prediction``: what was answered, kept ``ttl_seconds`` for
  ``/feedback``, which claims it once with a conditional write;
* ``model#<name>`` / ``decision#<iso time>#<seq>``: the rollout's decisions.

The counters are read by key (one BatchGetItem of the policy and the arms), never by a Query:
a Query's cost grows with the partition (on moto, with the whole table, which holds one
prediction item per answered request), and the bandits read the counters for every request.

Discounted Thompson sampling multiplies every arm's past sums by the discount ``g`` at each
feedback, which ADD cannot do. The same sums are kept with ADDs: feedback number ``n`` (from the
atomic ``feedback_seq``) adds ``r * g**-(n - e*E)`` to the arm's chunk ``e = n // E``; at read
time, at sequence ``N``, the sum is ``sum_e g**(N - e*E) * chunk_e``, which is exactly
``sum_n g**(N - n) * r_n``. ``E`` is the number of feedbacks after which ``g**E`` is 1e-6, so a
stored term never exceeds 1e6, and chunks more than :data:`_KEPT_CHUNKS` behind are below 1e-12
and are removed by the arm's next update.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from mlcontract.errors import FeedbackAlreadyRecordedError, PolicyConflictError, UnknownRequestError
from mlcontract.labels import label_text
from mlcontract.routing import (
    LATENCY_BOUNDS_MS,
    ArmStats,
    ChampionPolicy,
    ThompsonPolicy,
    _Policy,
    latency_bucket,
    parse_policy,
)

POLICY_SK = "policy"
PREDICTION_SK = "prediction"
_COUNTERS = ("requests", "errors", "feedbacks", "successes", "failures", "reward_sum", "latency_ms_sum",
             "shadow_agreements", "shadow_comparisons")
#: Chunks of discounted sums this many sequence-chunks old or older weigh < 1e-12 and are dropped.
_KEPT_CHUNKS = 3
_DISCOUNT_FLOOR = 1e-6
#: BatchGetItem's limit on the keys of one request.
_BATCH_GET_LIMIT = 100
#: How many BatchGetItem requests one read makes at most while keys are left unprocessed.
_BATCH_GET_ROUNDS = 8


def model_pk(model: str) -> str:
    return f"model#{model}"


def arm_sk(version: str) -> str:
    return f"arm#{version}"


def request_pk(request_id: str) -> str:
    return f"request#{request_id}"


def _bucket_attr(index: int) -> str:
    return f"lat_{index:02d}"


def _num(value: float | int) -> dict[str, str]:
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return {"N": str(value) if isinstance(value, int) else repr(float(value))}


def _read_num(item: dict[str, Any], name: str) -> float:
    cell = item.get(name)
    return float(cell["N"]) if cell and "N" in cell else 0.0


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def chunk_length(discount: float) -> int:
    """``E``: how many feedbacks one chunk of discounted sums spans (``discount**E`` ~ 1e-6)."""
    if discount >= 1:
        return 0
    return max(1, math.floor(math.log(_DISCOUNT_FLOOR) / math.log(discount)))


def _chunk_attrs(length: int, chunk: int) -> tuple[str, str]:
    return f"d{length}_{chunk}_s", f"d{length}_{chunk}_f"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class RouterState:
    """The router's table, read and written through one boto3 DynamoDB client (thread-safe;
    one per worker, or per thread as callers prefer)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table = table_name
        self.client = client or boto3.client(
            "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 8}))
        #: (model, version) pairs this object already added to the model's ``arms`` set
        self._registered: set[tuple[str, str]] = set()

    # -- policy -----------------------------------------------------------------------------

    def policy(self, model: str) -> tuple[Any, int]:
        """The model's policy and its revision; ``champion`` at revision 0 when none is stored."""
        return self._policy_of(self._get_policy_item(model))

    def _get_policy_item(self, model: str) -> dict[str, Any]:
        return self.client.get_item(TableName=self.table, Key=self._key(model_pk(model), POLICY_SK),
                                    ConsistentRead=True).get("Item") or {}

    @staticmethod
    def _policy_of(item: dict[str, Any]) -> tuple[Any, int]:
        if "policy" not in item:
            return ChampionPolicy(), 0
        return parse_policy(item["policy"]["S"]), int(_read_num(item, "revision"))

    def set_policy(self, model: str, policy: Any, expected_revision: int | None = None) -> int:
        """Store ``policy`` (a policy object or its JSON document) and answer its new revision.
        With ``expected_revision`` the write happens only if the stored revision is that one (0:
        no policy stored yet), else :class:`PolicyConflictError`; without, it always happens. The
        revision is incremented by the server (ADD), so two writers never get the same one."""
        parsed = policy if isinstance(policy, _Policy) else parse_policy(policy)
        request: dict[str, Any] = {
            "TableName": self.table, "Key": self._key(model_pk(model), POLICY_SK),
            "UpdateExpression": "SET #policy = :policy, #updated = :now ADD #revision :one",
            "ExpressionAttributeNames": {"#policy": "policy", "#updated": "updated_at", "#revision": "revision"},
            "ExpressionAttributeValues": {":policy": {"S": parsed.model_dump_json()}, ":now": {"S": _now_iso()},
                                          ":one": _num(1)},
            "ReturnValues": "UPDATED_NEW",
        }
        if expected_revision is not None:
            if expected_revision == 0:
                request["ConditionExpression"] = "attribute_not_exists(#revision) OR #revision = :expected"
            else:
                request["ConditionExpression"] = "#revision = :expected"
            request["ExpressionAttributeValues"][":expected"] = _num(int(expected_revision))
        try:
            response = self.client.update_item(**request)
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            _, current = self.policy(model)
            raise PolicyConflictError(
                f"the routing policy of {model!r} is at revision {current}, not {expected_revision}") from None
        return int(_read_num(response["Attributes"], "revision"))

    # -- counters ---------------------------------------------------------------------------

    def stats(self, model: str, versions: Iterable[str] | None = None) -> dict[str, ArmStats]:
        """The arms' counters (with the discounted sums when the policy is a discounted
        Thompson sampling), by version: of ``versions`` only when given, else of every arm."""
        return self.view(model, versions)[2]

    def view(self, model: str, versions: Iterable[str] | None = None) -> tuple[Any, int, dict[str, ArmStats]]:
        """The policy, its revision and the arms' counters, the policy and the arms read together
        in one consistent BatchGetItem. The arms are ``versions`` when given (the one read a
        bandit needs per request); else every version that ever had counters (the policy item's
        ``arms`` set, read first with a GetItem) and those the policy names. An arm without
        counters (never counted, or reset) is left out."""
        if versions is None:
            item = self._get_policy_item(model)
            versions = [*item.get("arms", {}).get("SS", []), *self._policy_of(item)[0].arms()]
        items = self._get_many(model_pk(model), [POLICY_SK, *(arm_sk(v) for v in versions)])
        policy_item = items.get(POLICY_SK, {})
        policy, revision = self._policy_of(policy_item)
        discount = policy.discount if isinstance(policy, ThompsonPolicy) else 1.0
        sequence = int(_read_num(policy_item, "feedback_seq"))
        arms = {sk[len("arm#"):]: self._arm_of(items[sk], discount, sequence)
                for sk in sorted(items) if sk.startswith("arm#")}
        return policy, revision, arms

    @staticmethod
    def _arm_of(item: dict[str, Any], discount: float, sequence: int) -> ArmStats:
        counters: dict[str, Any] = {name: _read_num(item, name) for name in _COUNTERS}
        for name in ("requests", "errors", "feedbacks", "shadow_agreements", "shadow_comparisons"):
            counters[name] = int(counters[name])
        counters["latency_buckets"] = [int(_read_num(item, _bucket_attr(i))) for i in range(len(LATENCY_BOUNDS_MS) + 1)]
        length = chunk_length(discount)
        if length:
            successes = failures = 0.0
            for chunk in range(max(0, sequence // length - _KEPT_CHUNKS + 1), sequence // length + 1):
                weight = discount ** (sequence - chunk * length)
                s_attr, f_attr = _chunk_attrs(length, chunk)
                successes += weight * _read_num(item, s_attr)
                failures += weight * _read_num(item, f_attr)
            counters["discounted_successes"], counters["discounted_failures"] = successes, failures
        return ArmStats(**counters)

    def _arm_update(self, model: str, version: str, amounts: dict[str, float | int],
                    remove: list[str] | None = None) -> dict[str, Any]:
        """The UpdateItem (or transaction Update) that ADDs ``amounts`` to a version's counters."""
        names = {f"#a{i}": name for i, name in enumerate(amounts)}
        values = {f":a{i}": _num(amount) for i, amount in enumerate(amounts.values())}
        expression = "SET #version = :version ADD " + ", ".join(f"{n} :{n[1:]}" for n in names)
        if remove:
            names.update({f"#r{i}": name for i, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        return {"TableName": self.table, "Key": self._key(model_pk(model), arm_sk(version)),
                "UpdateExpression": expression, "ExpressionAttributeNames": {**names, "#version": "version"},
                "ExpressionAttributeValues": {**values, ":version": {"S": version}}}

    def _add(self, model: str, version: str, amounts: dict[str, float | int]) -> None:
        self._register_arm(model, version)
        self.client.update_item(**self._arm_update(model, version, amounts))

    def _register_arm(self, model: str, version: str) -> None:
        """Add ``version`` to the model's ``arms`` set (how :meth:`view` finds every arm without
        a Query) before its counters are first written by this object: once per worker and
        arm, and an arm is never written without being in the set (ADD to a set is idempotent,
        and nothing removes from it: a reset arm's item is just gone)."""
        if (model, version) in self._registered:
            return
        self.client.update_item(
            TableName=self.table, Key=self._key(model_pk(model), POLICY_SK), UpdateExpression="ADD #arms :arm",
            ExpressionAttributeNames={"#arms": "arms"}, ExpressionAttributeValues={":arm": {"SS": [version]}})
        self._registered.add((model, version))

    def record_request(self, model: str, version: str, latency_ms: float, error: bool) -> None:
        """Count one request answered (or failed) by ``version`` and its latency."""
        if not (math.isfinite(latency_ms) and latency_ms >= 0):
            raise ValueError(f"latency_ms must be a finite number >= 0, got {latency_ms!r}")
        self._add(model, version, {"requests": 1, "errors": int(bool(error)), "latency_ms_sum": float(latency_ms),
                                   _bucket_attr(latency_bucket(latency_ms)): 1})

    def record_shadow(self, model: str, version: str, agreed: bool) -> None:
        """Count one shadow comparison of ``version`` against the answer returned."""
        self._add(model, version, {"shadow_comparisons": 1, "shadow_agreements": int(bool(agreed))})

    def reset_arm(self, model: str, version: str) -> None:
        """Forget a version's counters (a new experiment starts from zero)."""
        self.client.delete_item(TableName=self.table, Key=self._key(model_pk(model), arm_sk(version)))

    # -- predictions and feedback -----------------------------------------------------------

    def remember_prediction(self, request_id: str, model: str, version: str, prediction: Any,
                            ttl_seconds: int = 86400) -> None:
        """Keep what ``request_id`` was answered, for its feedback, ``ttl_seconds`` long."""
        now = time.time()
        self.client.put_item(TableName=self.table, Item={
            **self._key(request_pk(request_id), PREDICTION_SK), "model": {"S": model}, "version": {"S": version},
            "prediction": {"S": json.dumps(prediction, sort_keys=True)}, "time": {"S": _now_iso()},
            "expires_at": _num(int(now + ttl_seconds))})

    def record_feedback(self, request_id: str, label: Any = None,
                        reward: float | None = None) -> tuple[str, str, float]:
        """Record the observed ``label`` (reward 1 when it equals the prediction, else 0) or a
        ``reward`` in [0, 1] for a remembered request, once; answers (model, version, reward).
        :class:`UnknownRequestError` for an unknown or expired request id,
        :class:`FeedbackAlreadyRecordedError` for a second feedback."""
        if (label is None) == (reward is None):
            raise ValueError("feedback needs exactly one of label and reward")
        if reward is not None and not (isinstance(reward, int | float) and 0 <= reward <= 1):
            raise ValueError(f"reward must be a number in [0, 1], got {reward!r}")
        key = self._key(request_pk(request_id), PREDICTION_SK)
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        # TTL deletion is lazy (AWS deletes expired items within days): an expired item is gone.
        if not item or _read_num(item, "expires_at") < time.time():
            raise UnknownRequestError(f"no prediction is remembered for request id {request_id!r}")
        if reward is None:
            predicted = json.loads(item["prediction"]["S"])
            predicted = predicted.get("prediction") if isinstance(predicted, dict) else predicted
            reward = 1.0 if label_text(label) == label_text(predicted) else 0.0
        reward = float(reward)
        if "feedback_at" in item:  # checked again, atomically, by the write
            raise FeedbackAlreadyRecordedError(f"feedback for request id {request_id!r} was already recorded")
        model, version = item["model"]["S"], item["version"]["S"]
        claim = {"TableName": self.table, "Key": key, "UpdateExpression": "SET #at = :now, #reward = :reward",
                 "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#at)",
                 "ExpressionAttributeNames": {"#at": "feedback_at", "#reward": "reward"},
                 "ExpressionAttributeValues": {":now": {"S": _now_iso()}, ":reward": _num(reward)}}
        # One transaction: the feedback is claimed if and only if its reward is counted.
        try:
            self.client.transact_write_items(TransactItems=[{"Update": claim},
                                                            {"Update": self._reward_update(model, version, reward)}])
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or [{}]
            if _code(exc) != "TransactionCanceledException" or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
            raise FeedbackAlreadyRecordedError(f"feedback for request id {request_id!r} was already recorded") from None
        return model, version, reward

    def _reward_update(self, model: str, version: str, reward: float) -> dict[str, Any]:
        """The arm update of one feedback; under a discounted Thompson policy it takes the next
        ``feedback_seq`` (a feedback that then loses a race for its request leaves a gap: one
        extra discount step for every arm, which is all it changes)."""
        response = self.client.update_item(
            TableName=self.table, Key=self._key(model_pk(model), POLICY_SK),
            UpdateExpression="ADD #seq :one, #arms :arm",  # the arm is registered with its sequence number
            ExpressionAttributeNames={"#seq": "feedback_seq", "#arms": "arms"},
            ExpressionAttributeValues={":one": _num(1), ":arm": {"SS": [version]}}, ReturnValues="ALL_NEW")
        policy, _ = self._policy_of(response["Attributes"])
        sequence = int(_read_num(response["Attributes"], "feedback_seq"))
        amounts: dict[str, float | int] = {"feedbacks": 1, "successes": reward, "failures": 1 - reward,
                                           "reward_sum": reward}
        remove: list[str] = []
        length = chunk_length(policy.discount) if isinstance(policy, ThompsonPolicy) else 0
        if length:
            chunk = sequence // length
            scale = policy.discount ** -(sequence - chunk * length)
            s_attr, f_attr = _chunk_attrs(length, chunk)
            amounts[s_attr], amounts[f_attr] = reward * scale, (1 - reward) * scale
            remove = [a for old in range(max(0, chunk - 2 * _KEPT_CHUNKS), chunk - _KEPT_CHUNKS + 1)
                      for a in _chunk_attrs(length, old)]
        return self._arm_update(model, version, amounts, remove)

    # -- decisions --------------------------------------------------------------------------

    def record_decision(self, model: str, decision: dict[str, Any]) -> str:
        """Append one rollout decision (any JSON object) to the model's log; answers its sort key."""
        response = self.client.update_item(
            TableName=self.table, Key=self._key(model_pk(model), POLICY_SK), UpdateExpression="ADD #seq :one",
            ExpressionAttributeNames={"#seq": "decision_seq"}, ExpressionAttributeValues={":one": _num(1)},
            ReturnValues="UPDATED_NEW")
        sequence = int(_read_num(response["Attributes"], "decision_seq"))
        now = _now_iso()
        sk = f"decision#{now}#{sequence:08d}"
        self.client.put_item(TableName=self.table, Item={
            **self._key(model_pk(model), sk), "time": {"S": now},
            "decision": {"S": json.dumps(decision, sort_keys=True)}})
        return sk

    def decisions(self, model: str) -> list[dict[str, Any]]:
        """The model's decisions, oldest first, each with its ``time``."""
        items = self._query(model_pk(model), "decision#")
        return [{**json.loads(i["decision"]["S"]), "time": i["time"]["S"]} for i in items]

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _get_many(self, pk: str, sort_keys: list[str]) -> dict[str, dict[str, Any]]:
        """The items of partition ``pk`` with these sort keys that exist, by sort key, read with
        consistent BatchGetItems (at most 100 keys each, no duplicate key: DynamoDB refuses
        both)."""
        wanted = [self._key(pk, sk) for sk in dict.fromkeys(sort_keys)]
        items: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            for item in self._batch_get(wanted[start:start + _BATCH_GET_LIMIT]):
                items[item["sk"]["S"]] = item
        return items

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One BatchGetItem of ``keys``; the keys DynamoDB leaves unprocessed (throttled) are
        asked for again after a growing pause, as AWS advises, :data:`_BATCH_GET_ROUNDS` times
        at most, then ``ProvisionedThroughputExceededException`` as the client's own retries
        would end."""
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict[str, Any]] = []
        for attempt in range(_BATCH_GET_ROUNDS):
            if attempt:
                time.sleep(min(1.0, 0.025 * 2 ** attempt))
            response = self.client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(self.table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        left = len(request[self.table]["Keys"])
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                     "Message": f"{left} key(s) still unprocessed after {_BATCH_GET_ROUNDS} "
                                                f"BatchGetItem requests"}}, "BatchGetItem")

    def _query(self, pk: str, prefix: str | None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                   "KeyConditionExpression": "pk = :pk",
                                   "ExpressionAttributeValues": {":pk": {"S": pk}}}
        if prefix:
            request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("query").paginate(**request):
            items.extend(page.get("Items", []))
        return items

"""A Lambda function's settings beside its code and configuration: its resource policy
(``AddPermission``...), reserved concurrency, asynchronous invocation config, tags, and the
account's settings. They are fields of the function's record (``_policy``,
``_reserved_concurrency``, ``_event_invoke``, ``_tags``), kept by :class:`LambdaService`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from stepkit.endpoint.lambda_code import UNZIPPED_LIMIT, ZIPPED_LIMIT
from stepkit.endpoint.lambda_pages import ApiPart
from stepkit.endpoint.protocol import AwsError, RequestContext


class FunctionSettingsApi(ApiPart):

    def AddPermission(self, p: dict, ctx: RequestContext) -> dict:
        rec, _ = self.service.resolve(p["FunctionName"], p.get("Qualifier"))
        fn = self.service.functions[rec["FunctionName"]]
        with self.service.lock:
            policy = fn.setdefault("_policy", [])
            if any(s["Sid"] == p["StatementId"] for s in policy):
                raise AwsError("ResourceConflictException", f"The statement id ({p['StatementId']}) provided already "
                               "exists. Please provide a new statement id, or remove the existing statement.")
            principal = p["Principal"]
            statement: dict[str, Any] = {
                "Sid": p["StatementId"],
                "Effect": "Allow",
                "Principal": {"Service": principal} if "." in principal else {"AWS": principal},
                "Action": p["Action"],
                "Resource": rec["FunctionArn"],
            }
            condition: dict[str, Any] = {}
            if p.get("SourceArn"):
                condition["ArnLike"] = {"AWS:SourceArn": p["SourceArn"]}
            if p.get("SourceAccount"):
                condition["StringEquals"] = {"AWS:SourceAccount": p["SourceAccount"]}
            if condition:
                statement["Condition"] = condition
            policy.append(statement)
            fn["RevisionId"] = str(uuid.uuid4())
            self.service.save(fn)
        return {"Statement": json.dumps(statement)}

    def GetPolicy(self, p: dict, ctx: RequestContext) -> dict:
        rec, _ = self.service.resolve(p["FunctionName"], p.get("Qualifier"))
        fn = self.service.functions[rec["FunctionName"]]
        if not fn.get("_policy"):
            raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": fn["_policy"]}
        return {"Policy": json.dumps(policy), "RevisionId": fn["RevisionId"]}

    def RemovePermission(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        fn = self.service.function(name)
        with self.service.lock:
            before = fn.get("_policy") or []
            after = [s for s in before if s["Sid"] != p["StatementId"]]
            if len(after) == len(before):
                raise AwsError("ResourceNotFoundException", "Statement not found.")
            fn["_policy"] = after
            self.service.save(fn)
        return {}

    def _set_concurrency(self, name: str, value: int | None) -> None:
        fn = self.service.function(name)
        with self.service.lock:
            fn["_reserved_concurrency"] = value
            self.service.save(fn)
        self.service.install(fn)

    def PutFunctionConcurrency(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        self._set_concurrency(name, p["ReservedConcurrentExecutions"])
        return {"ReservedConcurrentExecutions": p["ReservedConcurrentExecutions"]}

    def GetFunctionConcurrency(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        value = self.service.function(name).get("_reserved_concurrency")
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def DeleteFunctionConcurrency(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        self._set_concurrency(name, None)
        return {}

    def PutFunctionEventInvokeConfig(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        fn = self.service.function(name)
        config = {k: p[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if k in p}
        with self.service.lock:
            fn["_event_invoke"] = config
            self.service.save(fn)
        self.service.install(fn)
        return {"FunctionArn": fn["FunctionArn"], "LastModified": datetime.now(UTC), **config}

    UpdateFunctionEventInvokeConfig = PutFunctionEventInvokeConfig

    def GetFunctionEventInvokeConfig(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        fn = self.service.function(name)
        if "_event_invoke" not in fn:
            raise AwsError("ResourceNotFoundException", f"The function {fn['FunctionArn']} doesn't have an "
                           "EventInvokeConfig")
        return {"FunctionArn": fn["FunctionArn"], **fn["_event_invoke"]}

    def _tag_target(self, arn: str) -> dict[str, Any]:
        name, _ = self.service.ref(arn)
        return self.service.function(name)

    def TagResource(self, p: dict, ctx: RequestContext) -> dict:
        fn = self._tag_target(p["Resource"])
        with self.service.lock:
            fn.setdefault("_tags", {}).update(p["Tags"])
            self.service.save(fn)
        return {}

    def UntagResource(self, p: dict, ctx: RequestContext) -> dict:
        fn = self._tag_target(p["Resource"])
        with self.service.lock:
            for key in p["TagKeys"]:
                fn.get("_tags", {}).pop(key, None)
            self.service.save(fn)
        return {}

    def ListTags(self, p: dict, ctx: RequestContext) -> dict:
        return {"Tags": self._tag_target(p["Resource"]).get("_tags", {})}

    def GetAccountSettings(self, p: dict, ctx: RequestContext) -> dict:
        return {
            "AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": UNZIPPED_LIMIT,
                             "CodeSizeZipped": ZIPPED_LIMIT, "ConcurrentExecutions": 1000,
                             "UnreservedConcurrentExecutions": 1000},
            "AccountUsage": {"TotalCodeSize": sum(f["CodeSize"] for f in self.service.functions.values()),
                             "FunctionCount": len(self.service.functions)},
        }

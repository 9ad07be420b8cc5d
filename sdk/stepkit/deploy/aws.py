"""The AWS calls behind each kind of resource: look up (read only), create, update, delete
and describe. The planner uses only ``lookup`` and ``describe``; the executor the rest.

Creates are idempotent: a resource that already exists under the name and carries this
stack's tags (``stepkit:stack``, ``stepkit:stage``) is taken over and updated instead, which
is how a deploy killed half way converges. One that exists without them is someone else's
and is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.aws_apis import RestApiCalls
from stepkit.deploy.providers import PROVIDERS
from stepkit.deploy.providers.base import FOREIGN, MISSING, OURS, Provider, error_code, not_found
from stepkit.deploy.resources import (
    Function,
    Resource,
)
from stepkit.deploy.state import Recorded
from stepkit.deploy.target import Connection

STACK_TAG, STAGE_TAG = "stepkit:stack", "stepkit:stage"

CodeProvider = Callable[[Function], dict[str, Any]]
"""A function's code as CreateFunction's ``Code`` takes it: ``{"ZipFile": bytes}`` or
``{"S3Bucket": ..., "S3Key": ...}`` (a zip over the direct-upload limit, uploaded first)."""


class Api(RestApiCalls):
    """One target's resources, for one stack and stage (REST APIs: :mod:`stepkit.deploy.aws_apis`,
    the kinds moved to :mod:`stepkit.deploy.providers`: their provider)."""

    def __init__(self, conn: Connection, stack: str, stage: str, *, code: CodeProvider | None = None,
                 sleep: Callable[[float], None] = time.sleep, wait_timeout: float = 300.0) -> None:
        self.conn = conn
        self.tags = {STACK_TAG: stack, STAGE_TAG: stage}
        self.code = code
        self.sleep = sleep
        self.wait_timeout = wait_timeout
        self._providers: dict[str, Provider] = {}

    def client(self, service: str) -> Any:
        """The target's boto3 client of ``service`` (``"s3"``, ``"lambda"``, ...)."""
        return self.conn.client(service)

    def owned(self, tags: Mapping[str, str] | None) -> str:
        """:data:`OURS` if ``tags`` are this stack's and stage's, else :data:`FOREIGN`."""
        tags = tags or {}
        return OURS if all(tags.get(k) == v for k, v in self.tags.items()) else FOREIGN

    # --- dispatch to the kind's provider -------------------------------------------------------

    def provider(self, kind: str) -> Provider:
        """The provider of resource ``kind`` on this target (one per kind, kept)."""
        if kind not in self._providers:
            self._providers[kind] = PROVIDERS[kind](self)
        return self._providers[kind]

    def lookup(self, kind: str, name: str, resource: Resource | None = None) -> str:
        if kind in PROVIDERS:
            return self.provider(kind).lookup(name, resource)
        return getattr(self, f"_lookup_{kind}")(name, resource)  # type: ignore[no-any-return]

    def create(self, resource: Resource, adopt: bool = False) -> dict[str, Any]:
        if resource.kind in PROVIDERS:
            return self.provider(resource.kind).put(resource, None, adopt)
        return getattr(self, f"_put_{resource.kind}")(resource, None, adopt)  # type: ignore[no-any-return]

    def update(self, resource: Resource, recorded: Recorded | None) -> dict[str, Any]:
        if resource.kind in PROVIDERS:
            return self.provider(resource.kind).put(resource, recorded, True)
        return getattr(self, f"_put_{resource.kind}")(resource, recorded, True)  # type: ignore[no-any-return]

    def delete(self, recorded: Recorded, *, with_data: bool = False) -> None:
        """Delete a recorded resource (gone already: nothing to do); ``with_data``: with what
        it holds (``stepkit destroy --delete-data``)."""
        try:
            if recorded.kind in PROVIDERS:
                provider = self.provider(recorded.kind)
                (provider.delete_with_data if with_data else provider.delete)(recorded)
            else:
                getattr(self, f"_delete_{recorded.kind}")(recorded)
        except ClientError as exc:
            if not not_found(exc):
                raise

    def describe(self, recorded: Recorded) -> str:
        """A one-word state of a recorded resource on the target (``missing`` if gone)."""
        try:
            if recorded.kind in PROVIDERS:
                return self.provider(recorded.kind).describe(recorded)
            return str(getattr(self, f"_describe_{recorded.kind}")(recorded))
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise

    def retry_iam(self, call: Callable[[], Any]) -> Any:
        """IAM is eventually consistent: a role just created may not yet be assumable."""
        deadline = time.monotonic() + 90
        delay = 1.0
        while True:
            try:
                return call()
            except ClientError as exc:
                message = str(exc).lower()
                transient = ((error_code(exc) == "InvalidParameterValueException" and "role" in message)
                             or (error_code(exc) in {"AccessDeniedException", "InvalidArn"} and "role" in message))
                if not transient or time.monotonic() > deadline:
                    raise
                self.sleep(delay)
                delay = min(delay * 2, 10)

    # --- functions -----------------------------------------------------------------------------------

    def _lookup_function(self, name: str, _r: Resource | None) -> str:
        try:
            found = self.client("lambda").get_function(FunctionName=name)
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise
        return self.owned(found.get("Tags"))

    def _function_config(self, r: Function) -> dict[str, Any]:
        return {
            "Role": r.role_arn, "Handler": r.handler, "Runtime": r.runtime, "MemorySize": r.memory_size,
            "Timeout": r.timeout, "Environment": {"Variables": dict(r.environment)},
            "Description": r.description or f"stepkit {r.logical}",
        }

    def _put_function(self, r: Function, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        assert self.code is not None, "the executor provides the bundles"
        lam = self.client("lambda")
        state = self._lookup_function(r.name, r) if existing else MISSING
        if state == MISSING:
            code = self.code(r)
            try:
                self.retry_iam(lambda: lam.create_function(
                    FunctionName=r.name, Code=code, Architectures=[r.architecture],
                    Tags=self.tags, **self._function_config(r)))
            except ClientError as exc:
                if error_code(exc) != "ResourceConflictException":
                    raise
                state = OURS
        if state != MISSING:
            self.wait_function(r.name)
            old = rec.properties if rec is not None and rec.status == "done" else {}
            if old.get("code_digest") != r.code_digest[:12] or old.get("architecture") != r.architecture:
                lam.update_function_code(FunctionName=r.name, Architectures=[r.architecture], **self.code(r))
                self.wait_function(r.name)
            self.retry_iam(lambda: lam.update_function_configuration(FunctionName=r.name,
                                                                      **self._function_config(r)))
        self.wait_function(r.name)
        if r.reserved_concurrency is None:
            lam.delete_function_concurrency(FunctionName=r.name)
        else:
            lam.put_function_concurrency(FunctionName=r.name, ReservedConcurrentExecutions=r.reserved_concurrency)
        config = lam.get_function_configuration(FunctionName=r.name)
        return {"arn": config["FunctionArn"], "code_sha256": config.get("CodeSha256", "")}

    def wait_function(self, name: str) -> None:
        """Until the function is ``Active`` and no update is in progress."""
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.5
        while True:
            config = self.client("lambda").get_function_configuration(FunctionName=name)
            state, update = config.get("State", "Active"), config.get("LastUpdateStatus", "Successful")
            if state == "Failed" or update == "Failed":
                reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
                raise RuntimeError(f"function {name} failed to become Active: {reason}")
            if state == "Active" and update in ("Successful", None):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"function {name} is still {state}/{update} after {self.wait_timeout:.0f}s")
            self.sleep(delay)
            delay = min(delay * 1.5, 5)

    def _delete_function(self, rec: Recorded) -> None:
        self.client("lambda").delete_function(FunctionName=rec.name)

    def _describe_function(self, rec: Recorded) -> str:
        config = self.client("lambda").get_function_configuration(FunctionName=rec.name)
        return str(config.get("State", "Active"))

"""One target's resources for one stack and stage: what every kind's calls share (the
clients, the stack's tags, IAM's eventual consistency), and the dispatch to each kind's
provider (:mod:`stepkit.deploy.providers`), which makes the calls. The planner uses only
``lookup`` and ``describe``; the executor the rest.

Creates are idempotent: a resource that already exists under the name and carries this
stack's tags (``stepkit:stack``, ``stepkit:stage``) is taken over and updated instead, which
is how a deploy killed half way converges. One that exists without them is someone else's
and is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepkit.deploy.providers import PROVIDERS
from stepkit.deploy.providers.base import FOREIGN, MISSING, OURS, Provider, error_code, not_found
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded
from stepkit.deploy.target import Connection

if TYPE_CHECKING:
    from stepkit.deploy.providers.functions import Function
    from stepkit.deploy.providers.layers import Layer

__all__ = ["FOREIGN", "MISSING", "OURS", "Api", "CodeProvider"]

STACK_TAG, STAGE_TAG = "stepkit:stack", "stepkit:stage"

CodeProvider = Callable[["Function"], dict[str, Any]]
"""A function's code as CreateFunction's ``Code`` takes it: ``{"ZipFile": bytes}`` or
``{"S3Bucket": ..., "S3Key": ...}`` (a zip over the direct-upload limit, uploaded first)."""
LayerCodeProvider = Callable[["Layer"], tuple[dict[str, Any], str]]
"""A layer's zip as PublishLayerVersion's ``Content`` takes it, and its ``CodeSha256``."""


class Api:
    """One target's resources, for one stack and stage."""

    def __init__(self, conn: Connection, stack: str, stage: str, *, code: CodeProvider | None = None,
                 sleep: Callable[[float], None] = time.sleep, wait_timeout: float = 300.0) -> None:
        self.conn = conn
        self.tags = {STACK_TAG: stack, STAGE_TAG: stage}
        self.code = code
        self.layer_code: LayerCodeProvider | None = None
        self.records: Callable[[], Iterable[Recorded]] = tuple
        """The deploy's records as they stand (a layer's recorded version is the one to use)."""
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
        return self.provider(kind).lookup(name, resource)

    def create(self, resource: Resource, adopt: bool = False) -> dict[str, Any]:
        return self.provider(resource.kind).put(resource, None, adopt)

    def update(self, resource: Resource, recorded: Recorded | None) -> dict[str, Any]:
        return self.provider(resource.kind).put(resource, recorded, True)

    def delete(self, recorded: Recorded, *, with_data: bool = False) -> None:
        """Delete a recorded resource (gone already: nothing to do); ``with_data``: with what
        it holds (``stepkit destroy --delete-data``)."""
        try:
            provider = self.provider(recorded.kind)
            (provider.delete_with_data if with_data else provider.delete)(recorded)
        except ClientError as exc:
            if not not_found(exc):
                raise

    def describe(self, recorded: Recorded) -> str:
        """A one-word state of a recorded resource on the target (``missing`` if gone)."""
        try:
            return self.provider(recorded.kind).describe(recorded)
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise

    def url(self, recorded: Recorded) -> str | None:
        """A recorded resource's URL on the target now (None: it has none)."""
        return self.provider(recorded.kind).url(recorded)

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

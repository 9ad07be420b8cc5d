"""Deploying a ``pipe`` trigger: an EventBridge pipe. Mixed into ``aws.Api`` (which dispatches
on the resource kind: ``pipe``).

A pipe carries the stack's tags. A table's stream ARN is read from the table when the pipe is
put (DynamoDB names a stream when it creates it). A pipe's source cannot be changed in place
(UpdatePipe has no ``Source``): a pipe whose source changed is deleted and created again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.providers.streams import stream_arn
from stepkit.deploy.resources import Pipe, Resource
from stepkit.deploy.state import Recorded

MISSING = "missing"


class PipeCalls:
    """The Pipes calls behind ``Pipe`` (``client``, ``tags``, ``owned``, ``retry_iam``: aws.Api's)."""

    tags: dict[str, str]
    client: Callable[[str], Any]
    owned: Callable[[dict[str, str] | None], str]
    retry_iam: Callable[[Callable[[], Any]], Any]

    def _pipe(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client("pipes").describe_pipe(Name=name)  # type: ignore[no-any-return]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NotFoundException", "ResourceNotFoundException"}:
                return None
            raise

    def _lookup_pipe(self, name: str, _r: Resource | None) -> str:
        found = self._pipe(name)
        return MISSING if found is None else self.owned(found.get("Tags"))

    def _pipe_source(self, r: Pipe) -> str:
        if r.queue_arn:
            return r.queue_arn
        stream = stream_arn(self.client("dynamodb"), r.table_name)
        if stream is None:
            raise RuntimeError(f"table {r.table_name} has no stream for pipe {r.name} (set its `stream:`)")
        return stream

    def _put_pipe(self, r: Pipe, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        pipes = self.client("pipes")
        source = self._pipe_source(r)
        found = self._pipe(r.name) if existing else None
        state = "RUNNING" if r.enabled else "STOPPED"
        if found is not None and found.get("Source") != source:
            pipes.delete_pipe(Name=r.name)
            found = None
        if found is None:
            created = self.retry_iam(lambda: pipes.create_pipe(
                Name=r.name, RoleArn=r.role_arn, Source=source, SourceParameters=r.source_parameters(True),
                Target=r.target_arn, TargetParameters=r.target_parameters(), DesiredState=state, Tags=self.tags,
                **({"Enrichment": r.enrichment_arn} if r.enrichment_arn else {})))
            return {"arn": created["Arn"], "source": source}
        pipes.update_pipe(Name=r.name, RoleArn=r.role_arn, SourceParameters=r.source_parameters(False),
                          Target=r.target_arn, TargetParameters=r.target_parameters(), DesiredState=state,
                          Enrichment=r.enrichment_arn)
        return {"arn": found["Arn"], "source": source}

    def _delete_pipe(self, rec: Recorded) -> None:
        if self._pipe(rec.name) is not None:
            self.client("pipes").delete_pipe(Name=rec.name)

    def _describe_pipe(self, rec: Recorded) -> str:
        found = self._pipe(rec.name)
        return MISSING if found is None else str(found.get("CurrentState") or found.get("DesiredState"))

"""ResultWriter: a Distributed Map's child results, formatted (WriterConfig) and exported to S3.

Layout, as AWS writes it (``MAPRUN_ID`` is the last part of the Map Run ARN)::

    PREFIX/MAPRUN_ID/manifest.json
    PREFIX/MAPRUN_ID/SUCCEEDED_0.json    child executions that succeeded
    PREFIX/MAPRUN_ID/FAILED_0.json       failed, timed out and aborted ones
    PREFIX/MAPRUN_ID/PENDING_0.json      items no child execution started for (the Map Run failed first)

``manifest.json`` is ``{"DestinationBucket", "MapRunArn", "ResultFiles": {"FAILED": [{"Key",
"Size"}...], "PENDING": [...], "SUCCEEDED": [...]}}``; the Map state's result is then
``{"MapRunArn": ..., "ResultWriterDetails": {"Bucket": ..., "Key": ".../manifest.json"}}``.

Records: ``Transformation: NONE`` (the default when exporting) writes each child as
DescribeExecution shows it (``ExecutionArn``, ``Input``, ``InputDetails``, ``Name``,
``Output``, ``OutputDetails``, ``RedriveCount``, ``RedriveStatus``, ``RedriveStatusReason``,
``StartDate``, ``StateMachineArn``, ``Status``, ``StopDate``; ``Error``/``Cause`` for failed
ones); ``COMPACT`` only the outputs; ``FLATTEN`` the outputs with arrays flattened. Failed
children are always written whole, as with NONE. ``OutputType`` JSON writes a JSON array per
file, JSONL one record per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import StatesError

if TYPE_CHECKING:
    from stepkit.engine.map_run import ChildExecution, MapRun

#: AWS splits result files at 5 GB.
MAX_RESULT_FILE_BYTES = 5 * 1024**3


def writer_failed(cause: str) -> StatesError:
    return StatesError(errors.RESULT_WRITER_FAILED, cause)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class WriterConfig:
    """``ResultWriter`` as the engine uses it: where to export, and how to format."""

    def __init__(self, definition: dict | None) -> None:
        definition = definition or {}
        self.exports = "Resource" in definition
        config = definition.get("WriterConfig") or {}
        default = "NONE" if self.exports else "COMPACT"
        self.transformation: str = config.get("Transformation", default)
        self.output_type: str = config.get("OutputType", "JSON")

    # -- formatting -------------------------------------------------------------------------
    def transform(self, children: Iterable[ChildExecution]) -> Iterator[Any]:
        """The records of ``children`` (in order) as this config formats them."""
        mode = self.transformation
        for child in children:
            if child.status != "SUCCEEDED" or mode == "NONE":
                yield child.result_record()
            elif mode == "FLATTEN" and isinstance(child.output, list):
                yield from child.output
            else:
                yield child.output

    # -- export -----------------------------------------------------------------------------
    def write(self, client: Any, bucket: Any, prefix: Any, map_run: MapRun) -> dict[str, Any]:
        """Write the Map Run's results and its manifest; returns the Map state's result."""
        if not isinstance(bucket, str) or not bucket:
            raise writer_failed("The ResultWriter's Parameters must give the Bucket as a string.")
        if prefix is None:
            prefix = ""
        if not isinstance(prefix, str):
            raise writer_failed("The ResultWriter's Prefix must be a string.")
        run_id = map_run.arn.rsplit(":", 1)[-1]
        base = f"{prefix.rstrip('/')}/{run_id}/" if prefix else f"{run_id}/"
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        succeeded = [c for c in map_run.children if c.status == "SUCCEEDED"]
        failed = [c for c in map_run.children if c.status in ("FAILED", "ABORTED", "TIMED_OUT")]
        groups = (
            ("SUCCEEDED", self.transform(succeeded)),
            ("FAILED", (c.result_record() for c in failed)),
            ("PENDING", (p.result_record() for p in map_run.pending)),
        )
        for name, records in groups:
            files[name] = self._write_records(client, bucket, base, name, records)
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run.arn, "ResultFiles": files}
        key = f"{base}manifest.json"
        self._put(client, bucket, key, _dumps(manifest).encode())
        for child in map_run.children:
            child.result_written = True
        return {"MapRunArn": map_run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}

    def _write_records(
        self, client: Any, bucket: str, base: str, name: str, records: Iterable[Any]
    ) -> list[dict[str, Any]]:
        written: list[dict[str, Any]] = []
        lines: list[str] = []
        size = 0

        def flush() -> None:
            nonlocal lines, size
            if not lines:
                return
            if self.output_type == "JSONL":
                body = ("\n".join(lines) + "\n").encode()
            else:
                body = ("[" + ",".join(lines) + "]").encode()
            key = f"{base}{name}_{len(written)}.json"
            self._put(client, bucket, key, body)
            written.append({"Key": key, "Size": len(body)})
            lines, size = [], 0

        for record in records:
            text = _dumps(record)
            if lines and size + len(text) + 1 > MAX_RESULT_FILE_BYTES:
                flush()
            lines.append(text)
            size += len(text.encode()) + 1
        flush()
        return written

    @staticmethod
    def _put(client: Any, bucket: str, key: str, body: bytes) -> None:
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body)
        except Exception as exc:
            from stepkit.engine.item_reader import error_text

            raise writer_failed(f"Failed to write the object s3://{bucket}/{key}: {error_text(exc)}") from None

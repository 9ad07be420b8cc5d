"""register_model: add a model version to the S3 model registry and point an alias at it.

``{"action": "set_alias", "model_name", "alias", "version"}`` moves an alias to a registered
version (the rollout state machine promoting its challenger); anything else registers.

Input (from the training state machine, after its Choice decided to promote)::

    {"bucket": "artifacts", "registry_prefix": "registry", "model_name": "breast-cancer",
     "run_id": "run-1", "metric": "balanced_accuracy", "alias": "champion",
     "expected_champion_version": 3,          # what select_model compared against (null: none)
     "candidate": {<select_model's "best">: candidate_id, family, params, artifact_key,
                   artifact_sha256, lineage_key, validation, test}}

The registry, per model, under ``<registry_prefix>/<model_name>/``::

    versions/000001/version.json   metrics, lineage, artifact hash   (immutable)
    versions/000001/model.joblib   the model bundle                  (immutable)
    index.json                     versions, aliases, history        (the source of truth)

Readers (select_model, predict) go through ``index.json`` only, so a version is visible once
the index names it. Writes are conditional, so two pipelines cannot corrupt the registry:

1. read ``index.json`` and its ETag;
2. claim the next version number by creating ``version.json`` with ``If-None-Match: *``;
3. write ``model.joblib`` with ``If-None-Match: *``;
4. replace ``index.json`` with ``If-Match: <ETag>`` (``If-None-Match: *`` for the first one).

If another writer won step 2 or 4, this one removes what it wrote and raises
:class:`RegistryConflictError` (the state machine retries it with backoff, re-reading the
registry). Version numbers come from the index and from a listing of ``versions/``, so a
version left behind by a writer that died between steps 2 and 4 is skipped, never reused.

If ``alias`` is ``champion`` but the champion moved since ``select_model`` compared against
it (another run promoted a model meanwhile), the comparison is stale: the version is
registered as ``challenger`` instead, and the response says so.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from mlcontract.aws import error_code, json_bytes, read_object, s3
from mlcontract.errors import InvalidEventError, ModelIntegrityError, ModelNotFoundError
from mlcontract.events import SAFE_NAME, artifacts_bucket, parse_event
from mlcontract.service import Service
from pydantic import BaseModel, ConfigDict, Field, model_validator

service = Service("register_model")
logger = service.logger
__all__ = ["InvalidEventError", "ModelIntegrityError", "handler"]
INDEX_FORMAT = "stepkit.registry/1"
VERSION_FORMAT = "stepkit.registry.version/1"
HISTORY_LIMIT = 100
#: S3's answers to a lost conditional write: 412 (the condition is false) and 409 (another
#: conditional write to the same key is in flight).
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


class ArtifactNotFoundError(Exception):
    """The candidate's artifact or lineage does not exist."""


class RegistryConflictError(Exception):
    """Another writer changed the registry first; nothing of this attempt was kept. Retry."""


class SelectedCandidate(BaseModel):
    model_config = ConfigDict(extra="allow")

    candidate_id: str
    family: str
    params: dict[str, Any] = Field(default_factory=dict)
    artifact_key: str
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    lineage_key: str
    metrics_key: str | None = None
    validation: dict[str, float | None] = Field(default_factory=dict)
    test: dict[str, float | None] = Field(default_factory=dict)


class RegisterEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = None
    registry_prefix: str = "registry"
    model_name: str = Field(pattern=SAFE_NAME)
    run_id: str | None = None
    metric: str = "balanced_accuracy"
    alias: Literal["champion", "challenger"] = "champion"
    expected_champion_version: int | Literal["any"] | None = "any"
    """The champion the candidate was compared with (``null``: there was none); ``"any"``
    registers without that check."""
    candidate: SelectedCandidate
    description: str = ""

    @model_validator(mode="after")
    def _defaults(self) -> RegisterEvent:
        self.bucket = artifacts_bucket(self.bucket)
        self.registry_prefix = self.registry_prefix.strip("/")
        return self


class AliasEvent(BaseModel):
    """``{"action": "set_alias", "model_name", "alias", "version"}``: point an alias at a
    registered version (the rollout promoting its challenger), a conditional write like any other."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["set_alias"]
    bucket: str | None = None
    registry_prefix: str = "registry"
    model_name: str = Field(pattern=SAFE_NAME)
    alias: str = Field(pattern=SAFE_NAME)
    version: int = Field(ge=1)
    reason: str = ""

    @model_validator(mode="after")
    def _defaults(self) -> AliasEvent:
        self.bucket = artifacts_bucket(self.bucket)
        self.registry_prefix = self.registry_prefix.strip("/")
        return self


def set_alias(request: AliasEvent) -> dict[str, Any]:
    key = f"{request.registry_prefix}/{request.model_name}/index.json"
    index, etag = read_index(request.bucket, key)
    if index is None or str(request.version) not in index["versions"]:
        raise ModelNotFoundError(f"model '{request.model_name}' has no version {request.version} in the registry")
    previous = index["aliases"].get(request.alias)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    index = {**index, "revision": index["revision"] + 1, "updated_at": now,
             "aliases": {**index["aliases"], request.alias: request.version},
             "history": [*index["history"][-(HISTORY_LIMIT - 1):],
                         {"at": now, "action": "set_alias", "version": request.version, "alias": request.alias,
                          "previous": previous, "reason": request.reason}]}
    _put_index(request.bucket, key, json_bytes(index), etag)
    service.count("AliasesMoved", 1)
    logger.info("alias moved", extra={"model_name": request.model_name, "alias": request.alias,
                                      "version": request.version, "previous": previous})
    return {"model_name": request.model_name, "alias": request.alias, "version": request.version,
            "previous": previous, "index_key": key}


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("action") == "set_alias":
        return set_alias(parse_event(event, AliasEvent, "register_model"))
    request = parse_event(event, RegisterEvent, "register_model")
    bucket = request.bucket
    candidate = request.candidate
    root = f"{request.registry_prefix}/{request.model_name}"
    index_key = f"{root}/index.json"

    index, etag = read_index(bucket, index_key)
    aliases = dict(index["aliases"]) if index else {}
    current_champion = aliases.get("champion")

    alias, reason = request.alias, None
    expected = request.expected_champion_version
    if alias == "champion" and expected != "any" and current_champion != expected:
        alias = "challenger"
        reason = (f"the champion moved from {_v(expected)} to {_v(current_champion)} after this candidate was "
                  f"compared with it; registered as challenger, not promoted")
        logger.warning("champion moved during the run", extra={"expected": expected, "current": current_champion})

    artifact = read_object(bucket, candidate.artifact_key, ArtifactNotFoundError)
    digest = hashlib.sha256(artifact).hexdigest()
    if digest != candidate.artifact_sha256:
        raise ModelIntegrityError(f"s3://{bucket}/{candidate.artifact_key} has SHA-256 {digest[:12]}..., "
                                  f"the selected candidate's is {candidate.artifact_sha256[:12]}...")
    lineage = json.loads(read_object(bucket, candidate.lineage_key, ArtifactNotFoundError))

    version = next_version(bucket, root, index)
    version_dir = f"{root}/versions/{version:06d}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    test_score = candidate.test.get(request.metric)
    version_doc = {
        "format": VERSION_FORMAT,
        "model_name": request.model_name,
        "version": version,
        "created_at": now,
        "run_id": request.run_id,
        "description": request.description,
        "candidate_id": candidate.candidate_id,
        "family": candidate.family,
        "params": candidate.params,
        "metric": request.metric,
        "test_score": test_score,
        "metrics": {"validation": candidate.validation, "test": candidate.test},
        "artifact_key": f"{version_dir}/model.joblib",
        "artifact_sha256": digest,
        "source_artifact_key": candidate.artifact_key,
        "lineage": lineage,
        "registered_by": {"function_name": getattr(context, "function_name", None),
                          "request_id": getattr(context, "aws_request_id", None)},
    }
    version_key = f"{version_dir}/version.json"
    written: list[str] = []
    try:
        _put_new(bucket, version_key, json_bytes(version_doc), "application/json",
                 conflict=f"version {version} of {request.model_name} was claimed by another writer")
        written.append(version_key)
        _put_new(bucket, version_doc["artifact_key"], artifact, "application/octet-stream",
                 conflict=f"version {version}'s model.joblib already exists")
        written.append(version_doc["artifact_key"])

        previous_alias_target = aliases.get(alias)
        aliases[alias] = version
        new_index = {
            "format": INDEX_FORMAT,
            "model_name": request.model_name,
            "revision": (index["revision"] + 1) if index else 1,
            "updated_at": now,
            "latest_version": version,
            "aliases": aliases,
            "versions": {
                **(index["versions"] if index else {}),
                str(version): {
                    "version": version,
                    "created_at": now,
                    "run_id": request.run_id,
                    "candidate_id": candidate.candidate_id,
                    "family": candidate.family,
                    "metric": request.metric,
                    "test_score": test_score,
                    "version_key": version_key,
                    "artifact_key": version_doc["artifact_key"],
                    "artifact_sha256": digest,
                },
            },
            "history": [
                *(index["history"] if index else [])[-(HISTORY_LIMIT - 1):],
                {"at": now, "action": "register", "version": version, "alias": alias,
                 "previous": previous_alias_target, "run_id": request.run_id},
            ],
        }
        _put_index(bucket, index_key, json_bytes(new_index), etag)
    except Exception as exc:
        _roll_back(bucket, list(reversed(written)))
        if isinstance(exc, RegistryConflictError):
            service.count("RegistryConflicts", 1)
        raise

    service.count("ModelVersionsRegistered", 1)
    if alias == "champion":
        service.count("ChampionPromotions", 1)
    logger.info("model registered", extra={"model_name": request.model_name, "version": version, "alias": alias})
    return {
        "model_name": request.model_name,
        "version": version,
        "alias": alias,
        "promoted": alias == "champion",
        "previous_champion": current_champion,
        "reason": reason or (f"version {version} is the new {alias}"
                             + (f" (was {_v(current_champion)})" if alias == "champion" else "")),
        "metric": request.metric,
        "test_score": test_score,
        "index_key": index_key,
        "version_key": version_key,
        "artifact_key": version_doc["artifact_key"],
        "artifact_sha256": digest,
    }


# -- the registry -------------------------------------------------------------------------------


def read_index(bucket: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        response = s3().get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None, None
        raise
    return json.loads(response["Body"].read()), response["ETag"]


def next_version(bucket: str, root: str, index: dict[str, Any] | None) -> int:
    """One more than any version the index names or any ``versions/`` folder holds."""
    highest = int(index["latest_version"]) if index else 0
    paginator = s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{root}/versions/", Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            if name.isdigit():
                highest = max(highest, int(name))
    return highest + 1


def _put_new(bucket: str, key: str, body: bytes, content_type: str, *, conflict: str) -> None:
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
    except ClientError as exc:
        if error_code(exc) in CONFLICT_CODES:
            raise RegistryConflictError(f"s3://{bucket}/{key}: {conflict}") from None
        raise


def _put_index(bucket: str, key: str, body: bytes, etag: str | None) -> None:
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)
    except ClientError as exc:
        code = error_code(exc)
        if code in CONFLICT_CODES or (etag and code in ("NoSuchKey", "404")):
            raise RegistryConflictError(
                f"s3://{bucket}/{key} changed since it was read (another registration won); nothing was kept"
            ) from None
        raise


def _roll_back(bucket: str, keys: list[str]) -> None:
    """Remove this attempt's version files, the model first: the claim (version.json) goes
    last, so no other writer can reuse the number while our files are still there."""
    for key in keys:
        try:
            s3().delete_object(Bucket=bucket, Key=key)
        except ClientError:
            logger.exception("could not remove a version file after a conflict; it stays orphaned and unreferenced",
                             extra={"key": key})


# -- helpers ------------------------------------------------------------------------------------


def _v(version: Any) -> str:
    return "none" if version is None else f"v{version}"


handler = service.handler(run)

"""Reading the S3 model registry's ``index.json`` (what register_model writes), as predict and
the serving API both do: one conditional GET per read with the cached ETag, so a moved alias
or a new version is seen by the next read while an unchanged index costs a 304."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from botocore.exceptions import ClientError

from .aws import NOT_FOUND_CODES, error_code, s3
from .errors import ModelNotFoundError

#: index.json per registry: (bucket, key) -> {"etag", "doc", "checked"}
_indexes: dict[tuple[str, str], dict[str, Any]] = {}


def index_key(registry_prefix: str, model_name: str) -> str:
    return f"{registry_prefix.strip('/')}/{model_name}/index.json"


def current_index(bucket: str, key: str, model_name: str) -> dict[str, Any]:
    """The registry's index, re-read when S3 says it changed (at most every
    ``$ALIAS_CHECK_SECONDS``, default 0 = every call); :class:`ModelNotFoundError` when the
    model has no registry yet."""
    cached = _indexes.get((bucket, key))
    ttl = float(os.environ.get("ALIAS_CHECK_SECONDS", "0"))
    now = time.monotonic()
    if cached and ttl > 0 and now - cached["checked"] < ttl:
        return cached["doc"]  # type: ignore[no-any-return]
    extra = {"IfNoneMatch": cached["etag"]} if cached else {}
    try:
        response = s3().get_object(Bucket=bucket, Key=key, **extra)
    except ClientError as exc:
        code = error_code(exc)
        if cached and code in ("304", "NotModified"):
            cached["checked"] = now
            return cached["doc"]  # type: ignore[no-any-return]
        if code in NOT_FOUND_CODES:
            _indexes.pop((bucket, key), None)
            raise ModelNotFoundError(f"model '{model_name}' is not in the registry (no s3://{bucket}/{key})") from None
        raise
    doc: dict[str, Any] = json.loads(response["Body"].read())
    _indexes[(bucket, key)] = {"etag": response["ETag"], "doc": doc, "checked": now}
    return doc


def version_entry(index: dict[str, Any], model_name: str, version: int | str) -> dict[str, Any]:
    """The index's entry of one version; :class:`ModelNotFoundError` naming it otherwise."""
    entry = (index.get("versions") or {}).get(str(version))
    if entry is None:
        raise ModelNotFoundError(f"model '{model_name}' has no version {version} in the registry")
    return entry  # type: ignore[no-any-return]


def alias_version(index: dict[str, Any], model_name: str, alias: str) -> int:
    """The version an alias points at; :class:`ModelNotFoundError` naming the known aliases otherwise."""
    version = (index.get("aliases") or {}).get(alias)
    if version is None:
        known = ", ".join(sorted(index.get("aliases") or {})) or "none"
        raise ModelNotFoundError(f"model '{model_name}' has no alias '{alias}' (aliases: {known})")
    return int(version)

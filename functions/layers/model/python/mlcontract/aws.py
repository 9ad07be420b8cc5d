"""The S3 client and the reading of objects, as every function uses them."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

#: S3 error codes that mean "the object (or its bucket) is not there".
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})

_client: Any = None


def s3() -> Any:
    """One client per worker, created on first use from the environment (region,
    credentials, and AWS_ENDPOINT_URL when set, as boto3 reads it)."""
    global _client
    if _client is None:
        _client = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))
    return _client


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def read_object(bucket: str, key: str, missing: type[Exception], what: str = "") -> bytes:
    """The object's bytes; ``missing(...)`` when it or its bucket does not exist."""
    try:
        return s3().get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
    except ClientError as exc:
        code = error_code(exc)
        if code in NOT_FOUND_CODES:
            raise missing(f"{what}s3://{bucket}/{key} does not exist ({code})") from None
        raise


def json_bytes(document: Any) -> bytes:
    """A JSON document as the functions write them: indented, NaN refused, newline-terminated."""
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode("utf-8")

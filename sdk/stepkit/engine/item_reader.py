"""ItemReader: a Distributed Map's items read from Amazon S3, streamed.

Resources: ``arn:aws:states:::s3:getObject`` (``ReaderConfig.InputType`` CSV, JSON, JSONL,
PARQUET, MANIFEST (S3 inventory), or an Athena data manifest with
``ManifestType: ATHENA_DATA``) and ``arn:aws:states:::s3:listObjectsV2``. The S3 client
comes from the integration registry (``TaskResolver.client("s3")``), so whatever
endpoint boto3 is configured for (``AWS_ENDPOINT_URL``) or a test's factory is used.

Items are produced lazily: a CSV or JSONL object is read line by line from the response's
``StreamingBody`` and never held whole; a JSON document is parsed whole (JSON has no
streaming form that AWS defines), a Parquet file row group by row group. Every failure is
``States.ItemReaderFailed`` with a cause that names the object (and the line, for text).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from stepkit.asl import errors
from stepkit.asl.errors import StatesError

#: AWS stops reading items beyond this many, whatever MaxItems says.
MAX_ITEMS_LIMIT = 100_000_000

DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
INPUT_TYPES = ("CSV", "JSON", "JSONL", "PARQUET", "MANIFEST")

S3Client = Any


def reader_failed(cause: str) -> StatesError:
    return StatesError(errors.ITEM_READER_FAILED, cause)


#: ``$$.Map.Item.Source`` of items read from the state input (AWS's context object page).
STATE_DATA = "STATE_DATA"


class ObjectEntries(list):
    """The items of a Map over a JSON object: one ``{"Key": key, "Value": value}`` pair per
    member, in the object's order. A list subclass so the Map state knows its items are
    pairs and gives each iteration ``$$.Map.Item.Key``.

    Evidence (no AWS recording in the corpus covers it; see tests/unit/engine/test_map_object.py):
    docs.aws.amazon.com/step-functions/latest/dg/input-output-itemspath.html ("If the input to
    the Map state is a JSON object, it runs an iteration for each key-value pair in the object,
    passing the pair to the iteration as input"); input-output-contextobject.html
    (``Map.Item.Key`` "Only valid for JSON objects"); floci-io/floci#1588 (observed on AWS for
    an ItemReader JSON object: "Each Map iteration receives an item shaped like
    {"Key": "a", "Value": {"x": 1}}", and Key, Index and Value resolve in the ItemSelector).
    """

    __slots__ = ()


def object_entries(document: dict) -> ObjectEntries:
    return ObjectEntries({"Key": key, "Value": value} for key, value in document.items())


def map_item(index: int, item: Any, source: str, keyed: bool) -> dict[str, Any]:
    """``$$.Map.Item`` of one iteration, fields in the documented order (Index, Key, Value,
    Source); for a pair of an object, Key is the member's name and Value its value."""
    if keyed:
        return {"Index": index, "Key": item["Key"], "Value": item["Value"], "Source": source}
    return {"Index": index, "Value": item, "Source": source}


def item_source(bucket: str, key: str | None = None) -> str:
    """``$$.Map.Item.Source`` of an item read from S3, written as AWS documents it: the
    object's URI ("S3://bucket-name/object-key"), the bucket's for a listObjectsV2 listing
    ("S3://bucket-name")."""
    return f"S3://{bucket}" if key is None else f"S3://{bucket}/{key}"


def _s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


class _Body(io.RawIOBase):
    """A botocore ``StreamingBody`` as a raw binary stream (for buffered/text wrappers)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


class ReaderSettings:
    """``ItemReader.ReaderConfig`` as the reader uses it (MaxItems is resolved by the state)."""

    def __init__(self, config: dict | None) -> None:
        config = config or {}
        # Without a ReaderConfig, s3:getObject reads a JSON array (as AWS's first form did).
        self.input_type: str | None = config.get("InputType", "JSON" if not config else None)
        self.header_location: str = config.get("CSVHeaderLocation", "FIRST_ROW")
        self.headers: list[str] | None = config.get("CSVHeaders")
        self.delimiter_name: str = config.get("CSVDelimiter", "COMMA")
        self.manifest_type: str | None = config.get("ManifestType")
        self.items_pointer: str | None = config.get("ItemsPointer")
        self.transformation: str = config.get("Transformation", "NONE")

    def check(self, action: str) -> None:
        """Refuse a reader config that does not fit the resource or the format."""
        if action == "listObjectsV2":
            if self.transformation not in ("NONE", "LOAD_AND_FLATTEN"):
                raise reader_failed(f"Unsupported Transformation '{self.transformation}' for s3:listObjectsV2.")
            if self.transformation == "LOAD_AND_FLATTEN" and self.input_type not in INPUT_TYPES[:4]:
                raise reader_failed("Transformation LOAD_AND_FLATTEN needs ReaderConfig.InputType CSV, JSON, "
                                    "JSONL or PARQUET.")
            return
        if self.input_type is None:
            raise reader_failed("ReaderConfig.InputType is required to read items with s3:getObject.")
        if self.input_type not in INPUT_TYPES:
            raise reader_failed(f"Unsupported ReaderConfig.InputType '{self.input_type}'.")
        if self.manifest_type == "ATHENA_DATA" and self.input_type not in ("CSV", "JSONL", "PARQUET"):
            raise reader_failed("ManifestType ATHENA_DATA needs InputType CSV, JSONL or PARQUET, not "
                                f"{self.input_type}.")
        if self.manifest_type == "S3_INVENTORY" and self.input_type != "MANIFEST":
            raise reader_failed(f"ManifestType S3_INVENTORY needs InputType MANIFEST, not {self.input_type}.")
        csv_fields = self.headers is not None or self.delimiter_name != "COMMA"
        if self.input_type != "CSV" and (csv_fields or self.header_location != "FIRST_ROW"):
            raise reader_failed(f"CSVHeaderLocation, CSVHeaders and CSVDelimiter apply only to InputType CSV, "
                                f"not {self.input_type}.")
        if self.items_pointer is not None and self.input_type != "JSON":
            raise reader_failed(f"ItemsPointer applies only to InputType JSON, not {self.input_type}.")
        if self.input_type == "CSV":
            if self.delimiter_name not in DELIMITERS:
                raise reader_failed(f"Unsupported CSVDelimiter '{self.delimiter_name}'.")
            if self.header_location == "GIVEN":
                if not self.headers:
                    raise reader_failed("CSVHeaders must be given when CSVHeaderLocation is GIVEN.")
                _check_headers(self.headers, "the CSVHeaders field")
            elif self.header_location != "FIRST_ROW":
                raise reader_failed(f"Unsupported CSVHeaderLocation '{self.header_location}'.")
            elif self.headers is not None:
                raise reader_failed("CSVHeaders can only be given when CSVHeaderLocation is GIVEN.")


def _check_headers(headers: list[str], where: str) -> None:
    if len(set(headers)) < len(headers):
        raise reader_failed(f"CSV headers cannot contain duplicates ({where}).")


class S3ItemSource:
    """Reads one ItemReader's items through ``client``; ``items()`` is a lazy iterator."""

    def __init__(self, client: S3Client, action: str, parameters: dict, config: ReaderSettings) -> None:
        self.client = client
        self.action = action
        self.parameters = parameters if isinstance(parameters, dict) else {}
        self.config = config
        #: ``$$.Map.Item.Source`` of the item ``items()`` yielded last.
        self.current_source = STATE_DATA
        #: Whether the items are the key-value pairs of a JSON object (``ObjectEntries``).
        self.keyed = False

    def _from(self, source: str, items: Iterator[Any]) -> Iterator[Any]:
        """``items``, with ``current_source`` set while they are read."""
        self.current_source = source
        yield from items

    def items(self) -> Iterator[Any]:
        self.config.check(self.action)
        if self.action == "listObjectsV2":
            return self._list_objects()
        bucket, key = self._location(self.parameters)
        config = self.config
        if config.input_type == "MANIFEST" or config.manifest_type == "S3_INVENTORY":
            return self._inventory(bucket, key)
        if config.manifest_type == "ATHENA_DATA":
            return self._athena(bucket, key)
        return self._object_items(self.parameters, config.input_type or "JSON")

    # -- S3 ------------------------------------------------------------------------------
    @staticmethod
    def _location(params: dict) -> tuple[str, str]:
        bucket, key = params.get("Bucket"), params.get("Key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise reader_failed("The ItemReader's Parameters must give the object's Bucket and Key as strings.")
        return bucket, key

    def _get(self, params: dict) -> Any:
        bucket, key = self._location(params)
        try:
            return self.client.get_object(**params)["Body"]
        except Exception as exc:  # botocore ClientError, connection errors...
            raise reader_failed(f"Failed to read the object {_s3_uri(bucket, key)}: {error_text(exc)}") from None

    def _text(self, params: dict, *, gzipped: bool = False) -> io.TextIOWrapper:
        raw: Any = io.BufferedReader(_Body(self._get(params)), 1 << 16)
        if gzipped:
            raw = gzip.GzipFile(fileobj=raw)
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")

    # -- formats -------------------------------------------------------------------------
    def _object_items(self, params: dict, input_type: str | None) -> Iterator[Any]:
        bucket, key = self._location(params)
        where = _s3_uri(bucket, key)
        source = item_source(bucket, key)
        if input_type == "CSV":
            return self._from(source, self._csv(params, where))
        if input_type == "JSONL":
            return self._from(source, self._jsonl(params, where))
        if input_type == "PARQUET":
            return self._from(source, self._parquet(params, where))
        return self._from(source, self._json(params, where))

    def _csv(self, params: dict, where: str, *, gzipped: bool = False) -> Iterator[dict[str, str]]:
        config = self.config
        delimiter = DELIMITERS[config.delimiter_name]
        text = self._text(params, gzipped=gzipped)
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        headers = config.headers if config.header_location == "GIVEN" else None
        try:
            while True:
                line = reader.line_num + 1  # where the next row starts
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise reader_failed(f"Malformed CSV in {where} at line {line}: {exc}") from None
                except (UnicodeDecodeError, EOFError, OSError) as exc:
                    raise reader_failed(f"Cannot read {where} as UTF-8 text near line {line}: {exc}") from None
                if headers is None:
                    headers = row
                    _check_headers(headers, f"the first row of {where}")
                    continue
                if not row:  # an empty line carries no item
                    continue
                # As AWS does: missing fields are empty strings, fields past the headers are dropped.
                yield {h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)}
        finally:
            text.close()

    def _jsonl(self, params: dict, where: str) -> Iterator[Any]:
        text = self._text(params)
        line_no = 0
        try:
            while True:
                try:
                    line = text.readline()
                except (UnicodeDecodeError, OSError) as exc:
                    raise reader_failed(f"Cannot read {where} as UTF-8 text near line {line_no + 1}: {exc}") from None
                if not line:
                    return
                line_no += 1
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise reader_failed(f"Malformed JSON Lines in {where} at line {line_no}: {exc.msg} "
                                        f"(column {exc.colno})") from None
        finally:
            text.close()

    def _json(self, params: dict, where: str) -> Iterator[Any]:
        body = self._get(params)
        try:
            data = body.read()
        finally:
            body.close()
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise reader_failed(f"Cannot read {where} as UTF-8 text: {exc}") from None
        except json.JSONDecodeError as exc:
            raise reader_failed(f"Malformed JSON in {where} at line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg}") from None
        pointer = self.config.items_pointer
        if pointer is not None:
            document = _json_pointer(document, pointer, where)
        if isinstance(document, dict):  # one item per member (ObjectEntries gives the evidence)
            self.keyed = True
            return iter(object_entries(document))
        if not isinstance(document, list):
            raise reader_failed(f"Attempting to map over non-iterable node: the JSON content of {where}"
                                + (f" at ItemsPointer '{pointer}'" if pointer else "")
                                + " is neither an array nor an object.")
        return iter(document)

    def _parquet(self, params: dict, where: str) -> Iterator[dict[str, Any]]:
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise reader_failed("Reading PARQUET items needs pyarrow: install stepkit with the 'parquet' extra "
                                "(pip install 'stepkit[parquet]').") from None
        body = self._get(params)
        # Parquet's footer is at the end of the file, so the reader needs random access:
        # the object is spooled to a temporary file (on disk past 8 MiB), not kept in memory.
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
            try:
                while chunk := body.read(1 << 20):
                    spool.write(chunk)
            finally:
                body.close()
            spool.seek(0)
            try:
                parquet = pq.ParquetFile(spool)
            except Exception as exc:
                raise reader_failed(f"The object {where} is not a valid Parquet file: {error_text(exc)}") from None
            for group in range(parquet.num_row_groups):
                try:
                    table = parquet.read_row_group(group)
                except Exception as exc:
                    raise reader_failed(f"Cannot read row group {group} of the Parquet file {where}: "
                                        f"{error_text(exc)}") from None
                for row in table.to_pylist():
                    yield {k: _json_value(v) for k, v in row.items()}

    # -- listings and manifests ----------------------------------------------------------
    def _list_objects(self) -> Iterator[Any]:
        params = dict(self.parameters)
        bucket = params.get("Bucket")
        if not isinstance(bucket, str):
            raise reader_failed("The ItemReader's Parameters must give the Bucket to list as a string.")
        load = self.config.transformation == "LOAD_AND_FLATTEN"
        while True:
            try:
                page = self.client.list_objects_v2(**params)
            except Exception as exc:
                raise reader_failed(f"Failed to list the objects of s3://{bucket}/{params.get('Prefix', '')}: "
                                    f"{error_text(exc)}") from None
            for obj in page.get("Contents", []):
                if load:
                    if obj["Key"].endswith("/") and obj.get("Size", 0) == 0:
                        continue  # a "folder" marker
                    yield from self._object_items({"Bucket": bucket, "Key": obj["Key"]}, self.config.input_type)
                else:
                    self.current_source = item_source(bucket)
                    yield _listed_object(obj)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params["ContinuationToken"] = token

    def _inventory(self, bucket: str, key: str) -> Iterator[dict[str, str]]:
        where = _s3_uri(bucket, key)
        body = self._get(self.parameters)
        try:
            manifest = json.loads(body.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise reader_failed(f"The S3 inventory manifest {where} is not valid JSON: {exc}") from None
        finally:
            body.close()
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
            raise reader_failed(f"The S3 inventory manifest {where} has no 'files' list.")
        if manifest.get("fileFormat", "CSV") != "CSV":
            raise reader_failed(f"The S3 inventory manifest {where} lists {manifest.get('fileFormat')} files: "
                                "only CSV inventories can be read.")
        schema = [name.strip() for name in str(manifest.get("fileSchema", "")).split(",") if name.strip()]
        if not schema:
            raise reader_failed(f"The S3 inventory manifest {where} has no fileSchema.")
        destination = str(manifest.get("destinationBucket") or bucket)
        data_bucket = destination.rsplit(":", 1)[-1] if destination.startswith("arn:") else destination
        for entry in manifest["files"]:
            data_key = entry.get("key") if isinstance(entry, dict) else None
            if not isinstance(data_key, str):
                raise reader_failed(f"The S3 inventory manifest {where} has a file entry without a key.")
            sub = ReaderSettings({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": schema})
            reader = S3ItemSource(self.client, "getObject", {}, sub)
            self.current_source = item_source(data_bucket, data_key)
            yield from reader._csv({"Bucket": data_bucket, "Key": data_key}, _s3_uri(data_bucket, data_key),
                                   gzipped=data_key.endswith(".gz"))

    def _athena(self, bucket: str, key: str) -> Iterator[Any]:
        """An Athena data manifest: one ``s3://bucket/key`` URI of a data file per line."""
        where = _s3_uri(bucket, key)
        text = self._text(self.parameters)
        try:
            line_no = 0
            for line in text:
                line_no += 1
                uri = line.strip()
                if not uri:
                    continue
                if not uri.startswith("s3://") or "/" not in uri[5:]:
                    raise reader_failed(f"Line {line_no} of the Athena manifest {where} is not an s3:// URI: "
                                        f"{uri[:200]}")
                data_bucket, data_key = uri[5:].split("/", 1)
                yield from self._object_items({"Bucket": data_bucket, "Key": data_key}, self.config.input_type)
        finally:
            text.close()


def _listed_object(obj: dict) -> dict[str, Any]:
    """An s3:listObjectsV2 entry as a Distributed Map item (AWS's shape and field names)."""
    modified: Any = obj.get("LastModified")
    item: dict[str, Any] = {"Etag": obj.get("ETag"), "Key": obj.get("Key")}
    item["LastModified"] = int(modified.timestamp()) if hasattr(modified, "timestamp") else modified
    item["Size"] = obj.get("Size")
    item["StorageClass"] = obj.get("StorageClass")
    return item


def _json_pointer(document: Any, pointer: str, where: str) -> Any:
    """RFC 6901: ``/a/0/b``; ``~1`` is ``/`` and ``~0`` is ``~``."""
    if pointer in ("", "/"):
        return document
    if not pointer.startswith("/"):
        raise reader_failed(f"ItemsPointer '{pointer}' is not a JSON pointer (it must start with '/').")
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise reader_failed(f"ItemsPointer '{pointer}' matches nothing in the JSON content of {where}.")
    return node


def _json_value(value: Any) -> Any:
    """A Parquet cell as JSON: dates and times as ISO strings, bytes as text, decimals as numbers."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return int(number) if number.is_integer() and "." not in str(value) else number


def error_text(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        code = error.get("Code", type(exc).__name__)
        message = error.get("Message") or ""
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        tail = f" (Service: S3, Status Code: {status}, Error Code: {code})" if status else f" ({code})"
        return f"{message or code}{tail}"
    return f"{type(exc).__name__}: {exc}"


def limited(items: Iterator[Any], max_items: int) -> Iterator[Any]:
    """At most ``max_items`` items (0: no limit but AWS's own)."""
    cap = min(max_items, MAX_ITEMS_LIMIT) if max_items else MAX_ITEMS_LIMIT
    return itertools.islice(items, cap)


ClientFactory = Callable[[str], S3Client]

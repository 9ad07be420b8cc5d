"""The Lambda API (REST-JSON), served by the stepkit runtime.

A function's zip is kept under ``<state dir>/lambda/zips/<sha256>.zip`` and unpacked once
into ``<state dir>/lambda/code/<sha256>/``; the runtime runs that folder. Functions,
versions, aliases, policies and event source mappings are records in the store, so they
survive a restart. A new or updated function is ``Pending`` (``InProgress``) until the
runtime has it, then ``Active`` (``Successful``).

Versions and aliases: a version is a snapshot of the function's code and configuration;
when it differs from ``$LATEST`` the runtime runs it as a function of its own.

This module holds the functions themselves (create, update, get, list, delete, invoke) and the
records; the API's other parts are modules of their own on the same records: versions and
aliases (``lambda_versions``), a function's settings (``lambda_settings``), event source
mappings (``lambda_mappings``) and function URLs (``function_urls``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stepkit.endpoint.function_urls import FunctionUrls
from stepkit.endpoint.lambda_code import CodeObjectMissing, CodeStore, StoredCode, check_direct_upload
from stepkit.endpoint.lambda_layers import LayerVersions, layer_dirs
from stepkit.endpoint.lambda_mappings import EventSourceMappings
from stepkit.endpoint.lambda_pages import LATEST, marker_page, now_text, public
from stepkit.endpoint.lambda_settings import FunctionSettingsApi
from stepkit.endpoint.lambda_versions import VersionsAndAliases
from stepkit.endpoint.protocol import AwsError, RequestContext, RestJsonService
from stepkit.endpoint.rules import check_lambda_environment, lambda_bad_text
from stepkit.endpoint.store import Store
from stepkit.runtime import FunctionConfig, InvokeResult, LambdaRuntime, LambdaServiceError
from stepkit.runtime.arn import parse_function_ref
from stepkit.runtime.calls import logs_with_calls
from stepkit.runtime.errors import FunctionNotFound
from stepkit.runtime.invoker import FunctionInvoker

log = logging.getLogger(__name__)

_ROLE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEFAULTS = {"Timeout": 3, "MemorySize": 128, "Description": ""}


class LambdaService(FunctionInvoker):
    """The Lambda API over the runtime; its ``invoke`` (versions and aliases resolved) is the
    ``FunctionInvoker`` Step Functions' Lambda tasks, API Gateway and event sources call."""

    def __init__(
        self,
        store: Store,
        state_dir: Path,
        runtime: LambdaRuntime,
        *,
        region: str,
        account: str,
        code_url: Callable[[str], str],
        s3_object: Callable[[str, str, str | None], bytes] | None = None,
        send_to_queue: Callable[[str, str], None] | None = None,
        write_logs: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.dir = state_dir / "lambda"
        self.code_store = CodeStore(self.dir)
        self._install_locks: dict[str, threading.Lock] = {}
        self._activations: dict[str, int] = {}
        self.runtime = runtime
        self.region = region
        self.account = account
        self.code_url = code_url
        self.s3_object = s3_object
        self.send_to_queue = send_to_queue
        self.write_logs = write_logs
        self.lock = threading.RLock()
        self.functions: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, dict[str, Any]]] = {}
        self.aliases: dict[str, dict[str, dict[str, Any]]] = {}
        self._async_payloads: dict[str, tuple[str, bytes, str]] = {}
        handlers = {name: getattr(self, name) for name in dir(self) if name[:1].isupper()}
        # The API's other parts, each its own module, on the same records.
        self.urls = FunctionUrls(self)
        self.event_sources = EventSourceMappings(self)
        self.layers = LayerVersions(self)
        for part in (self.urls, self.event_sources, self.layers, VersionsAndAliases(self), FunctionSettingsApi(self)):
            handlers.update(part.handlers())
        self.app = RestJsonService("lambda", handlers, lambda_bad_text)

    def handles(self, path: str) -> bool:
        return self.app.handles(path)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    # -- start-up ---------------------------------------------------------------------------
    def load(self) -> None:
        """The records, then the runtime's functions; code nothing uses (left by an interrupted
        upload, or by a version of stepkit that kept old code) is removed."""
        for rec in self.store.all("lambda_function"):
            self.functions[rec["FunctionName"]] = rec
        for rec in self.store.all("lambda_version"):
            self.versions.setdefault(rec["FunctionName"], {})[rec["Version"]] = rec
        for rec in self.store.all("lambda_alias"):
            self.aliases.setdefault(rec["_function"], {})[rec["Name"]] = rec
        self.event_sources.load()
        self.urls.load()
        self.layers.load()
        for rec in list(self.functions.values()):
            self._activate(rec, background=False)
        self.collect_code()

    def on_async_complete(self, invocation: Any) -> None:
        """The runtime's callback after an Event invocation and its retries: failures go to the
        function's dead-letter queue or on-failure destination."""
        if self.write_logs is not None:
            for attempt in invocation.attempts:
                with contextlib.suppress(Exception):
                    self.write_logs(invocation.function_name.split("--v")[0],
                                    logs_with_calls(attempt.logs, attempt.request_id, attempt.aws_calls))
        saved = self._async_payloads.pop(invocation.request_id, None)
        if saved is None or invocation.succeeded:
            return
        name, payload, _qualifier = saved
        fn = self.functions.get(name)
        if fn is None or self.send_to_queue is None:
            return
        dlq = (fn.get("DeadLetterConfig") or {}).get("TargetArn")
        on_failure = ((fn.get("_event_invoke") or {}).get("DestinationConfig") or {}).get("OnFailure", {})
        try:
            if on_failure.get("Destination", "").startswith("arn:aws:sqs:"):
                last = invocation.attempts[-1] if invocation.attempts else None
                record = {
                    "version": "1.0",
                    "timestamp": now_text(),
                    "requestContext": {
                        "requestId": invocation.request_id,
                        "functionArn": f"{fn['FunctionArn']}:{LATEST}",
                        "condition": "RetriesExhausted" if last is not None else "EventAgeExceeded",
                        "approximateInvokeCount": len(invocation.attempts),
                    },
                    "requestPayload": json.loads(payload or b"{}"),
                    "responseContext": {"statusCode": 200, "executedVersion": LATEST,
                                        "functionError": last.function_error if last else None},
                    "responsePayload": json.loads(last.payload) if last and last.payload else None,
                }
                self.send_to_queue(on_failure["Destination"], json.dumps(record))
            elif dlq and dlq.startswith("arn:aws:sqs:"):
                self.send_to_queue(dlq, payload.decode() or "{}")
        except Exception as exc:
            log.warning("could not deliver a failed event of %s: %s", name, exc)

    # -- helpers ----------------------------------------------------------------------------
    def arn(self, name: str, qualifier: str | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base

    def ref(self, name_or_arn: str, qualifier: str | None = None) -> tuple[str, str | None]:
        try:
            ref = parse_function_ref(name_or_arn, qualifier, region=self.region, account_id=self.account)
        except LambdaServiceError as exc:
            raise AwsError(exc.error_code, exc.message, exc.status_code) from None
        return ref.name, ref.qualifier

    def _not_found(self, name: str, qualifier: str | None = None) -> AwsError:
        return AwsError("ResourceNotFoundException", f"Function not found: {self.arn(name, qualifier)}")

    def function(self, name: str) -> dict[str, Any]:
        fn = self.functions.get(name)
        if fn is None:
            raise self._not_found(name)
        return fn

    def resolve(self, name_or_arn: str, qualifier: str | None = None) -> tuple[dict[str, Any], str]:
        """The configuration a name (and qualifier: version or alias) designates, and its version."""
        name, qualifier = self.ref(name_or_arn, qualifier)
        fn = self.function(name)
        if qualifier in (None, LATEST):
            return fn, LATEST
        alias = self.aliases.get(name, {}).get(qualifier)
        version = alias["FunctionVersion"] if alias else qualifier
        if version == LATEST:
            return fn, LATEST
        rec = self.versions.get(name, {}).get(version)
        if rec is None:
            raise self._not_found(name, qualifier)
        return rec, version

    @contextlib.contextmanager
    def store_code(self, params: dict[str, Any], operation: str) -> Iterator[StoredCode]:
        """The request's code, checked and stored; kept while the block saves the record that
        uses it, removed after it when nothing does (a failed or dry-run request)."""
        code = params.get("Code", params)
        if code.get("ImageUri"):
            raise AwsError("InvalidParameterValueException", "stepkit runs zip packages only, not container images.")
        if code.get("ZipFile") is not None:
            raw = code["ZipFile"]
            data = raw if isinstance(raw, bytes) else base64.b64decode(raw)
            check_direct_upload(data, operation)
        elif code.get("S3Bucket") and code.get("S3Key"):
            if self.s3_object is None:
                raise AwsError("InvalidParameterValueException", "S3 code locations are not available here.")
            try:
                data = self.s3_object(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
            except CodeObjectMissing as missing:  # S3's own words, as Lambda passes them on
                raise AwsError("InvalidParameterValueException", "Error occurred while GetObject. S3 Error Code: "
                               f"{missing.code}. S3 Error Message: {missing.message}") from None
        else:
            raise AwsError("InvalidParameterValueException", "Please provide a source for function code.")
        try:
            with self.code_store.hold(data) as stored:
                yield stored
        finally:
            self.collect_code()

    def collect_code(self) -> None:
        """Remove the code no function, version or runtime function uses any more."""
        try:
            self.code_store.collect(self._code_in_use)
        except OSError as exc:  # the next collection tries again
            log.warning("could not remove unused function code: %s", exc)

    def _code_in_use(self) -> set[str]:
        with self.lock:
            records = [*self.functions.values(), *(v for vs in self.versions.values() for v in vs.values())]
            used = {Path(r["_code_dir"]).name for r in records} | self.layers.code_in_use()
            used.update(folder for r in records for folder in r.get("_layers", []))
        for name in self.runtime.function_names():  # an update's old code runs until it is replaced
            with contextlib.suppress(FunctionNotFound):
                config = self.runtime.get_function(name)
                used.add(config.code_dir.name)
                used.update(d.relative_to(self.code_store.code).parts[0] for d in config.layer_dirs
                            if d.is_relative_to(self.code_store.code))
        return used

    def _config(self, fn: dict[str, Any], runtime_name: str) -> FunctionConfig:
        retries = (fn.get("_event_invoke") or {}).get("MaximumRetryAttempts", 2)
        return FunctionConfig(
            name=runtime_name,
            code_dir=Path(fn["_code_dir"]),
            handler=fn["Handler"],
            runtime=fn["Runtime"],
            memory_size=fn["MemorySize"],
            timeout=fn["Timeout"],
            environment=(fn.get("Environment") or {}).get("Variables") or {},
            reserved_concurrency=fn.get("_reserved_concurrency"),
            architecture=(fn.get("Architectures") or ["x86_64"])[0],
            max_retry_attempts=retries,
            layer_dirs=tuple(layer_dirs(self.code_store.code, fn.get("_layers", []), fn["Runtime"])),
        )

    def _runtime_name(self, fn: dict[str, Any], version: str) -> str:
        name = fn["FunctionName"]
        if version == LATEST:
            return name
        latest = self.functions.get(name)
        if latest is not None and self._config(latest, name) == self._config(fn, name):
            return name
        internal = _internal_name(name, version)
        if internal not in self.runtime.function_names():
            self.runtime.add_function(self._config(fn, internal))
        return internal

    def _activate(self, fn: dict[str, Any], background: bool = True) -> None:
        """Give the runtime the function, then mark it Active. Only the latest activation of a
        function marks it: an earlier one finishing last must not report the function ready
        while the runtime may still lack the change that followed it."""
        name = fn["FunctionName"]
        with self.lock:
            ticket = self._activations[name] = self._activations.get(name, 0) + 1

        def work() -> None:
            try:
                installed = self.install(fn)
            except Exception as exc:  # a configuration the runtime refuses
                with self.lock:
                    if self._activations.get(name) == ticket:
                        fn.update(State="Failed", StateReason=str(exc), StateReasonCode="InternalError",
                                  LastUpdateStatus="Failed", LastUpdateStatusReason=str(exc))
                        self.save(fn)
                return
            with self.lock:
                if not installed or self._activations.get(name) != ticket:
                    return
                fn.update(State="Active", LastUpdateStatus="Successful")
                for key in ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
                    fn.pop(key, None)
                self.save(fn)
            if background:  # the code this replaced, unless something else uses it
                self.collect_code()

        if background:
            threading.Thread(target=work, name=f"lambda-activate-{name}", daemon=True).start()
        else:
            work()

    def install(self, fn: dict[str, Any]) -> bool:
        """Put the function's configuration as it is now in the runtime, one change of a
        function at a time (so the last one installed is the latest); False if the function
        was deleted meanwhile."""
        name = fn["FunctionName"]
        with self._install_lock(name):
            with self.lock:
                if self.functions.get(name) is not fn:
                    return False
                config = self._config(fn, name)
            self.runtime.add_function(config)
            return True

    def _install_lock(self, name: str) -> threading.Lock:
        with self.lock:
            return self._install_locks.setdefault(name, threading.Lock())

    def save(self, fn: dict[str, Any]) -> None:
        if self.functions.get(fn["FunctionName"]) is fn:
            self.store.put("lambda_function", fn["FunctionName"], fn)

    def _check_role(self, role: str) -> None:
        if not _ROLE.fullmatch(role):
            raise AwsError("ValidationException", f"1 validation error detected: Value '{role}' at 'role' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")

    @staticmethod
    def _check_runtime(runtime: str | None, handler: str | None) -> None:
        if not runtime or not handler:
            raise AwsError("InvalidParameterValueException", "Runtime and Handler are mandatory parameters for "
                           "functions created with deployment packages.")
        if not runtime.startswith("python3"):
            raise AwsError("InvalidParameterValueException", f"The runtime parameter of {runtime} is not supported "
                           "by the stepkit endpoint: its local Lambda runs Python functions only.")

    def publish(self, fn: dict[str, Any], description: str | None = None) -> dict[str, Any]:
        name = fn["FunctionName"]
        versions = self.versions.setdefault(name, {})
        if versions:
            last = versions[str(max(int(v) for v in versions))]
            if (self._config(last, name) == self._config(fn, name) and last["CodeSha256"] == fn["CodeSha256"]
                    and last.get("Layers") == fn.get("Layers")):  # another layer version with the same code
                return last
        number = str(max((int(v) for v in versions), default=0) + 1)
        rec = {k: v for k, v in fn.items() if k not in ("_tags", "_policy")}
        rec.update(Version=number, FunctionArn=self.arn(name, number), RevisionId=str(uuid.uuid4()),
                   LastModified=now_text(), State="Active", LastUpdateStatus="Successful")
        if description is not None:
            rec["Description"] = description
        self.store.put("lambda_version", f"{name}:{number}", rec)  # stored first: a failed write publishes nothing
        versions[number] = rec
        return rec

    # -- functions --------------------------------------------------------------------------
    def CreateFunction(self, p: dict, ctx: RequestContext) -> dict:
        name = p["FunctionName"]
        if not _NAME.fullmatch(name):
            name, _ = self.ref(name)
        if p.get("PackageType", "Zip") != "Zip":
            raise AwsError("InvalidParameterValueException", "stepkit runs zip packages only, not container images.")
        self._check_role(p["Role"])
        self._check_runtime(p.get("Runtime"), p.get("Handler"))
        check_lambda_environment(p)
        with self.lock:
            if name in self.functions:
                raise AwsError("ResourceConflictException", f"Function already exist: {name}")
        fn: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": self.arn(name),
            "Runtime": p["Runtime"],
            "Role": p["Role"],
            "Handler": p["Handler"],
            "CodeSize": 0,
            "Description": p.get("Description", ""),
            "Timeout": p.get("Timeout", _DEFAULTS["Timeout"]),
            "MemorySize": p.get("MemorySize", _DEFAULTS["MemorySize"]),
            "LastModified": now_text(),
            "CodeSha256": "",
            "Version": LATEST,
            "TracingConfig": p.get("TracingConfig") or {"Mode": "PassThrough"},
            "RevisionId": str(uuid.uuid4()),
            "State": "Pending",
            "StateReason": "The function is being created.",
            "StateReasonCode": "Creating",
            "LastUpdateStatus": "InProgress",
            "PackageType": "Zip",
            "Architectures": p.get("Architectures") or ["x86_64"],
            "EphemeralStorage": p.get("EphemeralStorage") or {"Size": 512},
            "LoggingConfig": p.get("LoggingConfig") or {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "_code_dir": str(self.dir / "code"),  # the code's own folder once stored, below
            "_tags": p.get("Tags") or {},
        }
        if p.get("Environment"):
            fn["Environment"] = {"Variables": p["Environment"].get("Variables") or {}}
        if p.get("DeadLetterConfig"):
            fn["DeadLetterConfig"] = p["DeadLetterConfig"]
        try:  # the runtime's own checks (memory, timeout, handler) answer as Lambda does
            self._config(fn, name)
        except ValueError as exc:
            raise AwsError("InvalidParameterValueException", f"Invalid function configuration: {exc}") from None
        # The last check: nothing is stored before the others pass, and the code is removed again
        # if the record cannot be made.
        with self.store_code(p, "CreateFunction") as stored:
            fn.update(CodeSha256=stored.sha256, CodeSize=stored.size, _code_dir=str(stored.folder))
            with self.lock:
                if name in self.functions:
                    raise AwsError("ResourceConflictException", f"Function already exist: {name}")
                if p.get("Layers"):  # under the lock: a layer version deleted meanwhile cannot lose its code
                    fn["Layers"], fn["_layers"] = self.layers.resolve(p["Layers"])
                    self._check_combined_size(stored.folder, fn["_layers"])
                self.functions[name] = fn
                try:
                    self.save(fn)
                except Exception:  # a record that cannot be stored is not kept half-made
                    del self.functions[name]
                    raise
                response = public(fn)
        self._activate(fn)
        if p.get("Publish"):
            threading.Thread(target=self._publish_when_active, args=(fn,), daemon=True).start()
        return response

    def _check_combined_size(self, code_dir: str | Path, layer_folders: list[str]) -> None:
        """Lambda's limit on a function's unzipped code and its layers' together."""
        total = self.code_store.unzipped_size(code_dir) + sum(self.code_store.unzipped_size(f) for f in layer_folders)
        limit = self.code_store.unzipped_limit
        if total > limit:
            raise AwsError("InvalidParameterValueException", "Function code combined with layers exceeds the maximum "
                           f"allowed size of {limit} bytes. The actual size is {total} bytes.")

    def _publish_when_active(self, fn: dict[str, Any]) -> None:
        for _ in range(200):
            if fn.get("State") != "Pending":
                break
            time.sleep(0.01)
        with self.lock:
            self.publish(fn)

    def UpdateFunctionCode(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.ref(p["FunctionName"])
        fn = self.function(name)
        if p.get("RevisionId") and p["RevisionId"] != fn["RevisionId"]:
            raise AwsError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                           "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        with self.store_code(p, "UpdateFunctionCode") as stored:
            return self._update_code(p, name, fn, stored)

    def _update_code(self, p: dict, name: str, fn: dict[str, Any], stored: StoredCode) -> dict:
        sha, size, code_dir = stored.sha256, stored.size, stored.folder
        with self.lock:
            self._check_combined_size(code_dir, fn.get("_layers", []))
            if p.get("DryRun"):
                return {**public(fn), "CodeSha256": sha, "CodeSize": size}
            fn.update(CodeSha256=sha, CodeSize=size, _code_dir=str(code_dir), LastModified=now_text(),
                      RevisionId=str(uuid.uuid4()), LastUpdateStatus="InProgress",
                      LastUpdateStatusReason="The function is being created.",
                      LastUpdateStatusReasonCode="Creating")
            if p.get("Architectures"):
                fn["Architectures"] = p["Architectures"]
            self.save(fn)
            response = public(fn)
        self._activate(fn)
        if p.get("Publish"):
            with self.lock:
                self._config(fn, name)
                return public(self.publish(fn))
        return response

    def UpdateFunctionConfiguration(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.ref(p["FunctionName"])
        self.function(name)  # an unknown function is reported before the request's other faults
        if "Role" in p:
            self._check_role(p["Role"])
        check_lambda_environment(p)
        changes = {key: p[key] for key in ("Role", "Handler", "Description", "Timeout", "MemorySize", "Runtime",
                                           "DeadLetterConfig", "TracingConfig", "EphemeralStorage", "LoggingConfig")
                   if key in p}
        if "Environment" in p:
            changes["Environment"] = {"Variables": (p["Environment"] or {}).get("Variables") or {}}
        # The record is read, checked and changed under one hold of the lock: a request that
        # changed it meanwhile (concurrency, a permission, new code) is neither undone nor lost.
        with self.lock:
            fn = self.function(name)
            if p.get("RevisionId") and p["RevisionId"] != fn["RevisionId"]:
                raise AwsError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                               "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
            if "Runtime" in p or "Handler" in p:
                self._check_runtime(p.get("Runtime", fn["Runtime"]), p.get("Handler", fn["Handler"]))
            candidate = {**fn, **changes}
            if "Layers" in p:  # an empty list removes them all
                candidate.pop("Layers", None)
                candidate.pop("_layers", None)
                if p["Layers"]:
                    candidate["Layers"], candidate["_layers"] = self.layers.resolve(p["Layers"])
                    self._check_combined_size(candidate["_code_dir"], candidate["_layers"])
            try:
                self._config(candidate, name)
            except ValueError as exc:
                raise AwsError("InvalidParameterValueException", f"Invalid function configuration: {exc}") from None
            if "Layers" in p and not p["Layers"]:
                fn.pop("Layers", None)
                fn.pop("_layers", None)
            fn.update(candidate)
            fn.update(LastModified=now_text(), RevisionId=str(uuid.uuid4()), LastUpdateStatus="InProgress")
            self.save(fn)
            response = public(fn)
        self._activate(fn)
        return response

    def GetFunctionConfiguration(self, p: dict, ctx: RequestContext) -> dict:
        rec, _ = self.resolve(p["FunctionName"], p.get("Qualifier"))
        return public(rec)

    def GetFunction(self, p: dict, ctx: RequestContext) -> dict:
        rec, _ = self.resolve(p["FunctionName"], p.get("Qualifier"))
        fn = self.functions[rec["FunctionName"]]
        sha_hex = Path(rec["_code_dir"]).name
        out: dict[str, Any] = {
            "Configuration": public(rec),
            "Code": {"RepositoryType": "S3", "Location": self.code_url(sha_hex)},
        }
        if fn.get("_tags"):
            out["Tags"] = fn["_tags"]
        if fn.get("_reserved_concurrency") is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": fn["_reserved_concurrency"]}
        return out

    def code_zip(self, sha_hex: str) -> Path | None:
        """The zip GetFunction's ``Code.Location`` points at."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha_hex):
            return None
        path = self.code_store.zip_path(sha_hex)
        return path if path.exists() else None

    def ListFunctions(self, p: dict, ctx: RequestContext) -> dict:
        with self.lock:
            rows = [public(fn) for _, fn in sorted(self.functions.items())]
            if p.get("FunctionVersion") == "ALL":
                for name in sorted(self.versions):
                    rows.extend(public(v) for _, v in sorted(self.versions[name].items(), key=lambda x: int(x[0])))
        return marker_page(rows, p, "Functions")

    def DeleteFunction(self, p: dict, ctx: RequestContext) -> dict:
        name, qualifier = self.ref(p["FunctionName"], p.get("Qualifier"))
        doomed: list[str] = []
        with self.lock:
            self.function(name)
            if qualifier not in (None, LATEST):
                if self.versions.get(name, {}).pop(qualifier, None) is None:
                    raise self._not_found(name, qualifier)
                self.store.delete("lambda_version", f"{name}:{qualifier}")
                stopped = {_internal_name(name, qualifier)}
            else:
                self.functions.pop(name)
                self.store.delete("lambda_function", name)
                versions = self.versions.pop(name, {})
                for version in versions:
                    self.store.delete("lambda_version", f"{name}:{version}")
                for alias in self.aliases.pop(name, {}):
                    self.store.delete("lambda_alias", f"{name}:{alias}")
                doomed = self.event_sources.of_function(self.arn(name))
                stopped = {name, *(_internal_name(name, v) for v in versions)}
                self.urls.forget(name)
        for uid in doomed:
            self.event_sources.delete(uid)
        with self._install_lock(name):  # an activation under way finishes first, or sees the function gone
            for internal in stopped & set(self.runtime.function_names()):
                with contextlib.suppress(FunctionNotFound):
                    self.runtime.remove_function(internal)
        self.collect_code()  # what only this function or version used
        return {}

    def is_active(self, name_or_arn: str) -> bool:
        try:
            rec, _ = self.resolve(name_or_arn)
        except AwsError:
            return False
        return self.functions[rec["FunctionName"]].get("State") == "Active"

    # -- invoke -----------------------------------------------------------------------------
    def invoke(
        self, name_or_arn: str, payload: bytes = b"", *, invocation_type: str = "RequestResponse",
        log_type: str | None = None, qualifier: str | None = None,
    ) -> InvokeResult:
        """Invoke as Lambda's Invoke does; raises the runtime's ``LambdaServiceError``s."""
        try:
            rec, version = self.resolve(name_or_arn, qualifier)
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                raise FunctionNotFound(err.message) from None
            raise
        state = self.functions[rec["FunctionName"]].get("State")
        if state != "Active":
            raise _Conflict(f"The operation cannot be performed at this time. The function is currently in the "
                            f"following state: {state}")
        runtime_name = self._runtime_name(rec, version)
        result = self.runtime.invoke(runtime_name, payload, invocation_type=invocation_type, log_type=log_type)
        if self.write_logs is not None and result.logs:
            try:
                self.write_logs(rec["FunctionName"], logs_with_calls(result.logs, result.request_id, result.aws_calls))
            except Exception as exc:  # logs are a convenience: never fail the invocation for them
                log.debug("logs of %s not written: %s", rec["FunctionName"], exc)
        if version != LATEST:
            result = _with_version(result, version)
        if invocation_type == "Event":
            self._async_payloads[result.request_id] = (rec["FunctionName"], payload, version)
        return result

    def Invoke(self, p: dict, ctx: RequestContext) -> dict:
        try:
            result = self.invoke(
                p["FunctionName"], p.get("Payload") or b"", invocation_type=p.get("InvocationType", "RequestResponse"),
                log_type=p.get("LogType"), qualifier=p.get("Qualifier"),
            )
        except LambdaServiceError as exc:
            raise AwsError(exc.error_code, exc.message, exc.status_code) from None
        out: dict[str, Any] = {"StatusCode": result.status_code, "ExecutedVersion": result.executed_version,
                               "Payload": result.payload}
        if result.function_error:
            out["FunctionError"] = result.function_error
        if result.log_result:
            out["LogResult"] = result.log_result
        return out

    # -- versions and aliases ---------------------------------------------------------------
class _Conflict(LambdaServiceError):
    error_code = "ResourceConflictException"
    status_code = 409


def _internal_name(name: str, version: str) -> str:
    """The runtime's name for a published version that differs from ``$LATEST``."""
    suffix = f"--v{version}"
    if len(name) + len(suffix) <= 64:
        return name + suffix
    return name[: 55 - len(suffix)] + hashlib.sha1(name.encode()).hexdigest()[:8] + suffix


def _with_version(result: InvokeResult, version: str) -> InvokeResult:
    from dataclasses import replace

    return replace(result, executed_version=version)

"""Lambda function URLs: the control plane (``CreateFunctionUrlConfig`` and its siblings, on the
Lambda API) and the lookup the data plane (``stepkit.endpoint.apigateway``) serves them by.

A URL's id is 32 lowercase letters and digits, as on AWS; the URL is LocalStack's
``http://{url_id}.lambda-url.{region}.localhost.localstack.cloud:{port}/``. Configurations are
store records, so they survive a restart; deleting a function deletes its URLs.
"""

from __future__ import annotations

import secrets
import string
import threading
from typing import TYPE_CHECKING, Any

from stepkit.endpoint.lambda_pages import marker_page, now_text
from stepkit.endpoint.protocol import AwsError, RequestContext

if TYPE_CHECKING:
    from stepkit.endpoint.lambda_service import LambdaService

_KIND = "lambda_url"
_ALPHABET = string.ascii_lowercase + string.digits
_OUT = ("FunctionUrl", "FunctionArn", "AuthType", "Cors", "CreationTime", "LastModifiedTime", "InvokeMode")


def _not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The resource you requested does not exist.")


def _port(ctx: RequestContext) -> str:
    host = ctx.headers.get("host", "")
    return host.rsplit(":", 1)[1] if ":" in host else "4566"


class FunctionUrls:
    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self.configs: dict[str, dict[str, Any]] = {}  # by "function:qualifier"
        self.by_id: dict[str, dict[str, Any]] = {}

    def handlers(self) -> dict[str, Any]:
        return {"CreateFunctionUrlConfig": self.create, "GetFunctionUrlConfig": self.get,
                "UpdateFunctionUrlConfig": self.update, "DeleteFunctionUrlConfig": self.delete,
                "ListFunctionUrlConfigs": self.list}

    def load(self) -> None:
        for rec in self.service.store.all(_KIND):
            self.configs[rec["_key"]] = rec
            self.by_id[rec["_id"]] = rec

    def lookup(self, url_id: str) -> dict[str, Any] | None:
        """The configuration of a URL id (the function's name and qualifier under ``_function``
        and ``_qualifier``), None when there is none."""
        return self.by_id.get(url_id.lower())

    def forget(self, function: str) -> None:
        with self._lock:
            for key in [k for k, rec in self.configs.items() if rec["_function"] == function]:
                rec = self.configs.pop(key)
                self.by_id.pop(rec["_id"], None)
                self.service.store.delete(_KIND, key)

    def _key(self, p: dict[str, Any]) -> tuple[str, str | None, str]:
        name, qualifier = self.service.ref(p["FunctionName"], p.get("Qualifier"))
        self.service.resolve(name, qualifier)  # the function (and the alias) must exist
        return name, qualifier, f"{name}:{qualifier or ''}"

    @staticmethod
    def _out(rec: dict[str, Any], *fields: str) -> dict[str, Any]:
        return {k: rec[k] for k in fields if k in rec}

    def create(self, p: dict, ctx: RequestContext) -> dict:
        name, qualifier, key = self._key(p)
        arn = self.service.arn(name, qualifier)
        with self._lock:
            if key in self.configs:
                raise AwsError("ResourceConflictException", f"Failed to create function url config for "
                               f"[functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this "
                               "Lambda function")
            url_id = "".join(secrets.choice(_ALPHABET) for _ in range(32))
            now = now_text()
            rec = {"FunctionUrl": f"http://{url_id}.lambda-url.{self.service.region}.localhost.localstack.cloud:"
                                  f"{_port(ctx)}/",
                   "FunctionArn": arn, "AuthType": p["AuthType"], "CreationTime": now, "LastModifiedTime": now,
                   "InvokeMode": p.get("InvokeMode") or "BUFFERED", "_key": key, "_id": url_id,
                   "_function": name, "_qualifier": qualifier}
            if p.get("Cors") is not None:
                rec["Cors"] = p["Cors"]
            self.configs[key] = rec
            self.by_id[url_id] = rec
            self.service.store.put(_KIND, key, rec)
        return self._out(rec, "FunctionUrl", "FunctionArn", "AuthType", "Cors", "CreationTime", "InvokeMode")

    def _existing(self, p: dict[str, Any]) -> dict[str, Any]:
        rec = self.configs.get(self._key(p)[2])
        if rec is None:
            raise _not_found()
        return rec

    def get(self, p: dict, ctx: RequestContext) -> dict:
        return self._out(self._existing(p), *_OUT)

    def update(self, p: dict, ctx: RequestContext) -> dict:
        with self._lock:
            rec = self._existing(p)
            for field in ("AuthType", "Cors", "InvokeMode"):
                if p.get(field) is not None:
                    rec[field] = p[field]
            rec["LastModifiedTime"] = now_text()
            self.service.store.put(_KIND, rec["_key"], rec)
        return self._out(rec, *_OUT)

    def delete(self, p: dict, ctx: RequestContext) -> dict:
        with self._lock:
            rec = self._existing(p)
            self.configs.pop(rec["_key"])
            self.by_id.pop(rec["_id"], None)
            self.service.store.delete(_KIND, rec["_key"])
        return {}

    def list(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        self.service.function(name)
        rows = [self._out(rec, *_OUT) for key, rec in sorted(self.configs.items()) if rec["_function"] == name]
        return marker_page(rows, p, "FunctionUrlConfigs")

"""The viewer's WSGI app at ``/_stepkit/ui/``: its page, its static files, and a thin JSON API
over the endpoint's own Step Functions service (no AWS call, no signature: the same objects
the endpoint answers with).

- ``GET  /_stepkit/ui/``                      the page (with this endpoint's CSRF token)
- ``GET  /_stepkit/ui/static/...``            its scripts, styles and vendored libraries
- ``GET  /_stepkit/ui/api/machines``          state machines, with their executions' counts by status
- ``GET  /_stepkit/ui/api/executions?machine=ARN[&status=S][&name=TEXT][&since=EPOCH]``
- ``GET  /_stepkit/ui/api/execution?arn=ARN[&after=ID]`` an execution: its description, the
  definition's graph, each state's summary, its events, its Map Runs; with ``after`` (a page
  polling a running execution) only the events after that id (read from the endpoint's store
  by id: a poll costs what its new events cost), and no graph
- ``GET  /_stepkit/ui/api/maprun?arn=ARN``    a Map Run: counts, children, failed items
- ``GET  /_stepkit/ui/api/functions``         Lambda functions
- ``GET  /_stepkit/ui/api/invocations?function=NAME``  its recent invocations, from its logs
- ``GET  /_stepkit/ui/api/serving``          the serving API's ``GET /models`` (``serving``), if
  one is deployed on the endpoint
- ``GET  /_stepkit/ui/api/task-logs?arn=ARN&state=NAME``  the Lambda invocations a state of that
  execution made, with their log lines (``task_logs``: matched by request id)
- ``POST /_stepkit/ui/api/stop`` and ``/redrive`` (``{"arn": ...}``): the only actions; each
  carries the token in ``X-Stepkit-Csrf`` (the request guard refuses them without it, and so
  does this app).

A page of another origin cannot read the token (the guard refuses foreign origins and
non-loopback hosts), so it cannot forge an action.
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from http import HTTPStatus
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs

from stepkit.endpoint.errors import AwsError
from stepkit.endpoint.guard import UI_PREFIX, UI_TOKEN_HEADER, RequestGuard
from stepkit.endpoint.protocol import RequestContext, read_body, respond
from stepkit.estimate.usage import item_processor
from stepkit.viewer.graph import GraphError, definition_graph
from stepkit.viewer.history import StateRunFold, map_state_of_run
from stepkit.viewer.invocations import invocations
from stepkit.viewer.serving import find_serving_api, read_models
from stepkit.viewer.task_logs import task_logs

_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
_TOKEN_SLOT = "__STEPKIT_CSRF_TOKEN__"
_FOLDS_KEPT = 64

StartResponse = Callable[..., Any]


class _Endpoint(Protocol):
    stepfunctions: Any
    guard: RequestGuard

    def client(self, service: str) -> Any: ...


class ViewerError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else value


class ViewerApp:
    """The viewer of ``endpoint``'s ``stepfunctions`` service; actions checked by its ``guard``'s token."""

    def __init__(self, endpoint: _Endpoint) -> None:
        self.endpoint = endpoint
        self.ctx = RequestContext()
        self._static = resources.files("stepkit.viewer") / "static"
        self._get: dict[str, Callable[[dict[str, list[str]]], Any]] = {
            "machines": self.machines, "executions": self.executions, "execution": self.execution,
            "maprun": self.map_run, "functions": self.functions, "invocations": self.invocations,
            "task-logs": self.task_logs, "serving": self.serving,
        }
        self._clients: dict[str, Any] = {}
        self._folds: OrderedDict[str, StateRunFold] = OrderedDict()  # executions' state summaries so far
        self._folds_lock = threading.Lock()
        self._post: dict[str, Callable[[dict[str, Any]], Any]] = {"stop": self.stop, "redrive": self.redrive}

    @property
    def sfn(self) -> Any:
        return self.endpoint.stepfunctions

    # -- WSGI -----------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/").removeprefix(UI_PREFIX)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path.startswith("api/"):
                return self._api(path[4:], method, environ, start_response)
            if method not in ("GET", "HEAD"):
                raise ViewerError(405, "MethodNotAllowed", "the viewer's pages are read-only")
            if path in ("", "index.html"):
                return self._page(start_response)
            if path.startswith("static/"):
                return self._file(path[7:], start_response)
            raise ViewerError(404, "NotFound", f"no page {path!r}")
        except ViewerError as exc:
            return self._json(start_response, exc.status, {"code": exc.code, "message": exc.message})

    def _api(self, name: str, method: str, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            if name in self._get:
                if method != "GET":
                    raise ViewerError(405, "MethodNotAllowed", f"{name} is read with GET")
                return self._json(start_response, 200, self._get[name](parse_qs(environ.get("QUERY_STRING", ""))))
            if name in self._post:
                if method != "POST":
                    raise ViewerError(405, "MethodNotAllowed", f"{name} is an action: POST it")
                self.check_token(environ)
                return self._json(start_response, 200, self._post[name](self._body(environ)))
        except AwsError as exc:
            status = 404 if "DoesNotExist" in exc.code or exc.code == "ResourceNotFound" else 400
            raise ViewerError(status, exc.code, exc.message) from None
        raise ViewerError(404, "NotFound", f"no API {name!r}")

    def check_token(self, environ: dict[str, Any]) -> None:
        """The guard refused a POST without the token already; checked again so that this app
        is safe wherever it is mounted."""
        if not self.endpoint.guard.ui_token_valid(environ):
            raise ViewerError(403, "InvalidCsrfToken", f"an action needs this endpoint's token in {UI_TOKEN_HEADER}")

    @staticmethod
    def _body(environ: dict[str, Any]) -> dict[str, Any]:
        try:
            body = json.loads(read_body(environ) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ViewerError(400, "BadRequest", "the body is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("arn"), str):
            raise ViewerError(400, "BadRequest", 'the body must be {"arn": "..."}')
        return body

    @staticmethod
    def _json(start_response: StartResponse, status: int, data: Any) -> list[bytes]:
        body = json.dumps(data, default=_json_default, separators=(",", ":")).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Content-Length", str(len(body)))])
        return [body]

    def _page(self, start_response: StartResponse) -> list[bytes]:
        page = (self._static / "index.html").read_text(encoding="utf-8")
        html = page.replace(_TOKEN_SLOT, self.endpoint.guard.ui_token)
        return respond(start_response, 200, html.encode(), [
            ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
            ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"),
            ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer")])

    def _file(self, name: str, start_response: StartResponse) -> list[bytes]:
        parts = name.split("/")
        if not name or any(part in ("", ".", "..") or "\\" in part for part in parts):
            raise ViewerError(404, "NotFound", f"no file {name!r}")
        target = self._static.joinpath(*parts)
        if not target.is_file():
            raise ViewerError(404, "NotFound", f"no file {name!r}")
        kind = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return respond(start_response, 200, target.read_bytes(), [("Content-Type", kind)])

    # -- the API --------------------------------------------------------------------------
    def _all(self, operation: str, params: dict[str, Any], key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        params = dict(params, maxResults=1000)
        while True:
            page = getattr(self.sfn, operation)(params, self.ctx)
            rows += page[key]
            if not page.get("nextToken"):
                return rows
            params["nextToken"] = page["nextToken"]

    def machines(self, query: dict[str, list[str]]) -> dict[str, Any]:
        out = []
        for machine in self._all("ListStateMachines", {}, "stateMachines"):
            counts = dict.fromkeys(_STATUSES, 0)
            if machine.get("type") != "EXPRESS":
                for execution in self._all("ListExecutions", {"stateMachineArn": machine["stateMachineArn"]},
                                           "executions"):
                    counts[execution["status"]] = counts.get(execution["status"], 0) + 1
            out.append(dict(machine, counts=counts))
        return {"stateMachines": out}

    def executions(self, query: dict[str, list[str]]) -> dict[str, Any]:
        machine = _one(query, "machine")
        status = (query.get("status") or [""])[0]
        if status and status not in _STATUSES:
            raise ViewerError(400, "BadRequest", f"status must be one of {', '.join(_STATUSES)}")
        params: dict[str, Any] = {"stateMachineArn": machine}
        if status:
            params["statusFilter"] = status
        name = (query.get("name") or [""])[0].lower()
        try:
            since = float((query.get("since") or ["0"])[0] or 0)
        except ValueError:
            raise ViewerError(400, "BadRequest", "since is a time in seconds since the epoch") from None
        rows = [e for e in self._all("ListExecutions", params, "executions")
                if name in e["name"].lower() and (_epoch(e["startDate"]) or 0) >= since]
        return {"executions": rows}

    def execution(self, query: dict[str, list[str]]) -> dict[str, Any]:
        arn = _one(query, "arn")
        after = _event_id(query)
        described = self.sfn.DescribeExecution({"executionArn": arn}, self.ctx)
        states, events, count = self._history(arn, after, described["status"])
        map_runs = []
        for summary in self._all("ListMapRuns", {"executionArn": arn}, "mapRuns"):
            described_run = self.sfn.DescribeMapRun({"mapRunArn": summary["mapRunArn"]}, self.ctx)
            map_runs.append(dict(summary, **described_run))
        return {"execution": described, "graph": self._graph(described) if after is None else None,
                "states": states, "events": events, "eventCount": count, "mapRuns": map_runs}

    def _history(
        self, arn: str, after: int | None, status: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        """Each state's summary, the events after ``after`` (all of them without it) and how many
        the history holds.

        The summary of an execution asked for before goes on from the last event it read: a
        poll reads from the store only the events after the older of that event and ``after``
        (a range of the store's key), so it costs what the new events cost. A poll for an
        execution this viewer holds no summary of (after a restart; the oldest of more than
        ``_FOLDS_KEPT`` is dropped), or whose history no longer matches what was read (it only
        grows; a shorter one was written again), reads the whole history once, a page at a
        time, keeping only the events after ``after``. A page's first load (no ``after``)
        shows every event, so it reads them all."""
        with self._folds_lock:
            fold = self._folds.pop(arn, None)
            if after is not None:
                if fold is None or self.sfn.last_event_id(arn) < fold.last_id:
                    fold = StateRunFold()
                shown: list[dict[str, Any]] = []
                last, since = fold.last_id, after

                def unread() -> Iterator[dict[str, Any]]:
                    for event in self.sfn.events_after(arn, min(since, last)):
                        if event["id"] > since:
                            shown.append(event)
                        if event["id"] > last:
                            yield event

                fold.feed(unread())
            else:
                shown = self.sfn.execution_events(arn)
                read = fold.count if fold is not None else 0
                if fold is None or read > len(shown) or (read and shown[read - 1]["id"] != fold.last_id):
                    fold = StateRunFold()
                fold.feed(shown[fold.count:])
            self._folds[arn] = fold
            while len(self._folds) > _FOLDS_KEPT:
                self._folds.popitem(last=False)
            return [run.to_dict() for run in fold.runs(status)], shown, fold.count

    def _graph(self, described: dict[str, Any]) -> dict[str, Any] | None:
        """The graph of the definition the execution ran (a Map Run child: its item processor)."""
        try:
            if "mapRunArn" in described:
                owner = self.sfn.DescribeMapRun({"mapRunArn": described["mapRunArn"]}, self.ctx)["executionArn"]
                state = map_state_of_run(self.sfn.execution_events(owner, False), described["mapRunArn"])
                parent = self.sfn.DescribeStateMachineForExecution({"executionArn": owner}, self.ctx)
                definition = item_processor(json.loads(parent["definition"]), state or "")
            else:
                machine = self.sfn.DescribeStateMachineForExecution({"executionArn": described["executionArn"]},
                                                                    self.ctx)
                definition = json.loads(machine["definition"])
            return definition_graph(definition).to_dict() if definition is not None else None
        except (AwsError, GraphError, ValueError):
            return None

    def map_run(self, query: dict[str, list[str]]) -> dict[str, Any]:
        arn = _one(query, "arn")
        described = self.sfn.DescribeMapRun({"mapRunArn": arn}, self.ctx)
        children = self._all("ListExecutions", {"mapRunArn": arn}, "executions")
        failed = []
        for child in children:
            if child["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
                detail = self.sfn.DescribeExecution({"executionArn": child["executionArn"]}, self.ctx)
                failed.append({k: detail.get(k) for k in ("executionArn", "name", "status", "input", "error", "cause")})
        return {"mapRun": described, "executions": children, "failed": failed}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.endpoint.client(service)
        return self._clients[service]

    def _boto_pages(self, service: str, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated boto3 call; a missing resource is no items."""
        from botocore.exceptions import ClientError

        try:
            pages = self._client(service).get_paginator(operation).paginate(**params)
            return [item for page in pages for item in page[key]]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ResourceNotFoundException":
                return []
            raise ViewerError(502, str(error.get("Code")), str(error.get("Message"))) from None

    def functions(self, query: dict[str, list[str]]) -> dict[str, Any]:
        keep = ("FunctionName", "FunctionArn", "Runtime", "Handler", "MemorySize", "Timeout", "LastModified", "State")
        rows = self._boto_pages("lambda", "list_functions", "Functions")
        return {"functions": [{k: f.get(k) for k in keep} for f in sorted(rows, key=lambda f: f["FunctionName"])]}

    def invocations(self, query: dict[str, list[str]]) -> dict[str, Any]:
        name = _one(query, "function")
        if not re.fullmatch(r"[\w-]{1,140}", name):
            raise ViewerError(400, "BadRequest", "a function name has letters, digits, hyphens and underscores")
        events = self._boto_pages("logs", "filter_log_events", "events", logGroupName=f"/aws/lambda/{name}")
        return {"function": name, "invocations": [i.to_dict() for i in invocations(events)]}

    def task_logs(self, query: dict[str, list[str]]) -> dict[str, Any]:
        arn, state = _one(query, "arn"), _one(query, "state")
        status = self.sfn.DescribeExecution({"executionArn": arn}, self.ctx)["status"]
        ledger = getattr(self.endpoint, "invocation_ledger", None)  # an endpoint elsewhere has none

        def read(function: str, start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
            window = {"startTime": start_ms} | ({"endTime": end_ms} if end_ms is not None else {})
            return self._boto_pages("logs", "filter_log_events", "events", logGroupName=f"/aws/lambda/{function}",
                                    **window)

        noted = ledger.noted(arn, state) if ledger is not None else []
        return task_logs(self.sfn.execution_events(arn), state, status == "RUNNING", read, noted)

    def serving(self, query: dict[str, list[str]]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            api = find_serving_api(self._client("apigateway"))
        except (ClientError, BotoCoreError) as exc:
            raise ViewerError(502, "ServingApiLookupFailed",
                              f"the endpoint's API Gateway did not answer: {exc}") from None
        return {"api": None} if api is None else read_models(api)

    def stop(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.sfn.StopExecution({"executionArn": body["arn"], "error": "stepkit.viewer",
                                         "cause": "stopped from the stepkit viewer"}, self.ctx)
        return {"stopDate": _epoch(answer.get("stopDate"))}

    def redrive(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.sfn.RedriveExecution({"executionArn": body["arn"]}, self.ctx)
        return {"redriveDate": _epoch(answer.get("redriveDate"))}


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name) or []
    if len(values) != 1 or not values[0]:
        raise ViewerError(400, "BadRequest", f"the query needs one {name!r}")
    return values[0]


def _event_id(query: dict[str, list[str]]) -> int | None:
    values = query.get("after")
    if values is None:
        return None
    if len(values) != 1 or not values[0].isdigit():
        raise ViewerError(400, "BadRequest", "after is an event id: a whole number")
    return int(values[0])

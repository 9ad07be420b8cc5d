"""The Step Functions API (AWS JSON 1.0), served by the stepkit engine.

The handlers of every operation; the executions themselves (their threads, their records
and histories in the endpoint's SQLite store, resume at start-up, stop and redrive) are the
``ExecutionSupervisor``'s, Map Runs' shapes and lookup ``map_runs``', TestState
``teststate``'s, activities ``activities``' and versions and aliases ``versions``'.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from stepkit.asl.validation import validate_definition
from stepkit.endpoint.activities import ActivityService
from stepkit.endpoint.execution_supervisor import ExecutionSupervisor
from stepkit.endpoint.map_runs import child_summary, describe_child, describe_map_run, map_run_summary
from stepkit.endpoint.pages import decode_token, encode_token, page_limit, paged
from stepkit.endpoint.protocol import AwsError, JsonService, RequestContext, epoch
from stepkit.endpoint.rules import sfn_bad_text, sfn_tag_map
from stepkit.endpoint.sfn_records import (
    EXECUTION_ARN,
    MACHINE_ARN,
    ExecutionRecord,
    Machine,
    check_definition,
    check_name,
    check_role,
    invalid_arn,
)
from stepkit.endpoint.store import Store
from stepkit.endpoint.teststate import run_test_state
from stepkit.endpoint.validation import parse_json_text
from stepkit.endpoint.versions import Route, VersionService, split
from stepkit.engine.execution import HISTORY_LIMIT, derive_execution_arn
from stepkit.engine.history import HistoryEvent
from stepkit.engine.task_tokens import InvalidToken, TaskTokens, TokenTimedOut
from stepkit.integrations.activities import ACTIVITY_RESOURCES
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runner import StateMachine

_REDRIVABLE = ("FAILED", "ABORTED", "TIMED_OUT")
MAX_INPUT_BYTES = 256 * 1024
_TOKEN_FORMAT = re.compile(r"[0-9a-f]{64}")
#: RedriveExecution's documented condition: "The execution event history count is less than
#: 24,999. Redriven executions append their event history to the existing event history"
#: (API reference, RedriveExecution); DescribeExecution's redriveStatusReason then reads
#: "Execution history event limit exceeded." (API reference, DescribeExecution). An
#: execution failed at the 25,000-event quota is therefore never redrivable.
REDRIVE_EVENT_LIMIT = HISTORY_LIMIT - 1
_HISTORY_TOKEN_KEY = "id"
#: Events ``execution_events_after`` reads from the store at a time.
_EVENTS_READ_PAGE = 1000


class StepFunctionsService:
    """Every Step Functions operation; ``registry_factory`` gives the Task integrations."""

    def __init__(
        self,
        store: Store,
        registry_factory: Callable[[], IntegrationRegistry],
        tokens: TaskTokens | None = None,
    ) -> None:
        self.store = store
        self.registry_factory = registry_factory
        self.tokens = tokens if tokens is not None else TaskTokens()
        self.lock = threading.RLock()
        self.machines: dict[str, Machine] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self._compiled: dict[str, StateMachine] = {}
        self._registry: IntegrationRegistry | None = None
        self.supervisor = ExecutionSupervisor(store, self._compiled_machine, self.tokens, self.lock)
        self.executions = self.supervisor.executions
        self.map_runs = self.supervisor.map_runs
        self.activities = ActivityService(store, self.tokens, check_name, self._set_tags)
        handlers = {name: getattr(self, name) for name in dir(self) if name[:1].isupper()}
        handlers.update(self.activities.handlers())
        self.versions = VersionService(self)
        handlers.update(self.versions.handlers())
        self.app = JsonService("stepfunctions", handlers, sfn_bad_text)

    # -- start-up and shut-down -----------------------------------------------------------
    def load(self) -> list[str]:
        """Read the store; returns the ARNs of the executions that were running (to resume)."""
        for rec in self.store.all("state_machine"):
            machine = Machine(**rec)
            self.machines[machine.arn] = machine
        for rec in self.store.all("sfn_tags"):
            self.tags[rec["arn"]] = rec["tags"]
        running = self.supervisor.load()
        self.activities.load(set(running))
        self.versions.load()
        return running

    def resume_all(self, arns: list[str]) -> None:
        self.supervisor.resume_all(arns)

    def close(self, timeout: float = 2.0) -> None:
        """Stop running executions without ending them (the next start resumes them)."""
        self.activities.close()
        self.supervisor.close(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self.supervisor.wait_idle(timeout)

    @property
    def registry(self) -> IntegrationRegistry:
        if self._registry is None:
            self._registry = self.registry_factory()
            self._registry.register(ACTIVITY_RESOURCES, self.activities)
        return self._registry

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _machine_arn(ctx: RequestContext, name: str) -> str:
        return f"arn:aws:states:{ctx.region}:{ctx.account}:stateMachine:{name}"

    def machine(self, arn: str) -> Machine:
        """The state machine ``arn`` names (a version or alias ARN: its machine)."""
        m = MACHINE_ARN.fullmatch(arn)
        if m is None:
            raise invalid_arn(arn)
        base = arn if m["qualifier"] is None else arn.rsplit(":", 1)[0]
        machine = self.machines.get(base)
        if machine is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine

    def _execution(self, arn: str) -> ExecutionRecord:
        if EXECUTION_ARN.fullmatch(arn) is None:
            raise invalid_arn(arn)
        execution = self.executions.get(arn)
        if execution is None:
            raise AwsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    def _compiled_machine(self, revision: dict[str, Any]) -> StateMachine:
        key = revision["revision_id"]
        with self.lock:
            machine = self._compiled.get(key)
            if machine is None:
                m = MACHINE_ARN.fullmatch(revision["arn"])
                assert m is not None
                machine = StateMachine(
                    json.loads(revision["definition"]),
                    name=revision["name"],
                    region=m["region"],
                    account_id=m["account"],
                    registry=self.registry,
                    validate=False,
                    type=revision["type"],
                    tokens=self.tokens,
                    role_arn=revision["role_arn"],
                )
                self._compiled[key] = machine
        return machine

    def _save_machine(self, machine: Machine) -> None:
        self.store.put("state_machine", machine.arn, machine.to_record())

    # -- Map Runs (Distributed Map) ---------------------------------------------------------
    def DescribeMapRun(self, p: dict, ctx: RequestContext) -> dict:
        return describe_map_run(self.map_runs.get(p["mapRunArn"]))

    def ListMapRuns(self, p: dict, ctx: RequestContext) -> dict:
        execution_arn = p["executionArn"]
        if self.map_runs.child(execution_arn) is None:
            self._execution(execution_arn)
        rows = [map_run_summary(m) for m in self.map_runs.started_by(execution_arn)]
        return paged(rows, p, "mapRunArn", "mapRuns")

    def UpdateMapRun(self, p: dict, ctx: RequestContext) -> dict:
        map_run = self.map_runs.get(p["mapRunArn"])
        try:
            map_run.update(max_concurrency=p.get("maxConcurrency"),
                           tolerated_failure_count=p.get("toleratedFailureCount"),
                           tolerated_failure_percentage=p.get("toleratedFailurePercentage"))
        except ValueError as exc:
            raise AwsError("ValidationException", str(exc)) from None
        return {}

    # -- state machines -------------------------------------------------------------------
    def CreateStateMachine(self, p: dict, ctx: RequestContext) -> dict:
        name, definition, role = p["name"], p["definition"], p["roleArn"]
        machine_type = p.get("type", "STANDARD")
        check_name(name)
        _check_publish(p)
        tags = sfn_tag_map(p.get("tags"))
        check_role(role)
        check_definition(definition, machine_type)
        arn = self._machine_arn(ctx, name)
        with self.lock:
            existing = self.machines.get(arn)
            if existing is not None:
                if (existing.definition, existing.role_arn, existing.type) == (definition, role, machine_type):
                    return self._created(existing, p)
                raise AwsError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
            machine = Machine(
                arn=arn, name=name, type=machine_type, definition=definition, role_arn=role,
                creation_date=time.time(), revision_id=str(uuid.uuid4()), description=p.get("description", ""),
            )
            if "loggingConfiguration" in p:
                machine.logging = {**machine.logging, **p["loggingConfiguration"]}
            if "tracingConfiguration" in p:
                machine.tracing = p["tracingConfiguration"]
            self._save_machine(machine)  # stored first: a record that cannot be stored is never listed
            self.machines[arn] = machine
            if p.get("tags"):
                self._set_tags(arn, tags)
        return self._created(machine, p)

    def _created(self, machine: Machine, p: dict) -> dict:
        out = {"stateMachineArn": machine.arn, "creationDate": epoch(machine.creation_date)}
        if p.get("publish"):
            out["stateMachineVersionArn"] = self.versions.publish(machine, p.get("versionDescription")).arn
        return out

    def UpdateStateMachine(self, p: dict, ctx: RequestContext) -> dict:
        machine = self.machine(p["stateMachineArn"])
        if split(p["stateMachineArn"])[1] is not None:  # a version or an alias cannot be changed
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: "
                           f"{p['stateMachineArn']}'")
        _check_publish(p)
        fields = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(k in p for k in fields):
            raise AwsError("MissingRequiredParameter", "Either the definition, the role ARN, the "
                           "LoggingConfiguration, or the TracingConfiguration must be specified")
        if "definition" in p:
            check_definition(p["definition"], machine.type)
        if "roleArn" in p:
            check_role(p["roleArn"])
        with self.lock:
            before = (machine.definition, machine.role_arn, machine.logging, machine.tracing)
            machine.definition = p.get("definition", machine.definition)
            machine.role_arn = p.get("roleArn", machine.role_arn)
            if "loggingConfiguration" in p:
                machine.logging = {**machine.logging, **p["loggingConfiguration"]}
            if "tracingConfiguration" in p:
                machine.tracing = p["tracingConfiguration"]
            if (machine.definition, machine.role_arn, machine.logging, machine.tracing) != before:
                machine.revision_id = str(uuid.uuid4())  # a revision is a distinct configuration
            machine.update_date = time.time()
            self._save_machine(machine)
            out = {"updateDate": epoch(machine.update_date), "revisionId": machine.revision_id}
            if p.get("publish"):
                out["stateMachineVersionArn"] = self.versions.publish(machine, p.get("versionDescription")).arn
        return out

    def describe_machine(self, machine: Machine | dict) -> dict:
        data = machine.to_record() if isinstance(machine, Machine) else machine
        out = {
            "stateMachineArn": data["arn"],
            "name": data["name"],
            "definition": data["definition"],
            "roleArn": data["role_arn"],
            "loggingConfiguration": data["logging"],
            "tracingConfiguration": data["tracing"],
            "revisionId": data["revision_id"],
        }
        return out

    def DescribeStateMachine(self, p: dict, ctx: RequestContext) -> dict:
        machine = self.machine(p["stateMachineArn"])
        if split(p["stateMachineArn"])[1] is not None:
            return self.versions.describe(p["stateMachineArn"])
        out = self.describe_machine(machine)
        out.update(status="ACTIVE", type=machine.type, creationDate=epoch(machine.creation_date))
        if machine.description:
            out["description"] = machine.description
        return out

    def ListStateMachines(self, p: dict, ctx: RequestContext) -> dict:
        items = sorted(self.machines.values(), key=lambda m: (m.creation_date, m.arn))
        rows = [{"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": epoch(m.creation_date)}
                for m in items]
        return paged(rows, p, "stateMachineArn", "stateMachines")

    def DeleteStateMachine(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineArn"]
        if MACHINE_ARN.fullmatch(arn) is None:
            raise invalid_arn(arn)
        with self.lock:
            machine = self.machines.pop(arn, None)
            if machine is not None:
                self.store.delete("state_machine", arn)
                self.versions.forget_machine(arn)
                self.tags.pop(arn, None)
                self.store.delete("sfn_tags", arn)
        return {}

    def ValidateStateMachineDefinition(self, p: dict, ctx: RequestContext) -> dict:
        diagnostics = validate_definition(p["definition"], state_machine_type=p.get("type", "STANDARD"))
        severity = p.get("severity", "ERROR")
        shown = [d for d in diagnostics if severity == "WARNING" or d.severity == "ERROR"]
        limit = p.get("maxResults") or 100
        has_errors = any(d.severity == "ERROR" for d in diagnostics)
        return {
            "result": "FAIL" if has_errors else "OK",
            "diagnostics": [d.to_dict() for d in shown[:limit]],
            "truncated": len(shown) > limit,
        }

    # -- executions -----------------------------------------------------------------------
    def _start(
        self, machine: Machine, name: str | None, input_text: str | None, trace: str | None, ctx: RequestContext,
        route: Route | None = None,
    ) -> ExecutionRecord:
        name = name if name is not None else str(uuid.uuid4())
        check_name(name, "Name")
        if input_text is None:
            input_text = "{}"
        if len(input_text.encode()) > MAX_INPUT_BYTES:
            raise AwsError("InvalidExecutionInput", "Invalid State Machine Execution Input: 'The input is larger "
                           f"than the maximum of {MAX_INPUT_BYTES} bytes'")
        try:
            input_value = parse_json_text(input_text)
        except ValueError as exc:
            raise AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None
        express = machine.type == "EXPRESS"
        arn = derive_execution_arn(machine.arn, name, express=express)
        with self.lock:
            existing = self.executions.get(arn)
            if existing is not None:
                if existing.status == "RUNNING" and existing.input == input_text:
                    return existing
                raise AwsError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            route = route or Route()
            execution = ExecutionRecord(
                arn=arn, name=name, machine_arn=machine.arn, revision=route.revision or machine.revision(),
                input=input_text, start_date=time.time(), trace_header=trace, express=express,
                version_arn=route.version_arn, alias_arn=route.alias_arn,
            )
            self.supervisor.add(execution, input_value)
        return execution

    def StartExecution(self, p: dict, ctx: RequestContext) -> dict:
        machine = self.machine(p["stateMachineArn"])
        route = self.versions.route(p["stateMachineArn"])
        execution = self._start(machine, p.get("name"), p.get("input"), p.get("traceHeader"), ctx, route)
        return {"executionArn": execution.arn, "startDate": epoch(execution.start_date)}

    def StartSyncExecution(self, p: dict, ctx: RequestContext) -> dict:
        machine = self.machine(p["stateMachineArn"])
        if machine.type != "EXPRESS":
            raise AwsError("StateMachineTypeNotSupported", "This operation is not supported by this type of "
                           "state machine")
        route = self.versions.route(p["stateMachineArn"])
        execution = self._start(machine, p.get("name"), p.get("input"), p.get("traceHeader"), ctx, route)
        self.supervisor.wait(execution)
        out = {
            "executionArn": execution.arn,
            "stateMachineArn": machine.arn,
            "name": execution.name,
            "startDate": epoch(execution.start_date),
            "stopDate": epoch(execution.stop_date or time.time()),
            "status": execution.status,
            "input": execution.input,
            "inputDetails": {"included": True},
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": max(100, int(((execution.stop_date or 0) - execution.start_date)
                                                             * 1000 + 99) // 100 * 100),
            },
        }
        if execution.status == "SUCCEEDED":
            out.update(output=execution.output, outputDetails={"included": True})
        else:
            out.update({k: v for k, v in (("error", execution.error), ("cause", execution.cause)) if v is not None})
        if execution.trace_header:
            out["traceHeader"] = execution.trace_header
        self.supervisor.forget(execution)  # AWS keeps no record of Express executions
        return out

    def StopExecution(self, p: dict, ctx: RequestContext) -> dict:
        execution = self._execution(p["executionArn"])
        self.supervisor.stop(execution, p.get("error"), p.get("cause"))
        return {"stopDate": epoch(execution.stop_date or time.time())}

    def _redrive_status(self, execution: ExecutionRecord) -> tuple[str, str | None]:
        if execution.express:
            return "NOT_REDRIVABLE", "Execution is of an EXPRESS state machine and cannot be redriven"
        if execution.status not in _REDRIVABLE:
            return "NOT_REDRIVABLE", f"Execution is {execution.status} and cannot be redriven"
        if self.supervisor.event_count(execution.arn) >= REDRIVE_EVENT_LIMIT:
            return "NOT_REDRIVABLE", "Execution history event limit exceeded."
        return "REDRIVABLE", None

    def DescribeExecution(self, p: dict, ctx: RequestContext) -> dict:
        if p["executionArn"] not in self.executions:
            child = self.map_runs.child(p["executionArn"])
            if child is not None:
                return describe_child(child)
        e = self._execution(p["executionArn"])
        out: dict[str, Any] = {
            "executionArn": e.arn,
            "stateMachineArn": e.machine_arn,
            "name": e.name,
            "status": e.status,
            "startDate": epoch(e.start_date),
            "input": e.input,
            "inputDetails": {"included": True},
        }
        if e.stop_date is not None and e.status != "RUNNING":
            out["stopDate"] = epoch(e.stop_date)
        if e.status == "SUCCEEDED":
            out.update(output=e.output, outputDetails={"included": True})
        for key, value in (("error", e.error), ("cause", e.cause), ("traceHeader", e.trace_header)):
            if value is not None and (key == "traceHeader" or e.status != "SUCCEEDED"):
                out[key] = value
        out.update(e.routed())
        status, reason = self._redrive_status(e)
        out["redriveCount"] = e.redrive_count
        out["redriveStatus"] = status
        if reason:
            out["redriveStatusReason"] = reason
        if e.redrive_date is not None:
            out["redriveDate"] = epoch(e.redrive_date)
        return out

    def ListExecutions(self, p: dict, ctx: RequestContext) -> dict:
        if "stateMachineArn" not in p:
            if "mapRunArn" not in p:
                raise AwsError("ValidationException", "Must provide a StateMachine ARN or MapRun ARN")
            children = self.map_runs.get(p["mapRunArn"]).executions(p.get("statusFilter"))
            return paged([child_summary(c) for c in children], p, "executionArn", "executions")
        machine = self.machine(p["stateMachineArn"])
        if machine.type == "EXPRESS":
            raise AwsError("StateMachineTypeNotSupported", "This operation is not supported by this type of "
                           "state machine")
        wanted = p.get("statusFilter")
        redrive = p.get("redriveFilter")
        routed = self.versions.execution_filter(p["stateMachineArn"])
        rows = []
        for e in list(self.executions.values()):
            if e.machine_arn != machine.arn or (wanted and e.status != wanted) or not routed(e):
                continue
            if (redrive == "REDRIVEN" and not e.redrive_count) or (redrive == "NOT_REDRIVEN" and e.redrive_count):
                continue
            row: dict[str, Any] = {"executionArn": e.arn, "stateMachineArn": e.machine_arn, "name": e.name,
                                   "status": e.status, "startDate": epoch(e.start_date)}
            if e.stop_date is not None and e.status != "RUNNING":
                row["stopDate"] = epoch(e.stop_date)
            if e.redrive_count:
                row["redriveCount"] = e.redrive_count
                row["redriveDate"] = epoch(e.redrive_date)
            row.update(e.routed())
            rows.append((e.start_date, e.arn, row))
        rows.sort(key=lambda r: (-r[0], r[1]))
        return paged([r[2] for r in rows], p, "executionArn", "executions")

    def execution_events(self, arn: str, include_data: bool = True) -> list[dict[str, Any]]:
        """Every event of an execution or a Map Run child in AWS's shape: GetExecutionHistory's
        rows, which the viewer reads whole (10,000 events in one pass, not page by page)."""
        child = self.map_runs.child(arn) if arn not in self.executions else None
        events = list(child.history) if child is not None else self.supervisor.events(self._execution(arn).arn)
        return [_event_dict(e, include_data) for e in events]

    def events_after(self, arn: str, after: int) -> Iterator[dict[str, Any]]:
        """The events of an execution or a Map Run child after the event id ``after``, read
        from the store a page at a time by a range of its key (a viewer's poll costs what the
        new events cost, however long the history; reading a whole history this way holds
        one page of it at a time)."""
        child = self.map_runs.child(arn) if arn not in self.executions else None
        if child is not None:
            yield from (_event_dict(e, True) for e in child.history if e.event_id > after)
            return
        arn = self._execution(arn).arn
        while True:
            page = self.supervisor.events_page(arn, _EVENTS_READ_PAGE, after, False)
            yield from (_event_dict(e, True) for e in page)
            if len(page) < _EVENTS_READ_PAGE:
                return
            after = page[-1].event_id

    def last_event_id(self, arn: str) -> int:
        """The id of an execution's (or a Map Run child's) last event, 0 when it has none:
        one step down the store's index."""
        child = self.map_runs.child(arn) if arn not in self.executions else None
        if child is not None:
            return child.history[-1].event_id if child.history else 0
        return self.supervisor.event_count(self._execution(arn).arn)

    def GetExecutionHistory(self, p: dict, ctx: RequestContext) -> dict:
        """One page, read by event id (a page costs what its rows cost, however long the
        history); ``nextToken`` carries the id the next page starts after (before, in
        reverse order)."""
        arn = p["executionArn"]
        limit = page_limit(p)
        boundary = decode_token(p, _HISTORY_TOKEN_KEY)
        reverse = bool(p.get("reverseOrder"))
        child = self.map_runs.child(arn) if arn not in self.executions else None
        if child is not None:
            events = child.history
            if reverse:
                events = [e for e in reversed(events) if boundary is None or e.event_id < boundary]
            else:
                events = [e for e in events if boundary is None or e.event_id > boundary]
            page, more = events[:limit], len(events) > limit
        else:
            execution = self._execution(arn)
            page = self.supervisor.events_page(execution.arn, limit + 1, boundary, reverse)
            page, more = page[:limit], len(page) > limit
        out: dict[str, Any] = {"events": [_event_dict(e, p.get("includeExecutionData", True)) for e in page]}
        if more:
            out["nextToken"] = encode_token(page[-1].event_id, _HISTORY_TOKEN_KEY)
        return out

    def DescribeStateMachineForExecution(self, p: dict, ctx: RequestContext) -> dict:
        execution = self._execution(p["executionArn"])
        rev = execution.revision
        out = self.describe_machine(rev)
        out["updateDate"] = epoch(rev.get("update_date") or execution.start_date)
        return out

    def RedriveExecution(self, p: dict, ctx: RequestContext) -> dict:
        execution = self._execution(p["executionArn"])

        def refuse(reason: str | None) -> AwsError:
            return AwsError("ExecutionNotRedrivable",
                            f"Execution with ARN {execution.arn} cannot be redriven: {reason}")

        status, reason = self._redrive_status(execution)
        if status != "REDRIVABLE":
            raise refuse(reason)
        self.supervisor.redrive(execution, refuse)
        return {"redriveDate": epoch(execution.redrive_date)}

    # -- callbacks ------------------------------------------------------------------------
    def _token_call(self, token: str, call: Callable[[], None]) -> dict:
        try:
            call()
        except TokenTimedOut:
            raise AwsError("TaskTimedOut", "Task Timed Out: 'Provided task has timed out'") from None
        except InvalidToken:
            if _TOKEN_FORMAT.fullmatch(token):
                raise AwsError("TaskDoesNotExist",
                               "Task Does Not Exist: 'Provided task does not exist anymore'") from None
            raise AwsError("InvalidToken", "Invalid Token: 'Invalid token'") from None
        return {}

    def SendTaskSuccess(self, p: dict, ctx: RequestContext) -> dict:
        token = p["taskToken"]
        try:
            output = parse_json_text(p["output"])
        except ValueError as exc:
            raise AwsError("InvalidOutput", f"Invalid Output: '{exc}'") from None
        return self._token_call(token, lambda: self.tokens.send_success(token, output))

    def SendTaskFailure(self, p: dict, ctx: RequestContext) -> dict:
        token = p["taskToken"]
        return self._token_call(token, lambda: self.tokens.send_failure(token, p.get("error"), p.get("cause")))

    def SendTaskHeartbeat(self, p: dict, ctx: RequestContext) -> dict:
        token = p["taskToken"]
        out = self._token_call(token, lambda: self.tokens.send_heartbeat(token))
        self.activities.heartbeat(token)
        return out

    # -- TestState ------------------------------------------------------------------------
    def TestState(self, p: dict, ctx: RequestContext) -> dict:
        return run_test_state(p, ctx, self.registry, self.tokens)

    # -- tags -----------------------------------------------------------------------------
    def _set_tags(self, arn: str, tags: dict[str, str] | None) -> None:
        if tags is None:  # the resource was deleted
            self.tags.pop(arn, None)
            self.store.delete("sfn_tags", arn)
            return
        self.tags[arn] = tags
        self.store.put("sfn_tags", arn, {"arn": arn, "tags": tags})

    def _taggable(self, arn: str) -> None:
        if arn not in self.machines and arn not in self.activities.activities:
            raise AwsError("ResourceNotFound", f"Resource not found: '{arn}'")

    def TagResource(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["resourceArn"]
        self._taggable(arn)
        tags = dict(self.tags.get(arn, {}))
        tags.update(sfn_tag_map(p["tags"]))
        if len(tags) > 50:
            raise AwsError("TooManyTags", "Too many tags: a resource takes at most 50", resourceName=arn)
        self._set_tags(arn, tags)
        return {}

    def UntagResource(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["resourceArn"]
        self._taggable(arn)
        tags = {k: v for k, v in self.tags.get(arn, {}).items() if k not in set(p["tagKeys"])}
        self._set_tags(arn, tags)
        return {}

    def ListTagsForResource(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["resourceArn"]
        self._taggable(arn)
        return {"tags": [{"key": k, "value": v} for k, v in self.tags.get(arn, {}).items()]}



def _check_publish(p: dict) -> None:
    if "versionDescription" in p and not p.get("publish"):
        raise AwsError("ValidationException", "Version description can only be set when publish is true")


_DATA_FIELDS = ("input", "output", "parameters")


def _event_dict(event: HistoryEvent, include_data: bool) -> dict[str, Any]:
    out = event.to_aws()
    if not include_data:
        for key, details in out.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for name in _DATA_FIELDS:
                    if name in details:
                        details.pop(name)
                        details.pop(f"{name}Details", None)
    return out

"""The Step Functions API (AWS JSON 1.0), served by the stepkit engine.

State machines and executions are records in the endpoint's SQLite store; an execution's
history rows are written by the engine's listener as the events happen. At start-up every
execution recorded as RUNNING is resumed from its last recorded transition
(``ExecutionRun.resume``): a state that was in flight runs again, as AWS re-runs a task.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepkit.asl.validation import invalid_definition_message, validate_definition
from stepkit.endpoint.activities import ActivityService
from stepkit.endpoint.protocol import AwsError, JsonService, RequestContext, epoch
from stepkit.endpoint.rules import sfn_bad_text, sfn_tag_map
from stepkit.endpoint.store import Store
from stepkit.endpoint.validation import lone_surrogate_in, parse_json, parse_json_text
from stepkit.endpoint.versions import Route, VersionService, split
from stepkit.engine.callbacks import InvalidToken, TaskTokens, TokenTimedOut
from stepkit.engine.clock import Clock
from stepkit.engine.execution import Execution, ExecutionRun
from stepkit.engine.history import HistoryEvent
from stepkit.engine.recovery import error_matches
from stepkit.integrations.activities import ACTIVITY_RESOURCES
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runner import StateMachine

# What the API reference says a name must not contain (surrogates: a lone one, as JSON can carry).
_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\U0010ffff]")
_MACHINE_ARN = re.compile(r"arn:aws[\w-]*:states:(?P<region>[\w-]+):(?P<account>\d{12}):stateMachine:(?P<name>[^:]+)"
                          r"(?::(?P<qualifier>[^:]+))?")
_EXECUTION_ARN = re.compile(r"arn:aws[\w-]*:states:(?P<region>[\w-]+):(?P<account>\d{12}):(?P<kind>execution|express):"
                            r"(?P<machine>[^:]+):(?P<name>[^:]+)(?::(?P<id>[^:]+))?")
_TERMINAL = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionAborted": "ABORTED",
             "ExecutionTimedOut": "TIMED_OUT"}
_REDRIVABLE = ("FAILED", "ABORTED", "TIMED_OUT")
MAX_INPUT_BYTES = 256 * 1024
_TOKEN_FORMAT = re.compile(r"[0-9a-f]{64}")


class _RunClock(Clock):
    """Real time whose sleeps (Wait states, retry back-off) end early when the execution is stopped."""

    def __init__(self) -> None:
        self.woken = threading.Event()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.woken.wait(seconds)


@dataclass
class Machine:
    arn: str
    name: str
    type: str
    definition: str
    role_arn: str
    creation_date: float
    revision_id: str
    update_date: float | None = None
    description: str = ""
    logging: dict = field(default_factory=lambda: {"level": "OFF", "includeExecutionData": False})
    tracing: dict = field(default_factory=lambda: {"enabled": False})

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def revision(self) -> dict[str, Any]:
        """What an execution keeps of its machine (DescribeStateMachineForExecution)."""
        return {k: getattr(self, k) for k in ("arn", "name", "type", "definition", "role_arn", "revision_id",
                                               "update_date", "logging", "tracing")}


@dataclass
class ExecutionRecord:
    arn: str
    name: str
    machine_arn: str
    revision: dict[str, Any]
    input: str
    start_date: float
    status: str = "RUNNING"
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    stop_date: float | None = None
    redrive_count: int = 0
    redrive_date: float | None = None
    trace_header: str | None = None
    express: bool = False
    version_arn: str | None = None  # started on a version, or on an alias that chose it
    alias_arn: str | None = None

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Running:
    """An execution being run on its own thread."""

    def __init__(self, run: ExecutionRun, clock: _RunClock) -> None:
        self.run = run
        self.clock = clock
        self.thread: threading.Thread | None = None
        self.done = threading.Event()
        self.stopped = False
        self.lock = threading.Lock()


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _check_name(name: str, what: str = "Name") -> None:
    if not 1 <= len(name) <= 80 or _NAME_FORBIDDEN.search(name):
        raise AwsError("InvalidName", f"Invalid {what}: '{name}'")


class StepFunctionsService:
    """Every operation of issue 4's list; ``registry_factory`` gives the Task integrations."""

    def __init__(
        self,
        store: Store,
        registry_factory: Callable[[], IntegrationRegistry],
        tokens: TaskTokens | None = None,
    ) -> None:
        self.store = store
        self.registry_factory = registry_factory
        self.tokens = tokens if tokens is not None else TaskTokens()
        self._lock = threading.RLock()
        self.machines: dict[str, Machine] = {}
        self.executions: dict[str, ExecutionRecord] = {}
        self.events: dict[str, list[HistoryEvent]] = {}
        self.running: dict[str, _Running] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self._compiled: dict[str, StateMachine] = {}
        self._map_runs: dict[str, Any] = {}  # Map Runs of finished executions (MapRun), read on demand
        self._map_run_owner: dict[str, str] = {}  # Map Run ARN -> execution ARN
        self._registry: IntegrationRegistry | None = None
        self.activities = ActivityService(store, self.tokens, _check_name, self._set_tags)
        handlers = {name: getattr(self, name) for name in dir(self) if name[:1].isupper()}
        handlers.update(self.activities.handlers())
        self.versions = VersionService(self)
        handlers.update(self.versions.handlers())
        self.app = JsonService("stepfunctions", handlers, sfn_bad_text)
        self._closed = False

    # -- start-up and shut-down -----------------------------------------------------------
    def load(self) -> list[str]:
        """Read the store; returns the ARNs of the executions that were running (to resume)."""
        for rec in self.store.all("state_machine"):
            machine = Machine(**rec)
            self.machines[machine.arn] = machine
        for rec in self.store.all("sfn_tags"):
            self.tags[rec["arn"]] = rec["tags"]
        for rec in self.store.all("map_run_owner"):
            self._map_run_owner[rec["map_run_arn"]] = rec["execution_arn"]
        running = []
        for rec in self.store.all("execution"):
            execution = ExecutionRecord(**rec)
            self.executions[execution.arn] = execution
            if execution.status == "RUNNING":
                running.append(execution.arn)
        self.activities.load(set(running))
        self.versions.load()
        return running

    def resume_all(self, arns: list[str]) -> None:
        for arn in arns:
            execution = self.executions[arn]
            events = self.store.events(arn)
            self.events[arn] = events
            ended = [e for e in events if e.depth == 0 and e.event_type in _TERMINAL]
            if ended and ended[-1] is events[-1]:  # killed after the last event, before the record
                self._apply_terminal(execution, ended[-1])
                self._save_execution(execution)
            elif not events:
                self._launch(execution)
            else:
                self._launch(execution, resume=events)

    def close(self, timeout: float = 2.0) -> None:
        """Stop running executions without ending them: their records stay RUNNING (what the
        engine records from here on is dropped), so the next start resumes them."""
        self._closed = True
        self.activities.close()
        with self._lock:
            running = list(self.running.items())
        for execution_arn, r in running:
            with r.lock:
                r.stopped = True
            r.run.stop("States.Aborted", "the endpoint is shutting down")
            r.clock.woken.set()
            self.tokens.release(execution_arn)
        for _, r in running:
            r.done.wait(timeout / max(len(running), 1))

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                running = list(self.running.values())
            if not running:
                return True
            for r in running:
                left = None if deadline is None else max(deadline - time.monotonic(), 0)
                if not r.done.wait(left):
                    return False

    @property
    def registry(self) -> IntegrationRegistry:
        if self._registry is None:
            self._registry = self.registry_factory()
            self._registry.register(ACTIVITY_RESOURCES, self.activities)
        return self._registry

    # -- helpers --------------------------------------------------------------------------
    def _machine_arn(self, ctx: RequestContext, name: str) -> str:
        return f"arn:aws:states:{ctx.region}:{ctx.account}:stateMachine:{name}"

    def _machine(self, arn: str) -> Machine:
        m = _MACHINE_ARN.fullmatch(arn)
        if m is None:
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        base = arn if m["qualifier"] is None else arn.rsplit(":", 1)[0]
        machine = self.machines.get(base)
        if machine is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return machine

    def _execution(self, arn: str) -> ExecutionRecord:
        if _EXECUTION_ARN.fullmatch(arn) is None:
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        execution = self.executions.get(arn)
        if execution is None:
            raise AwsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    # -- Map Runs (Distributed Map) ---------------------------------------------------------
    def _live_map_runs(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            running = list(self.running.items())
        for execution_arn, r in running:
            for arn, map_run in list(getattr(r.run, "map_runs", {}).items()):
                found[arn] = map_run
                self._map_run_owner.setdefault(arn, execution_arn)
        return found

    def _map_run(self, arn: str) -> Any:
        live = self._live_map_runs()
        if arn in live:
            return live[arn]
        map_run = self._map_runs.get(arn)
        if map_run is None and arn in self._map_run_owner:
            from stepkit.engine.map_run import MapRun

            record = self.store.get("map_run", arn)
            if record is not None:
                map_run = self._map_runs[arn] = MapRun.from_record(record)
        if map_run is None:
            raise AwsError("ResourceNotFound", f"Resource not found: '{arn}'")
        return map_run

    def _known_map_runs(self, owner: str | None = None) -> list[Any]:
        """Every Map Run this endpoint knows (of the execution ``owner`` when given)."""
        live = self._live_map_runs()
        found = []
        for arn, owned_by in list(self._map_run_owner.items()):
            if owner is not None and owned_by != owner:
                continue
            map_run = live.get(arn)
            if map_run is None:
                with contextlib.suppress(AwsError):  # an execution that never finished has none kept
                    map_run = self._map_run(arn)
            if map_run is not None:
                found.append(map_run)
        return found

    def _map_runs_of(self, execution_arn: str) -> list[Any]:
        """The Map Runs an execution (or a child execution) started itself."""
        runs = self._known_map_runs()
        return sorted((m for m in runs if m.execution_arn == execution_arn), key=lambda m: (m.start_date, m.arn))

    def _adopt_map_runs(self, execution: ExecutionRecord, run: ExecutionRun) -> None:
        previous = self._known_map_runs(execution.arn)
        if previous:
            from stepkit.engine.map_run import adopt_map_runs

            adopt_map_runs(run, previous)

    def _child(self, arn: str) -> Any:
        """A Distributed Map child execution, if ``arn`` names one."""
        if _EXECUTION_ARN.fullmatch(arn) is None or "/" not in arn.split(":")[6]:
            return None
        for map_run in self._known_map_runs():
            child = map_run.find(arn)
            if child is not None:
                return child
        return None

    def DescribeMapRun(self, p: dict, ctx: RequestContext) -> dict:
        return self._map_run(p["mapRunArn"]).describe()

    def ListMapRuns(self, p: dict, ctx: RequestContext) -> dict:
        execution_arn = p["executionArn"]
        if self._child(execution_arn) is None:
            self._execution(execution_arn)
        rows = [m.summary() for m in self._map_runs_of(execution_arn)]
        page, token = _paginate(rows, p, "mapRunArn")
        out: dict[str, Any] = {"mapRuns": page}
        if token:
            out["nextToken"] = token
        return out

    def UpdateMapRun(self, p: dict, ctx: RequestContext) -> dict:
        map_run = self._map_run(p["mapRunArn"])
        try:
            map_run.update(max_concurrency=p.get("maxConcurrency"),
                           tolerated_failure_count=p.get("toleratedFailureCount"),
                           tolerated_failure_percentage=p.get("toleratedFailurePercentage"))
        except ValueError as exc:
            raise AwsError("ValidationException", str(exc)) from None
        return {}

    @staticmethod
    def _check_definition(definition: str, machine_type: str) -> None:
        try:
            document = parse_json(definition)
        except ValueError:
            document = None  # the validator words the parse error
        if lone_surrogate_in(document):  # a state name an execution's history could never store
            raise AwsError("InvalidDefinition", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: The "
                           "definition holds an unpaired UTF-16 surrogate'")
        diagnostics = validate_definition(definition, state_machine_type=machine_type)
        if any(d.severity == "ERROR" for d in diagnostics):
            raise AwsError("InvalidDefinition", invalid_definition_message(diagnostics))

    @staticmethod
    def _check_role(role_arn: str) -> None:
        if not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+", role_arn):
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {role_arn}'")

    def _compiled_machine(self, revision: dict[str, Any]) -> StateMachine:
        key = revision["revision_id"]
        with self._lock:
            machine = self._compiled.get(key)
            if machine is None:
                arn = revision["arn"]
                m = _MACHINE_ARN.fullmatch(arn)
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

    def _save_execution(self, execution: ExecutionRecord) -> None:
        if not execution.express:
            self.store.put("execution", execution.arn, execution.to_record())

    def _save_machine(self, machine: Machine) -> None:
        self.store.put("state_machine", machine.arn, machine.to_record())

    # -- running executions ---------------------------------------------------------------
    def _listener(self, execution: ExecutionRecord, running: _Running) -> Callable[[HistoryEvent], None]:
        persist = not execution.express
        events = self.events.setdefault(execution.arn, [])

        def on_event(event: HistoryEvent) -> None:
            with running.lock:
                if running.stopped:  # StopExecution already closed the history
                    return
                if persist:
                    self.store.add_event(execution.arn, event)
                events.append(event)
                if event.event_type in _TERMINAL and event.depth == 0:
                    self._apply_terminal(execution, event)
                    self._save_execution(execution)

        return on_event

    @staticmethod
    def _apply_terminal(execution: ExecutionRecord, event: HistoryEvent) -> None:
        details = event.details or {}
        execution.status = _TERMINAL[event.event_type]
        execution.stop_date = event.timestamp
        if execution.status == "SUCCEEDED":
            execution.output = _json_text(details.get("output"))
        else:
            execution.error, execution.cause = details.get("error"), details.get("cause")

    def _prepare(self, execution: ExecutionRecord) -> _Running:
        machine = self._compiled_machine(execution.revision)
        clock = _RunClock()
        running = _Running(None, clock)  # type: ignore[arg-type]
        run = machine.prepare(
            json.loads(execution.input), name=execution.name, clock=clock, listener=self._listener(execution, running)
        )
        run.execution_arn = execution.arn
        run.execution_context["Id"] = execution.arn
        if not execution.express:
            run.execution_context["RedriveCount"] = execution.redrive_count
        running.run = run
        return running

    def _launch(
        self, execution: ExecutionRecord, *, resume: list[HistoryEvent] | None = None, redrive: bool = False
    ) -> _Running:
        running = self._prepare(execution)
        with self._lock:
            self.running[execution.arn] = running

        def target() -> None:
            try:
                if resume is None:
                    result = running.run.start()
                elif redrive:
                    self._adopt_map_runs(execution, running.run)
                    result = running.run.resume(resume, redrive_count=execution.redrive_count)
                else:
                    result = running.run.resume(resume)
                self._finished(execution, running, result)
            except Exception as exc:  # an engine bug must not leave the execution RUNNING forever
                if not running.stopped and execution.status == "RUNNING":
                    self._close_history(execution, running, "ExecutionFailed",
                                        {"error": "States.Runtime", "cause": f"stepkit: {exc!r}"})
            finally:
                with self._lock:
                    self.running.pop(execution.arn, None)
                running.done.set()

        thread = threading.Thread(target=target, name=f"sfn-{execution.name}", daemon=True)
        running.thread = thread
        thread.start()
        return running

    def _save_map_runs(self, execution: ExecutionRecord, run: ExecutionRun) -> None:
        """Keep the Map Runs of an execution that ended (DescribeMapRun, ListExecutions of
        a Map Run, the children's histories, and a later redrive need them)."""
        for arn, map_run in list(getattr(run, "map_runs", {}).items()):
            self._map_runs[arn] = map_run
            self._map_run_owner[arn] = execution.arn
            if not execution.express:
                self.store.put("map_run", arn, map_run.to_record())
                self.store.put("map_run_owner", arn, {"map_run_arn": arn, "execution_arn": execution.arn})

    def _finished(self, execution: ExecutionRecord, running: _Running, result: Execution) -> None:
        self._save_map_runs(execution, running.run)
        if running.stopped or execution.status != "RUNNING":
            return
        # The terminal event normally set these already; a resumed history that had ended did not.
        execution.status = result.status
        execution.stop_date = result.stop_date or time.time()
        if result.status == "SUCCEEDED":
            execution.output = _json_text(result.output)
        else:
            execution.error, execution.cause = result.error, result.cause
        self._save_execution(execution)

    def _close_history(self, execution: ExecutionRecord, running: _Running, kind: str, details: dict) -> None:
        """End an execution from outside the engine (StopExecution on a task that does not yield)."""
        events = self.events.setdefault(execution.arn, [])
        with running.lock:
            if running.stopped or execution.status != "RUNNING":
                return
            running.stopped = True
            last = events[-1].event_id if events else 0
            event = HistoryEvent(last + 1, last, kind, time.time(), details)
            if not execution.express:
                self.store.add_event(execution.arn, event)
            events.append(event)
            execution.status = _TERMINAL[kind]
            execution.stop_date = event.timestamp
            execution.error, execution.cause = details.get("error"), details.get("cause")
            self._save_execution(execution)

    def _history(self, execution: ExecutionRecord) -> list[HistoryEvent]:
        events = self.events.get(execution.arn)
        if events is None:
            events = self.store.events(execution.arn)
            self.events[execution.arn] = events
        return list(events)

    def _start(
        self, machine: Machine, name: str | None, input_text: str | None, trace: str | None, ctx: RequestContext,
        route: Route | None = None,
    ) -> ExecutionRecord:
        name = name if name is not None else str(uuid.uuid4())
        _check_name(name, "Name")
        if input_text is None:
            input_text = "{}"
        if len(input_text.encode()) > MAX_INPUT_BYTES:
            raise AwsError("InvalidExecutionInput", "Invalid State Machine Execution Input: 'The input is larger "
                           f"than the maximum of {MAX_INPUT_BYTES} bytes'")
        try:
            parse_json_text(input_text)
        except ValueError as exc:
            raise AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None
        express = machine.type == "EXPRESS"
        if express:
            arn = machine.arn.replace(":stateMachine:", ":express:", 1) + f":{name}:{uuid.uuid4()}"
        else:
            arn = machine.arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        with self._lock:
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
            self._save_execution(execution)  # stored first: a record that cannot be stored is never listed
            self.executions[arn] = execution
            if self._closed:
                raise AwsError("ServiceUnavailable", "The endpoint is shutting down.", 503)
            try:
                self._launch(execution)
            except Exception:  # never keep a RUNNING record that nothing runs
                self.executions.pop(arn, None)
                self.store.delete("execution", arn)
                raise
        return execution

    # -- state machines -------------------------------------------------------------------
    def CreateStateMachine(self, p: dict, ctx: RequestContext) -> dict:
        name, definition, role = p["name"], p["definition"], p["roleArn"]
        machine_type = p.get("type", "STANDARD")
        _check_name(name)
        _check_publish(p)
        tags = sfn_tag_map(p.get("tags"))
        self._check_role(role)
        self._check_definition(definition, machine_type)
        arn = self._machine_arn(ctx, name)
        with self._lock:
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
        machine = self._machine(p["stateMachineArn"])
        if split(p["stateMachineArn"])[1] is not None:  # a version or an alias cannot be changed
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: "
                           f"{p['stateMachineArn']}'")
        _check_publish(p)
        fields = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(k in p for k in fields):
            raise AwsError("MissingRequiredParameter", "Either the definition, the role ARN, the "
                           "LoggingConfiguration, or the TracingConfiguration must be specified")
        if "definition" in p:
            self._check_definition(p["definition"], machine.type)
        if "roleArn" in p:
            self._check_role(p["roleArn"])
        with self._lock:
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

    def _describe_machine(self, machine: Machine | dict) -> dict:
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
        machine = self._machine(p["stateMachineArn"])
        if split(p["stateMachineArn"])[1] is not None:
            return self.versions.describe(p["stateMachineArn"])
        out = self._describe_machine(machine)
        out.update(status="ACTIVE", type=machine.type, creationDate=epoch(machine.creation_date))
        if machine.description:
            out["description"] = machine.description
        return out

    def ListStateMachines(self, p: dict, ctx: RequestContext) -> dict:
        items = sorted(self.machines.values(), key=lambda m: (m.creation_date, m.arn))
        rows = [{"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": epoch(m.creation_date)}
                for m in items]
        page, token = _paginate(rows, p, "stateMachineArn")
        out: dict[str, Any] = {"stateMachines": page}
        if token:
            out["nextToken"] = token
        return out

    def DeleteStateMachine(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineArn"]
        if _MACHINE_ARN.fullmatch(arn) is None:
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        with self._lock:
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
    def StartExecution(self, p: dict, ctx: RequestContext) -> dict:
        machine = self._machine(p["stateMachineArn"])
        route = self.versions.route(p["stateMachineArn"])
        execution = self._start(machine, p.get("name"), p.get("input"), p.get("traceHeader"), ctx, route)
        return {"executionArn": execution.arn, "startDate": epoch(execution.start_date)}

    def StartSyncExecution(self, p: dict, ctx: RequestContext) -> dict:
        machine = self._machine(p["stateMachineArn"])
        if machine.type != "EXPRESS":
            raise AwsError("StateMachineTypeNotSupported", "This operation is not supported by this type of "
                           "state machine")
        route = self.versions.route(p["stateMachineArn"])
        execution = self._start(machine, p.get("name"), p.get("input"), p.get("traceHeader"), ctx, route)
        running = self.running.get(execution.arn)
        if running is not None:
            running.done.wait()
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
        with self._lock:  # AWS keeps no record of Express executions
            self.executions.pop(execution.arn, None)
            self.events.pop(execution.arn, None)
        return out

    def StopExecution(self, p: dict, ctx: RequestContext) -> dict:
        execution = self._execution(p["executionArn"])
        error, cause = p.get("error"), p.get("cause")
        running = self.running.get(execution.arn) or _Running(None, _RunClock())  # type: ignore[arg-type]
        if execution.status == "RUNNING":
            # The history is closed now, as AWS does; the engine stops at its next transition
            # (a Wait or a retry back-off ends at once) and what it records meanwhile is dropped.
            self._close_history(execution, running, "ExecutionAborted", {"error": error, "cause": cause})
            if running.run is not None:
                running.run.stop(error, cause)
                running.clock.woken.set()
                self.tokens.release(execution.arn)
        return {"stopDate": epoch(execution.stop_date or time.time())}

    def _redrive_status(self, execution: ExecutionRecord) -> tuple[str, str | None]:
        if execution.express:
            return "NOT_REDRIVABLE", "Execution is of an EXPRESS state machine and cannot be redriven"
        if execution.status in _REDRIVABLE:
            return "REDRIVABLE", None
        return "NOT_REDRIVABLE", f"Execution is {execution.status} and cannot be redriven"

    def DescribeExecution(self, p: dict, ctx: RequestContext) -> dict:
        if p["executionArn"] not in self.executions:
            child = self._child(p["executionArn"])
            if child is not None:
                return child.describe()
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
        out.update(_routed(e))
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
            children = self._map_run(p["mapRunArn"]).executions(p.get("statusFilter"))
            page, token = _paginate([c.summary() for c in children], p, "executionArn")
            out_children: dict[str, Any] = {"executions": page}
            if token:
                out_children["nextToken"] = token
            return out_children
        machine = self._machine(p["stateMachineArn"])
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
            row.update(_routed(e))
            rows.append((e.start_date, e.arn, row))
        rows.sort(key=lambda r: (-r[0], r[1]))
        page, token = _paginate([r[2] for r in rows], p, "executionArn")
        out: dict[str, Any] = {"executions": page}
        if token:
            out["nextToken"] = token
        return out

    def execution_events(self, arn: str, include_data: bool = True) -> list[dict[str, Any]]:
        """Every event of an execution or a Map Run child in AWS's shape: GetExecutionHistory's
        rows, which the viewer reads whole (10,000 events in one pass, not page by page)."""
        child = self._child(arn) if arn not in self.executions else None
        events = list(child.history) if child is not None else self._history(self._execution(arn))
        return [_event_dict(e, include_data) for e in events]

    def GetExecutionHistory(self, p: dict, ctx: RequestContext) -> dict:
        rows = self.execution_events(p["executionArn"], p.get("includeExecutionData", True))
        if p.get("reverseOrder"):
            rows.reverse()
        page, token = _paginate(rows, p, "id", default_limit=100)
        out: dict[str, Any] = {"events": page}
        if token:
            out["nextToken"] = token
        return out

    def DescribeStateMachineForExecution(self, p: dict, ctx: RequestContext) -> dict:
        execution = self._execution(p["executionArn"])
        rev = execution.revision
        out = self._describe_machine(rev)
        out["updateDate"] = epoch(rev.get("update_date") or execution.start_date)
        return out

    def RedriveExecution(self, p: dict, ctx: RequestContext) -> dict:
        execution = self._execution(p["executionArn"])
        status, reason = self._redrive_status(execution)
        if status != "REDRIVABLE":
            raise AwsError("ExecutionNotRedrivable", f"Execution with ARN {execution.arn} cannot be redriven: {reason}")
        with self._lock:
            if execution.arn in self.running:
                raise AwsError("ExecutionNotRedrivable", f"Execution with ARN {execution.arn} cannot be redriven: "
                               "Execution is RUNNING and cannot be redriven")
            events = self._history(execution)
            execution.redrive_count += 1
            execution.redrive_date = time.time()
            execution.status = "RUNNING"
            execution.stop_date = None
            execution.error = execution.cause = None
            self._save_execution(execution)
        self._launch(execution, resume=events, redrive=True)
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
        try:
            state = parse_json_text(p["definition"])
        except ValueError as exc:
            raise AwsError("InvalidDefinition",
                           f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {exc}'") from None
        if not isinstance(state, dict) or "Type" not in state:
            raise AwsError("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                           "The definition must be a state object with a Type'")
        name = p.get("stateName") or "TestState"
        state = dict(state)
        retry = state.pop("Retry", None)
        stubs = {}
        for target in _targets(state):
            if target != name:
                stubs[target] = {"Type": "Succeed"}
        definition = {"StartAt": name, "States": {name: state, **stubs}}
        if "QueryLanguage" in state:
            definition["QueryLanguage"] = state["QueryLanguage"]
        text = json.dumps(definition)
        self._check_definition(text, "STANDARD")
        input_text = p.get("input") or "{}"
        try:
            data = parse_json_text(input_text)
        except ValueError as exc:
            raise AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None
        machine = StateMachine(definition, name="TestState", region=ctx.region, account_id=ctx.account,
                               registry=self.registry, validate=False, tokens=self.tokens, role_arn=p.get("roleArn"))
        result = machine.prepare(data, name=f"test-{uuid.uuid4()}").start()
        entered = [e.details["name"] for e in result.history if e.event_type.endswith("StateEntered")]
        failed = [e for e in result.history if e.event_type in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut")]
        out: dict[str, Any] = {}
        level = p.get("inspectionLevel", "INFO")
        inspection: dict[str, Any] = {"input": input_text}
        for event in result.history:
            if event.event_type in ("TaskSucceeded", "LambdaFunctionSucceeded"):
                inspection["result"] = _json_text((event.details or {}).get("output"))
            if event.event_type == "TaskScheduled":
                inspection["afterParameters"] = _json_text((event.details or {}).get("parameters"))
        if result.status == "SUCCEEDED":
            out["output"] = _json_text(result.output)
            if len(entered) > 1:
                out["nextState"] = entered[1]
            out["status"] = "CAUGHT_ERROR" if failed and len(entered) > 1 else "SUCCEEDED"
            if failed and len(entered) > 1:
                details = failed[-1].details or {}
                out["error"], out["cause"] = details.get("error"), details.get("cause")
        else:
            out["status"] = "FAILED"
            if retry and any(error_matches(r.get("ErrorEquals", []), result.error) for r in retry):
                out["status"] = "RETRIABLE"
            if result.error is not None:
                out["error"] = result.error
            if result.cause is not None:
                out["cause"] = result.cause
        if level in ("DEBUG", "TRACE"):
            out["inspectionData"] = inspection
        return {k: v for k, v in out.items() if v is not None}

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


def _routed(e: ExecutionRecord) -> dict[str, str]:
    """The version and alias an execution was started through (DescribeExecution, ListExecutions)."""
    out = {"stateMachineVersionArn": e.version_arn, "stateMachineAliasArn": e.alias_arn}
    return {k: v for k, v in out.items() if v is not None}


def _check_publish(p: dict) -> None:
    if "versionDescription" in p and not p.get("publish"):
        raise AwsError("ValidationException", "Version description can only be set when publish is true")


def _targets(state: dict) -> list[str]:
    """The state names a state can go to (Next, Default, Choices, Catch)."""
    names = []
    if isinstance(state.get("Next"), str):
        names.append(state["Next"])
    if isinstance(state.get("Default"), str):
        names.append(state["Default"])
    for choice in state.get("Choices") or []:
        if isinstance(choice, dict) and isinstance(choice.get("Next"), str):
            names.append(choice["Next"])
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            names.append(catcher["Next"])
    return list(dict.fromkeys(names))


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


def _encode_token(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": key}).encode()).decode()


def _paginate(rows: list[dict], p: dict, key: str, default_limit: int = 100) -> tuple[list[dict], str | None]:
    limit = p.get("maxResults") or default_limit
    limit = min(limit, 1000)
    offset = 0
    token = p.get("nextToken")
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(data["o"])
            if data["k"] != key or offset < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise AwsError("InvalidToken", f"Invalid Token: '{token}'") from None
    page = rows[offset: offset + limit]
    more = offset + limit < len(rows)
    return page, _encode_token(offset + limit, key) if more else None



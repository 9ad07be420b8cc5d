"""Step Functions activities on the local endpoint: CreateActivity, DescribeActivity,
ListActivities, DeleteActivity, GetActivityTask, and the scheduler the engine hands
activity Tasks to (``engine.tasks.ActivityScheduler``).

A task is a record in the store from the moment the engine schedules it until it ends, so
it outlives a restart of the endpoint: the resumed execution runs its Task state again and
takes the recorded task over (same token, same input), so a task no worker had taken is
still there for the next worker, and a task a worker had taken stays that worker's, its
TimeoutSeconds and HeartbeatSeconds counting from when it was scheduled and last heard of
(it times out if the worker is gone, as on AWS, where the service never restarts).

GetActivityTask long-polls as AWS does (up to 60 s), waiting on a condition (no lock is
held while it waits); nothing to do answers an empty ``taskToken``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepkit.asl.errors import StateEvaluationError
from stepkit.endpoint.pages import paged
from stepkit.endpoint.protocol import AwsError, RequestContext, epoch
from stepkit.endpoint.rules import sfn_tag_map
from stepkit.endpoint.store import Store
from stepkit.engine.task_tokens import TaskTokens
from stepkit.engine.tasks import ActivityTicket, TaskInvocation

ACTIVITY_ARN = re.compile(r"arn:aws[\w-]*:states:(?P<region>[\w-]+):(?P<account>\d{12}):activity:(?P<name>[^:]+)")
POLL_SECONDS = 60.0  # AWS holds a GetActivityTask request open up to 60 seconds


@dataclass
class Activity:
    arn: str
    name: str
    creation_date: float
    encryption: dict[str, Any] | None = None

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ActivityTask:
    """A scheduled task, as the store keeps it (kind ``activity_task``, keyed by token)."""

    token: str
    activity_arn: str
    execution_arn: str
    state_name: str
    input: str
    scheduled_at: float
    started_at: float | None = None
    worker: str | None = None
    heartbeat_at: float | None = None

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _invalid_arn(arn: str) -> AwsError:
    return AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")


class ActivityService:
    """The activity operations and the engine's ``ActivityScheduler``."""

    def __init__(self, store: Store, tokens: TaskTokens, check_name: Callable[[str], None],
                 set_tags: Callable[[str, dict[str, str] | None], None]) -> None:
        self.store = store
        self.tokens = tokens
        self.check_name = check_name
        self.set_tags = set_tags  # None: the resource is gone, its tags with it
        self.poll_seconds = POLL_SECONDS
        self.activities: dict[str, Activity] = {}
        self._tasks: dict[str, ActivityTask] = {}  # token -> a task of a live execution
        self._queues: dict[str, deque[str]] = {}  # activity ARN -> tokens no worker has taken
        self._orphans: list[ActivityTask] = []  # recorded before a restart, not taken over yet
        self._cond = threading.Condition()
        self._closed = False

    def handlers(self) -> dict[str, Callable[[dict, RequestContext], dict]]:
        return {name: getattr(self, name) for name in
                ("CreateActivity", "DescribeActivity", "ListActivities", "DeleteActivity", "GetActivityTask")}

    # -- start-up and shut-down -----------------------------------------------------------
    def load(self, running: set[str]) -> None:
        """Read the store; the tasks of executions still running (``running``: their ARNs)
        wait to be taken over by the resumed executions, the others are forgotten."""
        for rec in self.store.all("activity"):
            activity = Activity(**rec)
            self.activities[activity.arn] = activity
        now = time.time()
        for rec in self.store.all("activity_task"):
            task = ActivityTask(**rec)
            if task.execution_arn not in running:
                self.store.delete("activity_task", task.token)
                continue
            self._orphans.append(task)
            # The token answers from now on: a worker's callback may come before the
            # resumed execution takes the task over. A worker's heartbeat clock goes on.
            self.tokens.new_token(task.execution_arn, task.token)
            if task.started_at is not None:
                last = task.heartbeat_at or task.started_at
                self.tokens.start(task.token, task.worker, since=max(now - last, 0.0))

    def close(self) -> None:
        """Stop serving: pollers answer at once, and the tasks stay recorded for the next start."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the scheduler (engine side) ------------------------------------------------------
    def reserve(self, invocation: TaskInvocation) -> ActivityTicket:
        arn = invocation.resource.arn
        if arn not in self.activities:
            raise StateEvaluationError(f"The activity {arn} does not exist.")
        text = json.dumps(invocation.parameters, separators=(",", ":"), ensure_ascii=False)
        now = time.time()
        with self._cond:
            for task in self._orphans:
                if (task.execution_arn, task.state_name, task.activity_arn, task.input) == (
                        invocation.execution_arn, invocation.state_name, arn, text):
                    self._orphans.remove(task)
                    self._tasks[task.token] = task
                    return ActivityTicket(task.token, arn, adopted=True, elapsed=max(now - task.scheduled_at, 0.0),
                                          started=task.started_at is not None)
            assert invocation.task_token is not None
            task = ActivityTask(invocation.task_token, arn, invocation.execution_arn, invocation.state_name,
                                text, now)
            self._tasks[task.token] = task
        return ActivityTicket(task.token, arn)

    def publish(self, ticket: ActivityTicket, invocation: TaskInvocation) -> None:
        with self._cond:
            task = self._tasks.get(ticket.token)
            if task is None:
                return
            if not ticket.adopted:
                self.store.put("activity_task", task.token, task.to_record())
            self._queues.setdefault(task.activity_arn, deque()).append(task.token)
            self._cond.notify_all()

    def finished(self, ticket: ActivityTicket) -> None:
        with self._cond:
            task = self._tasks.pop(ticket.token, None)
            queue = self._queues.get(ticket.activity_arn)
            if queue is not None and ticket.token in queue:
                queue.remove(ticket.token)
            if task is not None and not self._closed:  # shutting down: kept for the next start
                self.store.delete("activity_task", ticket.token)

    def __call__(self, invocation: TaskInvocation) -> Any:
        raise StateEvaluationError("An activity task is scheduled by the engine, not invoked.")

    def heartbeat(self, token: str) -> None:
        """A worker's SendTaskHeartbeat: recorded, so a restart does not reset the clock."""
        with self._cond:
            task = self._tasks.get(token)
            if task is not None and task.started_at is not None:
                task.heartbeat_at = time.time()
                self.store.put("activity_task", token, task.to_record())

    # -- operations -----------------------------------------------------------------------
    def _activity(self, arn: str) -> Activity:
        if ACTIVITY_ARN.fullmatch(arn) is None:
            raise _invalid_arn(arn)
        activity = self.activities.get(arn)
        if activity is None:
            raise AwsError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return activity

    def CreateActivity(self, p: dict, ctx: RequestContext) -> dict:
        name = p["name"]
        self.check_name(name)
        arn = f"arn:aws:states:{ctx.region}:{ctx.account}:activity:{name}"
        tags = sfn_tag_map(p.get("tags"))
        if len(tags) > 50:
            raise AwsError("TooManyTags", "Too many tags: a resource takes at most 50", resourceName=arn)
        encryption = p.get("encryptionConfiguration")
        with self._cond:
            existing = self.activities.get(arn)
            if existing is not None:
                if (existing.encryption or None) != (encryption or None):
                    raise AwsError("ActivityAlreadyExists", f"Activity already exists: '{arn}'")
                return {"activityArn": arn, "creationDate": epoch(existing.creation_date)}
            activity = Activity(arn, name, time.time(), encryption)
            self.activities[arn] = activity
            self.store.put("activity", arn, activity.to_record())
        if tags:
            self.set_tags(arn, tags)
        return {"activityArn": arn, "creationDate": epoch(activity.creation_date)}

    def DescribeActivity(self, p: dict, ctx: RequestContext) -> dict:
        activity = self._activity(p["activityArn"])
        out: dict[str, Any] = {"activityArn": activity.arn, "name": activity.name,
                               "creationDate": epoch(activity.creation_date)}
        if activity.encryption:  # AWS's recorded answer has none when none was given
            out["encryptionConfiguration"] = activity.encryption
        return out

    def ListActivities(self, p: dict, ctx: RequestContext) -> dict:
        items = sorted(self.activities.values(), key=lambda a: (a.creation_date, a.arn))
        rows = [{"activityArn": a.arn, "name": a.name, "creationDate": epoch(a.creation_date)} for a in items]
        return paged(rows, p, "activityArn", "activities")

    def DeleteActivity(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["activityArn"]
        if ACTIVITY_ARN.fullmatch(arn) is None:
            raise _invalid_arn(arn)
        with self._cond:
            if self.activities.pop(arn, None) is not None:
                self.store.delete("activity", arn)
                self.set_tags(arn, None)
            self._cond.notify_all()  # pollers of a deleted activity stop waiting
        return {}

    def GetActivityTask(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["activityArn"]
        self._activity(arn)
        worker = p.get("workerName")
        deadline = time.monotonic() + self.poll_seconds
        with self._cond:
            while not self._closed and arn in self.activities:
                task = self._take(arn, worker)
                if task is not None:
                    return {"taskToken": task.token, "input": task.input}
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)  # releases the lock while it waits
        return {"taskToken": ""}

    def _take(self, arn: str, worker: str | None) -> ActivityTask | None:
        """The oldest task of ``arn`` still waiting for a worker, now this worker's (under the lock)."""
        queue = self._queues.get(arn)
        while queue:
            token = queue.popleft()
            task = self._tasks.get(token)
            if task is None or not self.tokens.start(token, worker):
                continue  # timed out or stopped meanwhile
            task.started_at = task.heartbeat_at = time.time()
            task.worker = worker
            self.store.put("activity_task", token, task.to_record())
            return task
        return None

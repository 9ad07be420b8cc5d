"""The workflow the viewer's tests watch: a Pass, a Distributed Map whose items a Lambda
function doubles, and an activity that waits for the test (so that a test sees the
execution running, then sees it finish, with no timing involved)."""

from __future__ import annotations

import json
from typing import Any

from endpoint_helpers import create_function, create_machine, unique

DOUBLE = "def handler(event, context):\n    return {'n': event, 'double': event * 2}\n"


def viewer_workflow(sfn: Any, lam: Any, items: int = 3) -> tuple[str, str]:
    """The state machine's ARN and the activity's ARN."""
    function = create_function(lam, DOUBLE)
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    activity = sfn.create_activity(name=unique("approve"))["activityArn"]
    definition = {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": {"items": list(range(1, items + 1))}, "Next": "Fan"},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.doubled", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": function_arn, "End": True}}},
            "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": activity, "ResultPath": "$.approval", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    }}
    return create_machine(sfn, definition), activity


def approve(sfn: Any, activity: str) -> None:
    """Answer the activity's one task (long-polls until the execution asks)."""
    while True:
        task = sfn.get_activity_task(activityArn=activity, workerName="viewer-test")
        if task.get("taskToken"):
            sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"approved": True}))
            return

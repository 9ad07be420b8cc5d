"""Activity tasks in the integration registry.

The local endpoint's activity service implements the engine's ``ActivityScheduler``
(``stepkit.engine.tasks``) and registers it under ``ACTIVITY_RESOURCES``; the engine
(``engine/activity_task.py``) drives it.
"""

#: The registry pattern that resolves every activity ARN to the scheduler.
ACTIVITY_RESOURCES = "arn:aws*:states:*:*:activity:*"

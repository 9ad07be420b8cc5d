"""``stepkit demo``: the ML pipeline end to end on an embedded local endpoint.

The same path a user takes: start the endpoint, deploy the repository's stack to it,
upload a dataset to the training trigger prefix, watch the training run that the upload
starts, upload a file to ``incoming/`` and watch the batch inference it starts, report.
"""

from stepkit.demo.pipeline import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]

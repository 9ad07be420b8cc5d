"""LocalStack's ``stepkit`` Lambda runtime executor (``LAMBDA_RUNTIME_EXECUTOR=stepkit``).

This package is installed into LocalStack's own virtual environment (see
``stepkit.localstack_plugin.host``), where LocalStack finds it through the entry point
``stepkit`` of the plux namespace ``localstack.lambda.runtime_executor``. It needs only the
standard library and LocalStack; the handlers run in a stepkit helper process started with
stepkit's Python (``STEPKIT_LOCALSTACK_PYTHON``).
"""

import atexit
import sys

from localstack.runtime import hooks
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class StepkitRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "stepkit"

    def load(self, *args, **kwargs):
        from .executor import StepkitRuntimeExecutor

        return StepkitRuntimeExecutor


#: Written to LocalStack's log when it has shut down; after it comes only the interpreter's
#: teardown (a garbage collection of a very large heap, several seconds), which
#: ``stepkit.localstack_plugin.host.stop`` does not wait for.
SHUTDOWN_MARK = "stepkit-localstack: shutdown complete"


@hooks.on_infra_start()
def stepkit_shutdown_mark() -> None:
    def mark() -> None:
        sys.stderr.write(SHUTDOWN_MARK + "\n")
        sys.stderr.flush()

    # Registered first, so it runs last: after LocalStack's own exit handlers and the helper's.
    atexit.register(mark)

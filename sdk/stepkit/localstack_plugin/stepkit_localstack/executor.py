"""A LocalStack ``RuntimeExecutor`` that runs Lambda functions in stepkit's runtime.

The seam: LocalStack's ``ExecutionEnvironment`` (``localstack.services.lambda_.invocation.
execution_environment``) owns one ``RuntimeExecutor`` per execution environment and calls
``start(env_vars)``, ``invoke(payload) -> InvocationResult`` and ``stop()`` on it; the version
manager calls the class methods ``prepare_version`` / ``cleanup_version`` when a function
version is created or removed. The Docker executor downloads LocalStack's Go runtime init
in ``prepare_version`` (which fails offline: "Installation of lambda-runtime ... failed") and
starts a container; this one needs neither: ``invoke`` returns the ``InvocationResult``
itself, computed by the stepkit helper process, so the HTTP executor endpoint that the Go
init posts to is not used at all.

Everything that invokes a function in LocalStack (Invoke, Step Functions tasks, S3
notifications, SQS and other event source mappings, Event invocations) goes through the
version manager to this executor.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import itertools
import json
import logging
import os
import subprocess
import threading
from concurrent.futures import Future
from typing import IO, Any

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

LOG = logging.getLogger(__name__)

#: The Python that runs the helper: one where stepkit and its dependencies are installed.
PYTHON_VARIABLE = "STEPKIT_LOCALSTACK_PYTHON"
#: Optional: a folder put first on the helper's PYTHONPATH (stepkit's ``sdk`` folder).
PATH_VARIABLE = "STEPKIT_LOCALSTACK_PYTHONPATH"
HELPER_MODULE = "stepkit.localstack_plugin.helper"
#: How long the helper may take to answer anything but an invocation.
CONTROL_TIMEOUT_S = 60.0


class HelperError(LambdaRuntimeException):
    pass


class HelperClient:
    """The stepkit helper process, shared by every execution environment of this LocalStack."""

    _instance: HelperClient | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> HelperClient:
        with cls._instance_lock:
            if cls._instance is None or not cls._instance.alive():
                cls._instance = cls(_helper_python())
            return cls._instance

    @classmethod
    def shutdown(cls) -> None:
        with cls._instance_lock:
            client, cls._instance = cls._instance, None
        if client is not None:
            client.close()

    def __init__(self, python: str) -> None:
        env = dict(os.environ)
        if extra := os.environ.get(PATH_VARIABLE):
            env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(
                [python, "-m", HELPER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise HelperError(f"Cannot start the stepkit helper with {python}: {exc}") from exc
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:  # made with PIPE for both: not expected
            self.process.kill()
            raise HelperError("The stepkit helper started without its pipes")
        self._stdin: IO[bytes] = stdin
        self._stdout: IO[bytes] = stdout
        self._seq = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._dead = False
        self._reader = threading.Thread(target=self._read, name="stepkit-helper-reader", daemon=True)
        self._reader.start()
        LOG.info("Started the stepkit Lambda helper (pid %s, %s)", self.process.pid, python)

    def alive(self) -> bool:
        return not self._dead and self.process.poll() is None

    def call(self, op: str, timeout: float | None = CONTROL_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            if self._dead:
                raise HelperError("The stepkit helper process has exited")
            seq = next(self._seq)
            self._pending[seq] = future
            line = json.dumps({"seq": seq, "op": op, **fields}) + "\n"
            try:
                self._stdin.write(line.encode())
                self._stdin.flush()
            except OSError as exc:
                self._pending.pop(seq, None)
                raise HelperError(f"The stepkit helper process is gone: {exc}") from exc
        answer = future.result(timeout=timeout)
        if not answer.get("ok"):
            raise HelperError(answer.get("error") or "the stepkit helper failed")
        return answer

    def close(self) -> None:
        with self._lock:
            self._dead = True
            with contextlib.suppress(OSError):
                self._stdin.close()  # the helper stops its workers and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _read(self) -> None:
        for line in self._stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                LOG.warning("Unreadable line from the stepkit helper: %r", line[:200])
                continue
            with self._lock:
                future = self._pending.pop(answer.get("seq"), None)
            if future is not None:
                future.set_result(answer)
        with self._lock:
            self._dead = True
            pending, self._pending = list(self._pending.values()), {}
        code = self.process.wait()
        for future in pending:
            future.set_exception(HelperError(f"The stepkit helper process exited (code {code})"))


atexit.register(HelperClient.shutdown)


def _helper_python() -> str:
    python = os.environ.get(PYTHON_VARIABLE, "").strip()
    if not python:
        raise HelperError(
            f"{PYTHON_VARIABLE} is not set: it names the Python (with stepkit installed) that runs handlers"
        )
    return python


def _gateway_host() -> str:
    host = config.GATEWAY_LISTEN[0].host
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _code_dir(function_version: FunctionVersion) -> str:
    code = function_version.config.code
    if code is None:
        raise LambdaRuntimeException("The stepkit executor runs zip functions only (no container images)")
    return str(code.get_unzipped_code_location())


class StepkitRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._spec: dict[str, Any] | None = None

    # -- life cycle (one per execution environment) ---------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        fv = self.function_version
        cfg = fv.config
        self._spec = {
            "id": self.id,
            "function_name": fv.id.function_name,
            "handler": cfg.handler,
            "runtime": cfg.runtime,
            "memory_size": cfg.memory_size,
            "timeout": cfg.timeout,
            "environment": dict(cfg.environment or {}),
            "architecture": (cfg.architectures or ["x86_64"])[0],
            "code_dir": _code_dir(fv),
            "layers": [str(layer.code.get_unzipped_code_location()) for layer in cfg.layers or []],
            "region": fv.id.region,
            "account": fv.id.account,
            "platform_env": {k: str(v) for k, v in env_vars.items()},
        }
        HelperClient.get().call("start", env=self._spec)

    def stop(self) -> None:
        client = HelperClient._instance
        if client is not None and client.alive():
            try:
                client.call("stop", id=self.id)
            except Exception as exc:
                LOG.debug("Could not stop stepkit environment %s: %s", self.id, exc)

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        if self._spec is None:
            raise LambdaRuntimeException(f"Execution environment {self.id} was not started")
        request_id = payload["invoke-id"]
        answer = HelperClient.get().call(
            "invoke",
            timeout=None,  # the helper enforces the function's timeout itself
            env=self._spec,
            request_id=request_id,
            arn=payload["invoked-function-arn"],
            payload=payload.get("payload"),
        )
        return InvocationResult(
            request_id=request_id,
            payload=base64.b64decode(answer["payload"]),
            is_error=answer.get("error_type") is not None,
            logs=answer.get("logs") or "",
        )

    def get_logs(self) -> str:
        client = HelperClient._instance
        if client is None or not client.alive():
            return ""
        try:
            return client.call("logs", id=self.id)["logs"]
        except Exception:
            return ""

    # -- addresses (only used for the environment variables of the function) --------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return _gateway_host()

    def get_runtime_endpoint(self) -> str:
        return f"http://{_gateway_host()}:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    # -- per function version ---------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip the code (and the layers) and make sure the helper runs; no runtime download."""
        cfg = function_version.config
        if not (cfg.runtime or "").startswith("python"):
            raise LambdaRuntimeException(
                f"The stepkit executor runs Python functions only, not runtime {cfg.runtime or 'image'}"
            )
        if cfg.code is None:
            raise LambdaRuntimeException("The stepkit executor runs zip functions only (no container images)")
        cfg.code.prepare_for_execution()
        for layer in cfg.layers or []:
            layer.code.prepare_for_execution()
        HelperClient.get().call("ping")

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # the provider removes the unzipped code; environments are stopped one by one

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            HelperClient.get().call("ping")
        except Exception as exc:
            LOG.warning("The stepkit Lambda executor cannot run functions: %s", exc)
            return False
        return True

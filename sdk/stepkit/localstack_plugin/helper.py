"""The stepkit side of LocalStack's ``stepkit`` runtime executor: a helper process that runs
LocalStack's Lambda execution environments as stepkit functions.

LocalStack (in its own virtual environment, without stepkit or pydantic) starts this module
with stepkit's Python as ``python -m stepkit.localstack_plugin.helper`` and talks to it over
the helper's standard input and output, one JSON object per line:

    request   {"seq": 7, "op": "invoke", "env": {...environment spec...}, "request_id": ...,
               "arn": ..., "payload": "<the event, as text>"}
    response  {"seq": 7, "ok": true, "payload": "<base64>", "error_type": null, "logs": "..."}
              {"seq": 7, "ok": false, "error": "...", "error_code": "ServiceException"}

Ops: ``start`` (register an execution environment), ``invoke`` (carries the spec too, so an
environment is re-created if this helper was restarted), ``stop``, ``logs``, ``ping``.

Each LocalStack execution environment (one "container", one invocation at a time) becomes one
:class:`~stepkit.runtime.function.LocalFunction` with a single warm worker, so LocalStack
keeps deciding how many environments a function has and when they stop (``LAMBDA_KEEPALIVE_MS``),
and stepkit runs the handler: Lambda's context, environment, timeout, memory limit, errors
and the log with START/END/REPORT. LocalStack's request id and invoked ARN are used as they
are, so the log and ``context.aws_request_id`` match what the caller got.

The helper ends when its standard input closes, which happens when LocalStack exits however
it exits; its workers then see their request pipe close and end too.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from stepkit.runtime.bundle import HOST as HOST_PLATFORM
from stepkit.runtime.bundle import MARKER as BUNDLE_MARKER
from stepkit.runtime.bundle import host_tag
from stepkit.runtime.calls import logs_with_calls
from stepkit.runtime.config import FunctionConfig, layer_site_dirs
from stepkit.runtime.deps import DependencyCache
from stepkit.runtime.environment import host_site_dirs
from stepkit.runtime.errors import LambdaServiceError
from stepkit.runtime.function import LocalFunction
from stepkit.runtime.interpreters import fallback_warning, platform_site, warn_once
from stepkit.runtime.interpreters import find_interpreter as interpreter_for
from stepkit.runtime.service import default_cache_dir

#: LocalStack's platform variables a worker gets on top of stepkit's own: the credentials of
#: the function's role and where LocalStack is, so boto3 in a handler talks to LocalStack.
PLATFORM_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "LOCALSTACK_HOSTNAME",
    "EDGE_PORT",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
)
#: Of those, the ones a function's own environment cannot replace (reserved in AWS).
RESERVED = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
    }
)


class Environments:
    """LocalStack's execution environments, by id, each a one-worker stepkit function."""

    def __init__(self, cache_dir: Path) -> None:
        self._deps = DependencyCache(cache_dir)
        self._functions: dict[str, LocalFunction] = {}
        self._last_logs: dict[str, str] = {}
        self._lock = threading.Lock()
        self._platform_site: Path | None = None
        self._platform_lock = threading.Lock()

    def ensure(self, spec: dict[str, Any]) -> LocalFunction:
        env_id = spec["id"]
        with self._lock:
            function = self._functions.get(env_id)
            if function is None:
                function = self._functions[env_id] = self._build(spec)
        return function

    def invoke(self, spec: dict[str, Any], request_id: str, arn: str, payload: bytes) -> dict[str, Any]:
        function = self.ensure(spec)
        run = function.run(request_id, payload, arn)
        # LocalStack writes these lines to CloudWatch Logs: with the AWS requests the code made,
        # as the local endpoint writes them, so `stepkit cost --execution` can price them.
        # LocalStack also takes Invoke's LogResult (the 4 KB tail) from the same text, so there the
        # tail ends with that line too (the local endpoint's LogResult has only the function's).
        logs = logs_with_calls(run.logs, request_id, run.aws_calls)
        self._last_logs[spec["id"]] = logs
        return {
            "payload": base64.b64encode(run.payload).decode(),
            "error_type": run.error_type,
            "logs": logs,
            "duration_ms": run.duration_ms,
            "init_duration_ms": run.init_duration_ms,
            "max_memory_used_mb": run.max_memory_used_mb,
        }

    def stop(self, env_id: str) -> None:
        with self._lock:
            function = self._functions.pop(env_id, None)
        self._last_logs.pop(env_id, None)
        if function is not None:
            function.close()

    def logs(self, env_id: str) -> str:
        return self._last_logs.get(env_id, "")

    def close(self) -> None:
        with self._lock:
            functions, self._functions = list(self._functions.values()), {}
        for function in functions:
            function.close()

    def _build(self, spec: dict[str, Any]) -> LocalFunction:
        runtime = str(spec.get("runtime") or "")
        built_for = bundle_platform(Path(spec["code_dir"]))
        if built_for.get("platform") == HOST_PLATFORM:
            # Built by stepkit for stepkit's runtime on this machine (``stepkit deploy --target
            # localstack``): the code and only what the host lacks, so it runs on this Python
            # with the host's packages, as under the local endpoint, whatever runtime it declares.
            python = sys.executable
            if built_for.get("python") not in (None, host_tag()):
                print(
                    f"stepkit: {spec['function_name']} was bundled for {built_for.get('python')}, this is "
                    f"{host_tag()}: what it vendors may not import here; deploy it again from this Python",
                    file=sys.stderr,
                )
        else:
            python = interpreter_for(runtime) or sys.executable
            warn_once(fallback_warning(runtime))
        same_python = python == sys.executable
        config = function_config(spec, install_requirements=same_python)
        # On this Python, the host's packages stand for the platform, as in stepkit's local
        # runtime. On another version, the package's own (binary) wheels are for that version
        # and only what Lambda's runtime provides (boto3, pure Python) is lent from here.
        platform_sites = host_site_dirs() if same_python else [str(self.platform_site())]
        layer_sites = [str(p) for p in layer_site_dirs(spec.get("layers", []), config.runtime)]
        overrides = platform_overrides(spec.get("platform_env", {}), config.environment)
        # Layers come before what the platform provides, as /opt/python does in Lambda.
        overrides["_STEPKIT_HOST_SITE"] = os.pathsep.join([*layer_sites, *platform_sites])
        return LocalFunction(
            config,
            region=spec["region"],
            env_overrides=overrides,
            deps=self._deps,
            default_concurrency=1,
            python=python,
        )

    def platform_site(self) -> Path:
        """A folder with only boto3 and its dependencies (links into this environment)."""
        with self._platform_lock:
            if self._platform_site is None:
                self._platform_site = platform_site(self._deps.root)
            return self._platform_site


def function_config(spec: dict[str, Any], *, install_requirements: bool = True) -> FunctionConfig:
    """The stepkit function for a LocalStack function version; its ``requirements.txt`` is
    installed (as stepkit's local runtime does) only when ``install_requirements`` and the
    package does not carry its dependencies already."""
    code_dir = Path(spec["code_dir"]).resolve()
    vendored = carries_dependencies(code_dir) or not install_requirements
    fields: dict[str, Any] = {
        "name": spec["function_name"],
        "code_dir": code_dir,
        "handler": spec["handler"],
        "runtime": spec["runtime"],
        "memory_size": spec["memory_size"],
        "timeout": spec["timeout"],
        "environment": {str(k): str(v) for k, v in (spec.get("environment") or {}).items()},
        "reserved_concurrency": 1,  # one LocalStack environment runs one invocation at a time
        "architecture": spec.get("architecture") or "x86_64",
        "max_retry_attempts": 0,  # LocalStack retries Event invocations itself
        "deps_dir": code_dir if vendored else None,  # the code folder itself: nothing to install
    }
    try:
        return FunctionConfig(**fields)
    except ValidationError as exc:
        if any(err["loc"] != ("handler",) for err in exc.errors()):
            raise
        # Lambda takes any handler string and fails at run time (Runtime.MalformedHandlerName),
        # and so does stepkit's worker: let it.
        return FunctionConfig.model_construct(**fields)


def bundle_platform(code_dir: Path) -> dict[str, Any]:
    """What a stepkit bundle says it was built for (its ``.stepkit-bundle.json``:
    ``{"platform": "host", "python": "cp311-x86_64", ...}``); ``{}`` for any other package."""
    try:
        data = json.loads((code_dir / BUNDLE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def carries_dependencies(code_dir: Path) -> bool:
    """A deployment package with its dependencies vendored at its root (``stepkit build``,
    ``pip install -t``) runs as it is; a folder of bare sources with a ``requirements.txt``
    gets them installed, as stepkit's local runtime does."""
    try:
        return any(p.name.endswith(".dist-info") for p in code_dir.iterdir())
    except OSError:
        return False


def platform_overrides(platform_env: dict[str, Any], function_env: dict[str, str]) -> dict[str, str]:
    overrides = {}
    for name in PLATFORM_VARIABLES:
        if name in platform_env and (name in RESERVED or name not in function_env):
            overrides[name] = str(platform_env[name])
    return overrides


class Server:
    def __init__(self, environments: Environments, out: IO[bytes]) -> None:
        self.environments = environments
        self._out = out
        self._write_lock = threading.Lock()

    def serve(self, requests: IO[bytes]) -> None:
        threads = []
        for line in requests:
            if not line.strip():
                continue
            message = json.loads(line)
            thread = threading.Thread(target=self._handle, args=(message,), daemon=True)
            thread.start()
            threads.append(thread)
            threads = [t for t in threads if t.is_alive()]

    def _handle(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        try:
            answer = {"seq": seq, "ok": True, **self._dispatch(message)}
        except LambdaServiceError as exc:
            answer = {"seq": seq, "ok": False, "error": exc.message, "error_code": exc.error_code}
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            answer = {
                "seq": seq,
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "error_code": "ServiceException",
            }
        data = (json.dumps(answer) + "\n").encode()
        with self._write_lock:
            self._out.write(data)
            self._out.flush()

    def _dispatch(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message["op"]
        envs = self.environments
        if op == "invoke":
            payload = (message.get("payload") or "").encode()
            if not payload.strip():
                payload = b"{}"  # Lambda hands an invocation without a payload the event {}
            return envs.invoke(message["env"], message["request_id"], message["arn"], payload)
        if op == "start":
            envs.ensure(message["env"])
            return {}
        if op == "stop":
            envs.stop(message["id"])
            return {}
        if op == "logs":
            return {"logs": envs.logs(message["id"])}
        if op == "ping":
            return {"pid": os.getpid(), "python": sys.executable}
        raise ValueError(f"unknown op {op!r}")


def main() -> int:
    # The protocol gets its own copy of stdout; anything else printed goes to stderr
    # (LocalStack's log), so a stray print cannot break a response.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    cache = os.environ.get("STEPKIT_LOCALSTACK_CACHE_DIR")
    environments = Environments(Path(cache) if cache else default_cache_dir())
    try:
        Server(environments, out).serve(sys.stdin.buffer)
    finally:
        environments.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

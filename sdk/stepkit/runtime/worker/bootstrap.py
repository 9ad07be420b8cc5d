"""The worker's life: set up ``sys.path``, logging and the handler (the INIT phase), then
serve invocations one at a time until the runtime closes the request pipe.

Everything printed goes to file descriptor 1, a log file the runtime reads after each
invocation, so output written by C code or child processes is captured too.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import site
import sys
from collections.abc import Callable
from typing import Any

from . import awscalls, faults, logsink, wire
from .context import LambdaContext

Handler = Callable[[Any, LambdaContext], Any]


def main(argv: list[str]) -> int:
    request_fd, response_fd = int(argv[0]), int(argv[1])
    env = os.environ
    deps_dir = env.pop("_STEPKIT_DEPS_DIR", "")
    layer_dirs = [p for p in env.pop("_STEPKIT_LAYER_DIRS", "").split(os.pathsep) if p]
    host_sites = [p for p in env.pop("_STEPKIT_HOST_SITE", "").split(os.pathsep) if p]
    _set_path(env["LAMBDA_TASK_ROOT"], deps_dir, host_sites, layer_dirs)
    sink = logsink.StandardLogSink()
    logsink.install(sink, env.get("AWS_LAMBDA_LOG_LEVEL"))
    awscalls.install()  # before the handler's module: the sessions it makes at import count too

    try:
        handler = _load_handler(env["_HANDLER"])
    except faults.Fault as fault:
        error = faults.make_error(fault.message, fault.error_type, fault.trace)
    except Exception as exc:
        error = faults.error_from_exception(exc, exc.__traceback__)
    else:
        wire.write_frame(response_fd, {"t": "ready", "rss": _max_rss_kb()})
        _serve(handler, wire.FrameReader(request_fd), response_fd, sink)
        return 0
    logsink.log_error(error, sink)
    reply = {"t": "init_error", "rss": _max_rss_kb(), "calls": awscalls.take()}
    wire.write_frame(response_fd, reply, json.dumps(error).encode())
    return 1


def _set_path(task_root: str, deps_dir: str, host_sites: list[str], layer_dirs: list[str]) -> None:
    """Lambda's order: the function's code, its own dependencies, its layers (``/opt/python``),
    the standard library, then what the platform provides (here: the host environment, as
    Lambda provides boto3)."""
    stdlib = [p for p in sys.path if p]
    sys.path[:] = [task_root, *([deps_dir] if deps_dir else []), *layer_dirs, *stdlib]
    for folder in host_sites:
        site.addsitedir(folder)


def _load_handler(name: str) -> Handler:
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as exc:
        raise faults.Fault(faults.MALFORMED_HANDLER_NAME, f"Bad handler '{name}': {exc}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise faults.Fault(
                faults.BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise faults.Fault(
            faults.IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise faults.Fault(
            faults.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise faults.Fault(
            faults.HANDLER_NOT_FOUND, f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None


def _serve(
    handler: Handler, requests: wire.FrameReader, response_fd: int, sink: logsink.StandardLogSink
) -> None:
    env = os.environ
    while True:
        frame = requests.read_frame()
        if frame is None:
            return
        header, body = frame
        request_id = header["id"]
        logsink.current_request_id = request_id
        env["_X_AMZN_TRACE_ID"] = header["trace"]
        error = None
        try:
            context = LambdaContext(request_id, header["deadline"], header["arn"])
            result = faults.marshal(handler(json.loads(body), context))
        except faults.Fault as fault:
            error = faults.make_error(fault.message, fault.error_type, fault.trace, request_id)
        except Exception as exc:
            error = faults.error_from_exception(exc, exc.__traceback__, request_id)
        if error is None:
            wire.write_frame(response_fd, {"t": "ok", "rss": _max_rss_kb(), "calls": awscalls.take()}, result)
        else:
            logsink.log_error(error, sink)
            reply = {"t": "error", "type": error["errorType"], "rss": _max_rss_kb(), "calls": awscalls.take()}
            wire.write_frame(response_fd, reply, json.dumps(error).encode())


def _open_status() -> int | None:
    try:
        return os.open("/proc/self/status", os.O_RDONLY)
    except OSError:
        return None


_STATUS_FD = _open_status()


def _max_rss_kb() -> int:
    """Peak resident memory of this process (the REPORT line's Max Memory Used).

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec``, so it
    would report the size of the process that started the worker.
    """
    if _STATUS_FD is not None:
        status = os.pread(_STATUS_FD, 4096, 0)
        start = status.find(b"VmHWM:")
        if start >= 0:
            return int(status[start + 6 : status.index(b"kB", start)])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes there, KiB on Linux

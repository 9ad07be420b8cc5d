"""The environment variables of a worker: Lambda's own, then the function's, then overrides."""

from __future__ import annotations

import os
import site
import time
from collections.abc import Mapping
from pathlib import Path
from uuid import uuid4

from stepkit.runtime.config import FunctionConfig

VERSION = "$LATEST"

#: Host variables a worker keeps: where programs are, credentials and endpoints for boto3,
#: and the tuning of numeric libraries (some machines need OPENBLAS_* to run numpy at all).
_PASS_THROUGH = ("PATH", "LD_LIBRARY_PATH", "TMPDIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN")
_PASS_THROUGH_PREFIXES = ("AWS_ENDPOINT_URL", "OPENBLAS_", "OMP_", "MKL_")


def host_site_dirs() -> list[str]:
    """The host's site-packages: the stand-in for what Lambda's platform provides (boto3, ...)."""
    return [d for d in site.getsitepackages() if os.path.isdir(d)]


def worker_environment(
    config: FunctionConfig,
    *,
    region: str,
    deps_dir: Path | None,
    overrides: Mapping[str, str],
    host: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    env = {k: v for k, v in host.items() if k in _PASS_THROUGH or k.startswith(_PASS_THROUGH_PREFIXES)}
    env.update(
        {
            "_HANDLER": config.handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": VERSION,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(),
            "LAMBDA_TASK_ROOT": str(config.code_dir),
            "LAMBDA_RUNTIME_DIR": str(Path(__file__).resolve().parent / "worker"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "_STEPKIT_HOST_SITE": os.pathsep.join(host_site_dirs()),
        }
    )
    if deps_dir is not None:
        env["_STEPKIT_DEPS_DIR"] = str(deps_dir)
    env.update(config.environment)
    env.update(overrides)
    return env


def log_stream_name() -> str:
    """One per worker, as Lambda names one per execution environment."""
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{VERSION}]{uuid4().hex}"

"""The environment variables of a worker: made from an allow-list, never inherited.

A worker gets, in this order (a later source wins):

1. From the host, only what a process needs to run on this machine at all: ``PATH``,
   ``LD_LIBRARY_PATH`` (where programs and native libraries are) and ``TMPDIR`` (where
   temporary files go, Lambda's ``/tmp``); and the tuning of numeric libraries
   (``OPENBLAS_*``, ``OMP_*``, ``MKL_*``: some machines need them to run numpy at all).
2. With ``host_aws`` only (``stepkit run``, ``stepkit invoke``): how this machine reaches
   AWS, so a function calling AWS behaves as any program run here would. That is every
   ``AWS_*`` variable (credentials, ``AWS_PROFILE``, ``AWS_CONFIG_FILE``,
   ``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_ENDPOINT_URL*``, ``AWS_CA_BUNDLE``, ...) but
   Lambda's own ``AWS_LAMBDA_*``, and the proxy variables.
3. Lambda's defined variables (``_HANDLER``, ``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``,
   ``LAMBDA_TASK_ROOT``, ...), with this runtime's values.
4. The function's own variables (its ``Environment``).
5. The runtime's overrides: the local endpoint gives its URL and its test credentials
   (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), as Lambda
   gives a function its role's credentials; a function may not replace those.

Anything else of the host (``HOME``, ``AWS_*`` outside ``host_aws``, the host's other
settings and secrets) is left out: a variable a function needs goes in its own
environment (``infra/stack.yaml``), as it would on AWS. Without ``host_aws`` (the endpoint's
runtime, LocalStack's) a worker owes nothing to the host's AWS configuration, in variables
or in ``~/.aws`` (``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE`` name no file): an
``AWS_ENDPOINT_URL_S3`` the host set for another purpose cannot redirect a function's S3
client, and the host's session token or profile cannot be used by code deployed to the
endpoint.
"""

from __future__ import annotations

import os
import site
import time
from collections.abc import Mapping
from pathlib import Path
from uuid import uuid4

from stepkit.runtime.config import FunctionConfig

VERSION = "$LATEST"

#: What a process needs from this machine to run: where programs, native libraries and
#: temporary files are.
HOST_SYSTEM = frozenset({"PATH", "LD_LIBRARY_PATH", "TMPDIR"})
#: Thread counts and kernels of numeric libraries.
HOST_TUNING_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_")
#: With ``host_aws``: the host's AWS configuration (all of botocore's ``AWS_*`` settings)...
HOST_AWS_PREFIX = "AWS_"
#: ... except the variables of Lambda's own namespace, which only the runtime sets...
LAMBDA_PREFIX = "AWS_LAMBDA_"
#: ... and the proxies the host's own AWS clients go through.
HOST_PROXIES = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
                          "http_proxy", "https_proxy", "no_proxy", "all_proxy"})


#: Without ``host_aws``: boto3's config and credentials files, which it would otherwise read
#: from the host user's ``~/.aws`` (found through the password database even without ``HOME``).
NO_AWS_FILES = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def host_site_dirs() -> list[str]:
    """The host's site-packages: the stand-in for what Lambda's platform provides (boto3, ...)."""
    return [d for d in site.getsitepackages() if os.path.isdir(d)]


def from_host(name: str, *, host_aws: bool) -> bool:
    """Whether a worker keeps the host's variable ``name`` (see the module's docstring)."""
    if name in HOST_SYSTEM or name.startswith(HOST_TUNING_PREFIXES):
        return True
    if not host_aws:
        return False
    if name.startswith(HOST_AWS_PREFIX):
        return not name.startswith(LAMBDA_PREFIX)
    return name in HOST_PROXIES


def worker_environment(
    config: FunctionConfig,
    *,
    region: str,
    deps_dir: Path | None,
    overrides: Mapping[str, str],
    host_aws: bool = False,
    host: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    env = {k: v for k, v in host.items() if from_host(k, host_aws=host_aws)}
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
    if config.layer_dirs:
        env["_STEPKIT_LAYER_DIRS"] = os.pathsep.join(str(path) for path in config.layer_dirs)
    if not host_aws:  # no ~/.aws in Lambda's execution environment: boto3 must not find the host's
        env.update(NO_AWS_FILES)
    env.update(config.environment)
    env.update(overrides)
    return env


def log_stream_name() -> str:
    """One per worker, as Lambda names one per execution environment."""
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{VERSION}]{uuid4().hex}"

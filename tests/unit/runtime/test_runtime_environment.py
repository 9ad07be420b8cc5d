"""What a worker's environment keeps of the host's: an allow-list, with the host's AWS
configuration only for ``host_aws`` (``stepkit run``/``invoke``)."""

import os
from pathlib import Path

from stepkit.runtime import FunctionConfig
from stepkit.runtime.environment import worker_environment

#: A host set up for something else entirely: every variable here is a way a worker could
#: end up talking to the wrong place, or with the wrong identity.
HOSTILE = {
    "PATH": "/usr/local/bin:/usr/bin",
    "LD_LIBRARY_PATH": "/opt/lib",
    "TMPDIR": "/var/tmp/me",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "2",
    "MKL_CBWR": "AUTO",
    "HOME": "/home/me",
    "GITHUB_TOKEN": "ghp_secret",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_PROFILE": "production",
    "AWS_CONFIG_FILE": "/home/me/.aws/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/home/me/.aws/credentials",
    "AWS_ACCESS_KEY_ID": "AKIAHOST",
    "AWS_SECRET_ACCESS_KEY": "host-secret",
    "AWS_SESSION_TOKEN": "host-token",
    "AWS_ENDPOINT_URL": "http://10.0.0.1:4566",
    "AWS_ENDPOINT_URL_S3": "http://minio.internal:9000",
    "AWS_CA_BUNDLE": "/etc/ssl/corp.pem",
    "AWS_REGION": "ap-south-1",
    "AWS_DEFAULT_REGION": "ap-south-1",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
    "AWS_LAMBDA_FUNCTION_NAME": "someone-else",
    "HTTPS_PROXY": "http://proxy.corp:3128",
    "no_proxy": "localhost",
    "PYTHONPATH": "/home/me/lib",
}
ENDPOINT = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def _config(**fields: object) -> FunctionConfig:
    return FunctionConfig(name="f", code_dir=Path("/code"), **fields)  # type: ignore[arg-type]


def _lambda_names(env: dict[str, str]) -> set[str]:
    return {k for k in env if k.startswith(("AWS_LAMBDA_", "_", "LAMBDA_"))} | {
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LANG", "TZ"}


def test_the_endpoints_worker_keeps_nothing_of_the_hosts_aws_configuration() -> None:
    env = worker_environment(_config(environment={"GREETING": "hi"}), region="us-east-1", deps_dir=None,
                             overrides=ENDPOINT, host=HOSTILE)
    no_files = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    kept = set(env) - _lambda_names(env) - set(ENDPOINT) - set(no_files) - {"GREETING"}
    assert kept == {"PATH", "LD_LIBRARY_PATH", "TMPDIR", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_CBWR"}
    assert {k: env[k] for k in ENDPOINT} == ENDPOINT
    assert {k: env[k] for k in no_files} == no_files  # not even the host user's ~/.aws
    assert "AWS_SESSION_TOKEN" not in env and "AWS_ENDPOINT_URL_S3" not in env and "AWS_PROFILE" not in env
    assert env["AWS_REGION"] == "us-east-1" and env["AWS_LAMBDA_FUNCTION_NAME"] == "f"
    assert "AWS_LAMBDA_RUNTIME_API" not in env and env["GREETING"] == "hi"


def test_without_overrides_a_worker_has_no_aws_credentials_at_all() -> None:
    env = worker_environment(_config(), region="eu-west-1", deps_dir=None, overrides={}, host=HOSTILE)
    assert not {k for k in env if k.startswith("AWS_") and not k.startswith("AWS_LAMBDA_")} - {
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"}


def test_host_aws_keeps_the_hosts_aws_configuration_and_proxies_but_not_lambdas_names() -> None:
    env = worker_environment(_config(), region="us-east-1", deps_dir=None, overrides={}, host_aws=True,
                             host=HOSTILE)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE", "HTTPS_PROXY", "no_proxy"):
        assert env[name] == HOSTILE[name], name
    # Lambda's own variables are the runtime's, whatever the host says.
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "f" and "AWS_LAMBDA_RUNTIME_API" not in env
    # Still not the rest of the host.
    assert not {"HOME", "GITHUB_TOKEN", "PYTHONPATH"} & set(env)


def test_a_functions_own_variables_win_over_the_host_and_overrides_win_over_both() -> None:
    config = _config(environment={"AWS_ENDPOINT_URL_S3": "http://mine:9000", "OMP_NUM_THREADS": "8"})
    env = worker_environment(config, region="us-east-1", deps_dir=None, overrides=ENDPOINT, host_aws=True,
                             host=HOSTILE)
    assert env["AWS_ENDPOINT_URL_S3"] == "http://mine:9000" and env["OMP_NUM_THREADS"] == "8"
    assert env["AWS_ACCESS_KEY_ID"] == "test" and env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"

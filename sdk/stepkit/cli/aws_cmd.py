"""``stepkit aws ...``: the aws CLI against the endpoint, as LocalStack's ``awslocal``.

The endpoint follows the one rule (:func:`stepkit.cli.common.endpoint_url`) and is passed as
``--endpoint-url`` explicitly: the aws CLI v1 honours ``AWS_ENDPOINT_URL`` for some services
only (SQS goes to its legacy global endpoint whatever it says). Credentials and a region
are filled in when the environment has none, since an emulator accepts any.

Exit codes: the aws CLI's own; 2 when no aws CLI is installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import click

from stepkit.cli.common import EXIT_USAGE, endpoint_option, fail
from stepkit.cli.common import endpoint_url as resolve_endpoint

#: What an emulator is given when the environment names no credentials or region.
_DEFAULTS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def aws_command_line() -> list[str]:
    """How to run the aws CLI: v1 installed with this Python (the ``aws`` extra), else an
    ``aws`` on PATH (v1 or v2)."""
    if importlib.util.find_spec("awscli") is not None:
        return [sys.executable, "-m", "awscli"]
    found = shutil.which("aws")
    if found is None:
        fail("the aws CLI is not installed: pip install 'stepkit[aws]', or install the AWS CLI v2",
             kind="MissingExtra", exit_code=EXIT_USAGE, extra="aws")
    return [found]


def aws_environment(url: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    if not env.get("AWS_PROFILE"):
        for name, value in _DEFAULTS.items():
            env.setdefault(name, value)
    if not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["AWS_ENDPOINT_URL"] = url
    return env


@click.command("aws", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@endpoint_option
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED, metavar="AWS_ARGUMENTS...")
def aws_command(endpoint_url: str | None, arguments: tuple[str, ...]) -> None:
    """Run the aws CLI against the endpoint, like LocalStack's awslocal:

        stepkit aws s3 ls
        stepkit aws sqs create-queue --queue-name jobs
        stepkit aws stepfunctions list-executions --state-machine-arn ARN

    --endpoint-url (before the aws arguments) chooses the endpoint; test credentials and
    us-east-1 are used when none are set. The aws CLI's output, options (--output json)
    and exit code are its own."""
    url = resolve_endpoint(endpoint_url)
    given = any(a == "--endpoint-url" or a.startswith("--endpoint-url=") for a in arguments)
    command = [*aws_command_line(), *([] if given else ["--endpoint-url", url]), *arguments]
    try:
        completed = subprocess.run(command, env=aws_environment(url), check=False)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(completed.returncode)


COMMANDS = [aws_command]

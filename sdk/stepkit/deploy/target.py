"""Targets are an endpoint, credentials, and where the deployed code runs; nothing else.

- ``local``: the stepkit endpoint (``stepkit up``), ``$STEPKIT_ENDPOINT_URL`` or http://127.0.0.1:4566
- ``localstack``: ``$AWS_ENDPOINT_URL`` or http://localhost:4566
- ``aws``: boto3's own credential chain and endpoints (which honour ``AWS_ENDPOINT_URL`` too)

Where the code runs decides what its bundle holds (:mod:`stepkit.runtime.bundle`):

- ``host``: stepkit's runtime on this machine (the local endpoint; LocalStack started by
  stepkit, whose Lambda executor is stepkit's runtime): the code, and only the
  requirements this environment does not already satisfy.
- ``lambda``: Lambda's own platform (AWS; a LocalStack that runs Lambda's images): every
  requirement as wheels for the function's declared runtime and architecture.

The default is ``host`` for ``local`` and ``localstack``, ``lambda`` for ``aws``;
``--code-platform`` (``$STEPKIT_CODE_PLATFORM``) says otherwise, e.g. for a LocalStack
running in Docker.

:func:`connect` checks, before anything is touched, that there are credentials and that the
endpoint answers, and learns the account the deploy goes to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from stepkit.deploy.errors import TargetError
from stepkit.deploy.naming import partition_of
from stepkit.runtime.bundle import HOST, LAMBDA, PLATFORMS

TARGETS = ("local", "localstack", "aws")
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCALSTACK_ENDPOINT = "http://localhost:4566"
DEFAULT_REGION = "us-east-1"
#: Account of emulators that do not answer STS (the local endpoint's default, as moto's).
EMULATOR_ACCOUNT = "123456789012"
#: Where each target runs the deployed code, unless told otherwise.
DEFAULT_CODE_PLATFORM = {"local": HOST, "localstack": HOST, "aws": LAMBDA}


@dataclass(frozen=True)
class Target:
    name: str
    endpoint_url: str | None
    region: str
    profile: str | None = None
    code_platform: str = HOST
    """Where the deployed functions run: ``host`` (stepkit's runtime here) or ``lambda``."""

    @classmethod
    def resolve(cls, name: str, *, region: str | None = None, profile: str | None = None,
                stack_region: str | None = None, environ: Mapping[str, str] | None = None,
                code_platform: str | None = None) -> Target:
        env = os.environ if environ is None else environ
        if name not in TARGETS:
            raise TargetError(f"unknown target {name!r}; use one of: {', '.join(TARGETS)}")
        platform = code_platform or env.get("STEPKIT_CODE_PLATFORM") or DEFAULT_CODE_PLATFORM[name]
        if platform not in PLATFORMS:
            raise TargetError(f"unknown code platform {platform!r} (--code-platform / STEPKIT_CODE_PLATFORM); "
                              f"use one of: {', '.join(PLATFORMS)}")
        if name == "local":
            endpoint: str | None = env.get("STEPKIT_ENDPOINT_URL") or LOCAL_ENDPOINT
        elif name == "localstack":
            endpoint = env.get("AWS_ENDPOINT_URL") or LOCALSTACK_ENDPOINT
        else:
            endpoint = None
        chosen = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if chosen is None and name == "aws":
            try:
                chosen = boto3.Session(profile_name=profile).region_name
            except botocore.exceptions.ProfileNotFound as exc:
                raise TargetError(f"{exc}; name a profile of ~/.aws/config with --profile") from None
        return cls(name=name, endpoint_url=endpoint, region=chosen or stack_region or DEFAULT_REGION,
                   profile=profile, code_platform=platform)

    def describe(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"{self.name} ({where}, {self.region}, code for {self.code_platform})"


@dataclass
class Connection:
    """Clients of one target; ``account`` and ``partition`` as the target reports them."""

    target: Target
    session: Any
    account: str
    partition: str
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.target.region, endpoint_url=self.target.endpoint_url,
                config=Config(retries={"max_attempts": 6, "mode": "standard"}, connect_timeout=5, read_timeout=60),
            )
        return self._clients[service]


def connect(target: Target) -> Connection:
    """A connection to ``target``; raises :class:`TargetError` naming what to fix."""
    try:
        session = boto3.Session(profile_name=target.profile, region_name=target.region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise TargetError(f"{exc}; name a profile of ~/.aws/config with --profile") from None
    if target.name != "aws" and session.get_credentials() is None:
        # Emulators accept any key; these never leave the machine.
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                region_name=target.region)
    if target.name == "aws" and session.get_credentials() is None:
        raise TargetError(
            "no AWS credentials found for --target aws: set AWS_PROFILE (or pass --profile), run "
            "`aws configure` or `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    probe = session.client("sts", region_name=target.region, endpoint_url=target.endpoint_url,
                           config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=10))
    try:
        identity = probe.get_caller_identity()
        account, arn = identity["Account"], identity.get("Arn", "")
    except botocore.exceptions.EndpointConnectionError:
        raise TargetError(_unreachable(target)) from None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as exc:
        raise TargetError(f"{exc}: configure credentials for --target {target.name} (AWS_PROFILE, --profile, "
                          "`aws configure`)") from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if target.name == "aws" or code in ("InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch"):
            raise TargetError(f"the credentials for --target {target.name} were refused ({code}): refresh them "
                              "(`aws sso login`, new keys) or choose another --profile") from None
        account, arn = EMULATOR_ACCOUNT, ""  # an emulator without STS
    except botocore.exceptions.BotoCoreError as exc:
        raise TargetError(f"{_unreachable(target)} ({exc})") from None
    partition = arn.split(":")[1] if arn.startswith("arn:") else partition_of(target.region)
    return Connection(target=target, session=session, account=account, partition=partition)


def _unreachable(target: Target) -> str:
    if target.name == "local":
        return (f"cannot reach the local endpoint at {target.endpoint_url}: start it with `stepkit up` "
                "(or set STEPKIT_ENDPOINT_URL to where it listens)")
    if target.name == "localstack":
        return (f"cannot reach LocalStack at {target.endpoint_url}: start it, or set AWS_ENDPOINT_URL to "
                "where it listens")
    return f"cannot reach AWS in {target.region}: check the network, the region and AWS_ENDPOINT_URL"

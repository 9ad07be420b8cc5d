"""A moto server standing in for the target's AWS endpoint, and copies of the test stacks."""

from __future__ import annotations

import logging
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

STACKS = Path(__file__).resolve().parents[2] / "fixtures" / "stacks"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto server as the local endpoint (and as AWS, for --target aws)."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("STEPKIT_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("STEPKIT_TARGET", raising=False)
    monkeypatch.delenv("STEPKIT_STAGE", raising=False)
    return moto_url


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "pipe"
    shutil.copytree(STACKS / "pipeline", root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("PIPE_API_TOKEN", "tok-not-for-logs-4711")
    return root


class Aws:
    """boto3 clients of the moto server, to check what a deploy left there."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def inventory(self) -> dict[str, list[str]]:
        """Every resource of the kinds stepkit deploys, by kind."""
        lam, sfn = self("lambda"), self("stepfunctions")
        return {
            "functions": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]),
            "state_machines": sorted(m["name"] for m in sfn.list_state_machines()["stateMachines"]),
            "roles": sorted(r["RoleName"] for r in self("iam").list_roles()["Roles"]),
            "buckets": sorted(b["Name"] for b in self("s3").list_buckets()["Buckets"]),
            "queues": sorted(u.rsplit("/", 1)[-1] for u in self("sqs").list_queues().get("QueueUrls", [])),
            "rules": sorted(r["Name"] for r in self("events").list_rules()["Rules"]),
            "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]],
            "log_groups": sorted(g["logGroupName"] for g in self("logs").describe_log_groups()["logGroups"]),
        }


@pytest.fixture
def aws(endpoint: str) -> Aws:
    return Aws(endpoint)

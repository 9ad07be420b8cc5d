"""``LocalEndpoint``: the whole local AWS endpoint, on 127.0.0.1 only.

>>> with LocalEndpoint() as endpoint:          # a free port, a temporary state dir
...     sfn = boto3.client("stepfunctions", endpoint_url=endpoint.url, region_name="us-east-1")

``stepkit up`` runs the same thing in the foreground on port 4566.

moto's state is process-wide: two endpoints in one process share their S3 buckets and
SQS queues (their Step Functions and Lambda records are their own).
"""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from stepkit.endpoint.app import EndpointApp
from stepkit.endpoint.events import Deliveries, SqsPollers, install_moto_hooks, uninstall_moto_hooks
from stepkit.endpoint.lambda_service import LambdaService
from stepkit.endpoint.moto_backend import MotoBackend
from stepkit.endpoint.protocol import DEFAULT_ACCOUNT, DEFAULT_REGION
from stepkit.endpoint.stepfunctions import StepFunctionsService
from stepkit.endpoint.store import Store
from stepkit.engine.callbacks import TaskTokens
from stepkit.integrations.aws import register_aws_integrations
from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runtime import LambdaRuntime

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 4566


class _QuietHandler(MotoRequestHandler):
    """moto's request handler (it keeps S3 metadata headers with underscores), without a log line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_request(*args, **kwargs)


class LocalEndpoint:
    """Step Functions and Lambda served by stepkit, the rest by moto, at ``self.url``."""

    def __init__(
        self,
        port: int = 0,
        state_dir: Path | str | None = None,
        *,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        persist_moto: bool | None = None,
    ) -> None:
        self.port = port
        self._temp = state_dir is None
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.region = region
        self.account = account
        self.persist_moto = (state_dir is not None) if persist_moto is None else persist_moto
        self.url = ""
        self.started_in: float | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._stream_id = uuid.uuid4().hex

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> LocalEndpoint:
        began = time.perf_counter()
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="stepkit-endpoint-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = make_server(HOST, self.port, self._not_ready, threaded=True,
                                       request_handler=_QuietHandler)
        except SystemExit:  # werkzeug's answer to a port in use (it has printed why)
            raise OSError(errno.EADDRINUSE, f"port {self.port} is in use") from None
        self.port = self._server.server_port
        self.url = f"http://{HOST}:{self.port}"
        self.store = Store(self.state_dir / "stepkit.db")
        self.moto = MotoBackend(self.state_dir / "moto.pickle" if self.persist_moto else None)
        self.moto_restored = self.moto.restore()

        service_holder: list[LambdaService] = []
        self.runtime = LambdaRuntime(
            region=self.region,
            account_id=self.account,
            env_overrides={"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "test",
                           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": self.region},
            cache_dir=self.state_dir / "site",
            on_async_complete=lambda invocation: service_holder[0].on_async_complete(invocation),
        )
        self.lambda_service = LambdaService(
            self.store, self.state_dir, self.runtime, region=self.region, account=self.account,
            code_url=lambda sha: f"{self.url}/_stepkit/lambda-code/{sha}.zip",
            s3_object=self._s3_object,
            send_to_queue=lambda arn, body: self.send_to_queue(arn, body, {}),
            write_logs=self._write_logs,
        )
        service_holder.append(self.lambda_service)
        self.tokens = TaskTokens()
        self.stepfunctions = StepFunctionsService(self.store, self._registry, self.tokens)
        self.deliveries = Deliveries(
            self.store,
            self.stepfunctions.StartExecution,
            lambda arn, body: self.lambda_service.invoke(arn, body, invocation_type="Event"),
            self.send_to_queue,
        )
        self.pollers = SqsPollers(lambda: self.client("sqs"), lambda arn, body: self.lambda_service.invoke(arn, body),
                                  self.region)
        self.lambda_service.pollers = self.pollers
        self.app = EndpointApp(self.stepfunctions.app, self.lambda_service, self.moto, self.lambda_service.code_zip)
        install_moto_hooks(self.deliveries, self.account)

        self.lambda_service.load()
        running = self.stepfunctions.load()
        self._server.app = self.app
        self._thread = threading.Thread(target=self._server.serve_forever, name="stepkit-endpoint", daemon=True)
        self._thread.start()
        self._started = True
        self.stepfunctions.resume_all(running)
        self.resumed = len(running)
        self.lambda_service.start_mappings()
        self.deliveries.start()
        self.moto.start_writer()
        self.started_in = time.perf_counter() - began
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.pollers.close()
        self.deliveries.close()
        self.stepfunctions.close()
        uninstall_moto_hooks(self.deliveries)
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self.runtime.close()
        self.moto.close()
        self.store.close()
        if self._temp and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no execution runs and no delivery is pending (for tests and demos)."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        return self.deliveries.wait_idle(left()) and self.stepfunctions.wait_idle(left())

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b'{"__type":"ServiceUnavailable","message":"starting"}']

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client on this endpoint (test credentials)."""
        return boto3.client(
            service, endpoint_url=self.url, region_name=region or self.region, aws_access_key_id="test",
            aws_secret_access_key="test", config=Config(inject_host_prefix=False, retries={"max_attempts": 2}),
        )

    def _registry(self) -> IntegrationRegistry:
        registry = IntegrationRegistry()
        register_aws_integrations(registry, self.url, region=self.region)
        registry.set_lambda_backend(LambdaRuntimeIntegration(self.lambda_service))  # type: ignore[arg-type]
        return registry

    def _s3_object(self, bucket: str, key: str, version: str | None) -> bytes:
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        try:
            return self.client("s3").get_object(**params)["Body"].read()
        except Exception as exc:
            raise KeyError(key) from exc

    def _write_logs(self, function: str, text: str) -> None:
        """A function's log lines into CloudWatch Logs (moto): ``aws logs tail /aws/lambda/NAME`` works."""
        from moto.logs.models import logs_backends

        now = int(time.time() * 1000)
        group = f"/aws/lambda/{function}"
        stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{self._stream_id}"
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line.strip()]
        if not events:
            return
        with self.moto.direct():
            backend = logs_backends[self.account][self.region]
            backend.ensure_log_group(group)
            backend.ensure_log_stream(group, stream)
            backend.put_log_events(group, stream, events)

    def send_to_queue(self, queue_arn: str, body: str, attributes: dict[str, Any]) -> None:
        parts = queue_arn.split(":")
        sqs = self.client("sqs", parts[3])
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        message_attributes = {k: {"DataType": "String", "StringValue": str(v)} for k, v in attributes.items() if v}
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=message_attributes)

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state_dir": str(self.state_dir),
            "services": self.app.services(),
            "resumed_executions": self.resumed,
            "moto_backends_restored": self.moto_restored,
            "started_in_s": round(self.started_in or 0.0, 3),
        }


def serve(port: int = DEFAULT_PORT, state_dir: Path | str = ".stepkit", *, announce: Any = None) -> int:
    """Run an endpoint in the foreground until SIGINT/SIGTERM; ``announce(endpoint)`` once it serves."""
    import signal

    endpoint = LocalEndpoint(port, state_dir)
    try:
        endpoint.start()
    except OSError as exc:
        raise SystemExit(f"stepkit: cannot serve on {HOST}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if announce is not None:
        announce(endpoint)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        endpoint.stop()
    return 0

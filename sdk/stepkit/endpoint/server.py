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
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from stepkit.endpoint.apigateway import is_user_api_request
from stepkit.endpoint.guard import RequestGuard
from stepkit.engine.clock import Clock, VirtualClock
from stepkit.viewer.task_logs import InvocationLedger

if TYPE_CHECKING:
    from stepkit.endpoint.app import EndpointApp
    from stepkit.integrations.registry import IntegrationRegistry

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 4566


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's request handler without a log line per request. Once moto is loaded, its
    handler (which keeps S3 metadata headers with underscores) takes over."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_request(*args, **kwargs)


def _moto_handler() -> type[WSGIRequestHandler]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietMotoHandler(MotoRequestHandler):
        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            environ["stepkit.headers"] = list(self.headers.items())  # as sent: API Gateway's events show them
            return environ

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            if log.isEnabledFor(logging.DEBUG):
                super().log_request(*args, **kwargs)

    return QuietMotoHandler


class LocalEndpoint:
    """Step Functions and Lambda served by stepkit, the rest by moto, at ``self.url``."""

    def __init__(
        self,
        port: int = 0,
        state_dir: Path | str | None = None,
        *,
        region: str = "us-east-1",
        account: str = "123456789012",
        persist_moto: bool | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``clock``: the time scheduled rules fire by (a ``VirtualClock`` lets a test move it
        forward with ``advance_clock`` instead of waiting); real time by default."""
        self.port = port
        self.clock = clock if clock is not None else Clock()
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
        self._ready = threading.Event()
        self._serving = threading.Event()
        self._failure: BaseException | None = None
        self.app: EndpointApp | None = None
        self.listening_in: float | None = None
        self.resumed = 0
        self.invocation_ledger = InvocationLedger()  # the viewer's: which request id each Task state got
        self.moto_restored = 0

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, wait: bool = True) -> LocalEndpoint:
        """Bind 127.0.0.1 and serve. The port answers at once; the services are built right
        after (``wait=False``: on a thread, requests meanwhile wait for them; ``wait_ready``)."""
        began = time.perf_counter()
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="stepkit-endpoint-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = make_server(HOST, self.port, self._dispatch, threaded=True, request_handler=_QuietHandler)
        except SystemExit:  # werkzeug's answer to a port in use (it has printed why)
            raise OSError(errno.EADDRINUSE, f"port {self.port} is in use") from None
        self.port = self._server.server_port
        self.url = f"http://{HOST}:{self.port}"
        # The user's own APIs (API Gateway, function URLs) follow their own CORS and need no signature.
        self.guard = RequestGuard.from_environment(self.port, user_api=is_user_api_request)
        self._guarded = self.guard.wrap(self._serve)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stepkit-endpoint", daemon=True)
        self._thread.start()
        self._started = True
        self.listening_in = time.perf_counter() - began
        if wait:
            self._build(began)
            if self._failure is not None:
                self.stop()
                raise self._failure
        else:
            threading.Thread(target=self._build, args=(began,), name="stepkit-endpoint-build", daemon=True).start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the services are built (raises what stopped them from being built)."""
        ready = self._ready.wait(timeout)
        if self._failure is not None:
            raise self._failure
        return ready

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Every request passes the guard (origin, host, signature) before anything else."""
        return self._guarded(environ, start_response)

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self._serving.is_set():
            self._serving.wait(120)
        if self.app is None:
            body = b'{"__type":"ServiceUnavailable","message":"the stepkit endpoint could not start"}'
            start_response("503 Service Unavailable", [("Content-Type", "application/x-amz-json-1.0"),
                                                       ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)

    def _build(self, began: float) -> None:
        try:
            self._assemble()
        except BaseException as exc:  # the port stays up, answering 503 with the reason logged
            log.exception("the stepkit endpoint could not start")
            self._failure = exc
        finally:
            self.started_in = time.perf_counter() - began
            self._serving.set()
            self._ready.set()

    def _assemble(self) -> None:
        from stepkit.aws_sessions import isolate_moto_sessions
        from stepkit.endpoint.app import EndpointApp
        from stepkit.endpoint.events import Deliveries, install_moto_hooks
        from stepkit.endpoint.lambda_service import LambdaService
        from stepkit.endpoint.moto_backend import MotoBackend
        from stepkit.endpoint.stepfunctions import StepFunctionsService
        from stepkit.endpoint.store import Store
        from stepkit.runtime import LambdaRuntime

        assert self.state_dir is not None and self._server is not None
        isolate_moto_sessions()  # the endpoint owes nothing to the host's AWS configuration
        self.store = Store(self.state_dir / "stepkit.db")
        self.moto = MotoBackend(self.state_dir / "moto.pickle" if self.persist_moto else None)
        self.moto_restored = self.moto.restore(self.account)
        self._server.RequestHandlerClass = _moto_handler()

        service_holder: list[LambdaService] = []
        self.runtime = LambdaRuntime(
            region=self.region,
            account_id=self.account,
            # Workers reach this endpoint with its test credentials, and nothing of the host's AWS.
            env_overrides={"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "test",
                           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": self.region},
            host_aws=False,
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
        self.stepfunctions = StepFunctionsService(self.store, self._noting_registry)
        self.tokens = self.stepfunctions.tokens
        self.deliveries = Deliveries(
            self.store,
            self.stepfunctions.StartExecution,
            lambda arn, body: self.lambda_service.invoke(arn, body, invocation_type="Event"),
            self.send_to_queue,
            publish=lambda arn, message: self.client("sns", arn.split(":")[3]).publish(TopicArn=arn, Message=message),
        )
        app = EndpointApp(self.stepfunctions.app, self.lambda_service, self.moto, self.lambda_service.code_zip)
        from stepkit.endpoint.apigateway import ApiGateway

        app.apis = self.apis = ApiGateway(self.lambda_service.invoke, self.moto.lock,
                                         function_urls=self.lambda_service.urls.lookup)
        from stepkit.viewer.api import ViewerApp

        app.viewer = ViewerApp(self)
        self._assemble_triggers()
        install_moto_hooks(self.deliveries, self.account, self.schedules, self.scheduler)
        self.lambda_service.load()
        running = self.stepfunctions.load()
        self.app = app
        self._serving.set()  # requests go through from here; resumed executions may call the endpoint
        self.stepfunctions.resume_all(running)
        self.resumed = len(running)
        self.lambda_service.event_sources.start()
        self.deliveries.start()
        self.moto.start_writer()
        self.schedules.start()
        self.scheduler.start()
        self.pipes.start()
        from stepkit.endpoint.dynamodb_ttl import TtlSweeper

        self.ttl = TtlSweeper(lambda: self.client("dynamodb"))  # moto never expires an item
        self.ttl.start()

    def _assemble_triggers(self) -> None:
        """What starts functions and workflows without a request: event source mappings (SQS,
        Kinesis, DynamoDB Streams), pipes, scheduled rules and the Scheduler's schedules."""
        from stepkit.endpoint.events import SqsPollers, fire_scheduled_rule
        from stepkit.endpoint.pipes import Pipes
        from stepkit.endpoint.scheduler import SchedulerSchedules
        from stepkit.endpoint.schedules import RuleSchedules
        from stepkit.endpoint.stream_pollers import MappingPollers, StreamPollers

        def invoke(arn: str, body: bytes) -> Any:
            return self.lambda_service.invoke(arn, body)

        self.pollers = SqsPollers(lambda: self.client("sqs"), invoke, self.region, self.lambda_service.is_active)
        self.stream_pollers = StreamPollers(self.store, self.moto.lock, invoke, self.lambda_service.is_active,
                                            self._role_of, self._send_failure)
        self.lambda_service.event_sources.pollers = MappingPollers(self.pollers, self.stream_pollers,
                                                                  self.lambda_service.event_sources.records)
        self.pipes = Pipes(self.moto.lock, self.client, self.lambda_service.invoke, self.stepfunctions.StartExecution,
                           self.stepfunctions.StartSyncExecution)
        self.pipes.sqs = SqsPollers(lambda: self.client("sqs"), self.pipes.run, self.region, self.pipes.is_running)
        self.pipes.streams = StreamPollers(self.store, self.moto.lock, self.pipes.run, self.pipes.is_running,
                                           self.pipes.role_of, self._send_failure)
        self.schedules = RuleSchedules(self.store, self.clock, self.moto.direct, fire_scheduled_rule)
        self.scheduler = SchedulerSchedules(
            self.store, self.clock, self.moto.lock, lambda: self.deliveries,
            lambda *where: self.moto.call("scheduler.delete_schedule", *where), lock=self.schedules.lock)

    def _close_triggers(self) -> None:
        for part in (self.ttl, self.schedules, self.scheduler, self.pollers, self.stream_pollers, self.pipes,
                     self.pipes.sqs, self.pipes.streams):
            part.close()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._ready.wait(120)
        if self.app is not None:
            from stepkit.endpoint.events import uninstall_moto_hooks

            self._close_triggers()
            self.deliveries.close()
            self.stepfunctions.close()
            self.apis.close()
            uninstall_moto_hooks(self.deliveries)
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        if self.app is not None:
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

    def advance_clock(self, seconds: float) -> int:
        """Move the endpoint's clock ``seconds`` forward (it must be a ``VirtualClock``) and fire
        the scheduled rules and the Scheduler's schedules that came due; returns how many
        firings that made."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("only a VirtualClock can be moved forward")
        with self.schedules.lock:  # one lock for both: neither fires in between
            return self.schedules.advance(seconds) + self.scheduler.tick()

    # -- helpers ------------------------------------------------------------------------------
    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client on this endpoint (test credentials, nothing of the host's AWS configuration)."""
        from botocore.config import Config

        from stepkit.aws_sessions import isolated_client

        return isolated_client(service, endpoint_url=self.url, region=region or self.region,
                               config=Config(inject_host_prefix=False, retries={"max_attempts": 2}))

    def _registry(self) -> IntegrationRegistry:
        from stepkit.integrations.aws import register_aws_integrations
        from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
        from stepkit.integrations.registry import IntegrationRegistry

        registry = IntegrationRegistry()
        # Distributed Map readers and writers reach S3 through the registry: point them here.
        registry.clients.set_factory(lambda service, region_name=None: self.client(service, region_name))
        register_aws_integrations(registry, self.url, region=self.region, isolated=True)
        registry.set_lambda_backend(LambdaRuntimeIntegration(self.lambda_service))
        return registry

    def _noting_registry(self) -> IntegrationRegistry:
        """The registry whose Lambda tasks note their request ids for the viewer (``task_logs``)."""
        registry = self._registry()
        registry.set_lambda_backend(self.invocation_ledger.integration(self.lambda_service))
        return registry

    def _s3_object(self, bucket: str, key: str, version: str | None) -> bytes:
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        from botocore.exceptions import ClientError

        from stepkit.endpoint.lambda_code import CodeObjectMissing

        try:
            return self.client("s3").get_object(**params)["Body"].read()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CodeObjectMissing(str(error.get("Code", "NoSuchKey")),
                                    str(error.get("Message", "The specified key does not exist."))) from exc

    def _write_logs(self, function: str, text: str) -> None:
        """A function's log lines into CloudWatch Logs (moto): ``aws logs tail /aws/lambda/NAME`` works.
        Journaled like a request (``MotoBackend.call``): durable once this returns."""
        now = int(time.time() * 1000)
        group = f"/aws/lambda/{function}"
        stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{self._stream_id}"
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line.strip()]
        if not events:
            return
        self.moto.call("logs.put_log_events", self.account, self.region, group, stream, events)

    def send_to_queue(self, queue_arn: str, body: str, attributes: dict[str, Any]) -> None:
        parts = queue_arn.split(":")
        sqs = self.client("sqs", parts[3])
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        attributes = dict(attributes)
        group = attributes.pop("MessageGroupId", None)
        fifo = {"MessageGroupId": group, "MessageDeduplicationId": uuid.uuid4().hex} if group else {}
        message_attributes = {k: {"DataType": "String", "StringValue": str(v)} for k, v in attributes.items() if v}
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=message_attributes, **fifo)

    def _send_failure(self, destination: str, body: str) -> None:
        """An event source mapping's on-failure record to its SQS queue or SNS topic."""
        if destination.split(":")[2] == "sns":
            self.client("sns", destination.split(":")[3]).publish(TopicArn=destination, Message=body)
        else:
            self.send_to_queue(destination, body, {})

    def _role_of(self, function_arn: str) -> str | None:
        try:
            role: str | None = self.lambda_service.resolve(function_arn)[0].get("Role")
            return role
        except Exception:  # deleted meanwhile: the invocation will say so
            return None

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state_dir": str(self.state_dir),
            "services": self.app.services() if self.app is not None else {},
            "resumed_executions": self.resumed,
            "moto_backends_restored": self.moto_restored,
            "listening_in_s": round(self.listening_in or 0.0, 3),
            "started_in_s": round(self.started_in or 0.0, 3),
        }


def serve(
    port: int = DEFAULT_PORT,
    state_dir: Path | str = ".stepkit",
    *,
    on_listening: Any = None,
    on_ready: Any = None,
) -> int:
    """Run an endpoint in the foreground until SIGINT/SIGTERM. ``on_listening(endpoint)`` is
    called as soon as the port answers, ``on_ready(endpoint)`` once every service is built."""
    import signal

    endpoint = LocalEndpoint(port, state_dir)
    try:
        endpoint.start(wait=False)
    except OSError as exc:
        raise SystemExit(f"stepkit: cannot serve on {HOST}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if on_listening is not None:
        on_listening(endpoint)
    try:
        endpoint.wait_ready()
        if on_ready is not None:
            on_ready(endpoint)
        while not stop.wait(0.5):
            pass
    finally:
        endpoint.stop()
    return 0

"""Step Functions' AWS service integrations, run through boto3 against an endpoint.

- ``arn:aws:states:::aws-sdk:<service>:<action>``: any operation of any service botocore
  knows, found from its service model (``getObject`` → ``GetObject``). Parameters are
  PascalCase, as Step Functions takes them, even for services whose API members are
  camelCase (``aws-sdk:sfn``); results come back PascalCase, timestamps as ISO-8601 text,
  streamed bodies as text. Errors are named as Step Functions names them for the AWS SDK
  for Java 2.x: ``<Service>.<ErrorShape>Exception`` (``S3.NoSuchBucketException``,
  ``DynamoDb.ResourceNotFoundException``), or ``<Service>.<Service>Exception`` for a code
  the model does not list, with the cause ``message (Service: S3, Status Code: 404,
  Request ID: ...)``.
- the optimized integrations ``sqs:sendMessage``, ``sns:publish``,
  ``dynamodb:getItem/putItem/updateItem/deleteItem``, ``events:putEvents``,
  ``states:startExecution`` (plain, ``.sync``, ``.sync:2``), each with AWS's result
  shape (``SdkHttpMetadata`` where AWS adds it) and the SDK-for-Java-1.x error naming
  (``SNS.NotFoundException``; ``(Service: AmazonSNS; Status Code: 404; Error Code:
  NotFound; Request ID: ...; Proxy: null)``). ``.waitForTaskToken`` works with each of
  them: the call is made, the engine waits for the token.

``register_aws_integrations(registry, endpoint_url=...)`` installs them.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import MapShape, OperationModel, ServiceModel, Shape, StructureShape

from stepkit.asl import errors
from stepkit.asl.errors import StatesError
from stepkit.aws_sessions import isolated_session, make_client, models_session, service_model
from stepkit.engine.tasks import TaskInvocation
from stepkit.integrations.registry import IntegrationRegistry

#: Step Functions' service names (those of the AWS SDK for Java 2.x) that botocore names differently.
_SDK_ALIASES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs",
                "cognitoidentityprovider": "cognito-idp", "elasticloadbalancingv2": "elbv2"}

#: The Java 1.x names of the optimized integrations: error prefix, service name, generic exception.
_V1 = {
    "sqs": ("SQS", "AmazonSQS", "AmazonSQSException"),
    "sns": ("SNS", "AmazonSNS", "AmazonSNSException"),
    "dynamodb": ("DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
    "events": ("EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
    "stepfunctions": ("StepFunctions", "AWSStepFunctions", "AWSStepFunctionsException"),
}
_SYNC_POLL_S = 0.05


def _session() -> botocore.session.Session:
    """Service models and names only: no setting of the host's AWS configuration matters."""
    return models_session()


@cache
def botocore_service(sdk_name: str) -> str:
    """botocore's name for a service as ``aws-sdk:<name>`` gives it."""
    available = _session().get_available_services()
    name = sdk_name.lower()
    if name in available:
        return name
    if name in _SDK_ALIASES:
        return _SDK_ALIASES[name]
    for candidate in available:  # the Java SDK's name is the serviceId without spaces, lower case
        if candidate.replace("-", "") == name:
            return candidate
    for candidate in available:
        model = service_model(candidate)
        if model.metadata.get("serviceId", "").replace(" ", "").lower() == name:
            return candidate
    raise KeyError(sdk_name)


def sdk_v2_name(service_id: str) -> str:
    """The Java SDK 2.x client prefix of a serviceId: "DynamoDB" → "DynamoDb", "SFN" → "Sfn"."""
    out = []
    for word in service_id.split():
        chars = list(word)
        i = 0
        while i < len(chars):
            if chars[i].isupper():
                j = i
                while j < len(chars) and chars[j].isupper():
                    j += 1
                run = j - i
                if run > 1:
                    followed_by_lower = j < len(chars) and chars[j].islower()
                    end = j - 1 if followed_by_lower else j
                    for k in range(i + 1, end):
                        chars[k] = chars[k].lower()
                i = j
            else:
                i += 1
        out.append("".join(chars)[:1].upper() + "".join(chars)[1:])
    return "".join(out)


def operation_for(model: ServiceModel, action: str) -> OperationModel:
    wanted = action[:1].upper() + action[1:]
    if wanted in model.operation_names:
        return model.operation_model(wanted)
    for name in model.operation_names:
        if name.lower() == action.lower():
            return model.operation_model(name)
    raise KeyError(action)


def _error_shape_name(model: ServiceModel, code: str) -> str | None:
    for shape in model.error_shapes:
        if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
            return shape.name
    return None


# -- parameter and result conversion -----------------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _to_model(shape: Shape | None, value: Any, where: str) -> Any:
    """Step Functions' JSON parameters as botocore takes them."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        members = shape.members
        lower = {name.lower(): name for name in members}
        for key, item in value.items():
            name = key if key in members else lower.get(key.lower())
            if name is None:
                raise StatesError(errors.RUNTIME, f"The field '{key}' is not supported by Step Functions "
                                  f"(at {where or 'Parameters'}).")
            out[name] = _to_model(members[name], item, f"{where}.{key}" if where else key)
        return out
    if kind == "list" and isinstance(value, list):
        return [_to_model(shape.member, v, where) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _to_model(shape.value, v, where) for k, v in value.items()}
    if kind == "blob":
        if isinstance(value, str):
            return value.encode()
        return _json_text(value).encode()
    if kind == "string" and not isinstance(value, str):
        return _json_text(value)
    return value


def _iso(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_model(value: Any, shape: Shape | None = None) -> Any:
    """A botocore result as Step Functions shows it: members of structures PascalCase (map keys
    as they are), text for streams and dates."""
    if isinstance(value, dict):
        if isinstance(shape, MapShape):
            return {k: _from_model(v, shape.value) for k, v in value.items()}
        members = shape.members if isinstance(shape, StructureShape) else {}
        return {(k[:1].upper() + k[1:]): _from_model(v, members.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        return [_from_model(v, member) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    if hasattr(value, "read"):  # StreamingBody
        data = value.read()
        try:
            return data.decode()
        except UnicodeDecodeError:
            return base64.b64encode(data).decode()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    return value


def _sdk_metadata(response: dict[str, Any]) -> dict[str, Any]:
    meta = response.get("ResponseMetadata", {})
    headers = meta.get("HTTPHeaders", {})
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": dict(headers),
            "HttpStatusCode": meta.get("HTTPStatusCode", 200),
        },
        "SdkResponseMetadata": {"RequestId": meta.get("RequestId", "")},
    }


def _epoch_millis(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return value


# -- the integrations ---------------------------------------------------------------------------


class AwsIntegrations:
    """Handlers for the service integrations, with boto3 clients on ``endpoint_url``."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        poll_interval: float = _SYNC_POLL_S,
        isolated: bool = False,
    ) -> None:
        """``isolated``: clients owe nothing to the host's AWS configuration (profile, config
        files, proxies; see :mod:`stepkit.aws_sessions`), as the local endpoint's own are."""
        self.endpoint_url = endpoint_url
        self.region = region
        host = {} if isolated else os.environ
        self.access_key = access_key or host.get("AWS_ACCESS_KEY_ID") or "test"
        self.secret_key = secret_key or host.get("AWS_SECRET_ACCESS_KEY") or "test"
        self.poll_interval = poll_interval
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._isolated = isolated
        self._session = None if isolated else boto3.session.Session()

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                config = Config(inject_host_prefix=False, retries={"max_attempts": 2, "mode": "standard"},
                                max_pool_connections=50)
                session = self._session if self._session is not None else isolated_session()
                if self._isolated:
                    config = config.merge(Config(proxies={}))
                client = make_client(session, service, region_name=key[1], endpoint_url=self.endpoint_url,
                                     aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                                     config=config)
                self._clients[key] = client
        return client

    def register(self, registry: IntegrationRegistry) -> None:
        arn = "arn:aws*:states:*:*:"
        registry.register(f"{arn}aws-sdk:*", self.aws_sdk)
        registry.register(f"{arn}sqs:sendMessage*", self.sqs_send_message)
        registry.register(f"{arn}sns:publish*", self.sns_publish)
        for action in ("getItem", "putItem", "updateItem", "deleteItem"):
            registry.register(f"{arn}dynamodb:{action}", self.dynamodb)
        registry.register(f"{arn}events:putEvents*", self.events_put_events)
        registry.register(f"{arn}states:startExecution*", self.states_start_execution)

    # -- aws-sdk:* ------------------------------------------------------------------------------
    def aws_sdk(self, invocation: TaskInvocation) -> Any:
        resource = invocation.resource
        sdk_name = resource.resource_type.split(":", 1)[1]
        try:
            service = botocore_service(sdk_name)
            model = service_model(service)
            operation = operation_for(model, resource.action)
        except KeyError:
            raise StatesError(errors.RUNTIME, f"The resource '{resource.arn}' names no AWS SDK service action "
                              "Step Functions knows.") from None
        params = _to_model(operation.input_shape, invocation.parameters or {}, "")
        prefix = sdk_v2_name(model.metadata.get("serviceId", sdk_name))
        client = self.client(service, resource.region)
        method = getattr(client, botocore.xform_name(operation.name))
        try:
            response = method(**params)
        except ClientError as exc:
            raise self._v2_error(exc, model, prefix) from None
        except ParamValidationError as exc:
            raise StatesError(f"{prefix}.{prefix}Exception", f"{exc} (Service: {prefix}, Status Code: 400, "
                              "Request ID: null)") from None
        response.pop("ResponseMetadata", None)
        return _from_model(response, operation.output_shape)

    @staticmethod
    def _v2_error(exc: ClientError, model: ServiceModel, prefix: str) -> StatesError:
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code", "Unknown"))
        shape = _error_shape_name(model, code)
        if shape is not None:
            name = shape if shape.endswith("Exception") else f"{shape}Exception"
        else:
            name = f"{prefix}Exception"
        message = error.get("Message") or error.get("message") or code
        cause = f"{message} (Service: {prefix}, Status Code: {meta.get('HTTPStatusCode', 400)}, " \
                f"Request ID: {meta.get('RequestId') or 'null'}"
        if meta.get("HostId"):
            cause += f", Extended Request ID: {meta['HostId']}"
        return StatesError(f"{prefix}.{name}", cause + ")")

    # -- optimized integrations -------------------------------------------------------------
    def _v1_call(self, service: str, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        model = service_model(service)
        op = operation_for(model, operation)
        client = self.client(service, region)
        try:
            response = getattr(client, botocore.xform_name(op.name))(**params)
            response["_shape"] = op.output_shape
            return response
        except ClientError as exc:
            raise self._v1_error(exc, model, service) from None
        except ParamValidationError as exc:
            prefix, service_name, generic = _V1[service]
            raise StatesError(f"{prefix}.{generic}", f"{exc} (Service: {service_name}; Status Code: 400; Error Code: "
                              "ValidationException; Request ID: null; Proxy: null)") from None

    @staticmethod
    def _v1_error(exc: ClientError, model: ServiceModel, service: str) -> StatesError:
        prefix, service_name, generic = _V1[service]
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code", "Unknown"))
        shape = _error_shape_name(model, code)
        name = generic if shape is None else shape if shape.endswith("Exception") else f"{shape}Exception"
        # Error codes of the query protocol: "AWS.SimpleQueueService.NonExistentQueue" → the last part
        shown_code = code.rsplit(".", 1)[-1] if code.startswith("AWS.") else code
        message = error.get("Message") or error.get("message") or code
        cause = (f"{message} (Service: {service_name}; Status Code: {meta.get('HTTPStatusCode', 400)}; "
                 f"Error Code: {shown_code}; Request ID: {meta.get('RequestId') or 'null'}; Proxy: null)")
        return StatesError(f"{prefix}.{name}", cause)

    @staticmethod
    def _params(invocation: TaskInvocation) -> dict[str, Any]:
        params = invocation.parameters
        if not isinstance(params, dict):
            raise StatesError(errors.RUNTIME, "The Parameters of this task must be a JSON object.")
        return dict(params)

    def sqs_send_message(self, invocation: TaskInvocation) -> Any:
        params = self._params(invocation)
        if "MessageBody" in params and not isinstance(params["MessageBody"], str):
            params["MessageBody"] = _json_text(params["MessageBody"])
        response = self._v1_call("sqs", "SendMessage", params, invocation.resource.region)
        meta = _sdk_metadata(response)
        response.pop("ResponseMetadata", None)
        shape = response.pop("_shape")
        return {**_from_model(response, shape), **meta}

    def sns_publish(self, invocation: TaskInvocation) -> Any:
        params = self._params(invocation)
        if "Message" in params and not isinstance(params["Message"], str):
            params["Message"] = _json_text(params["Message"])
        response = self._v1_call("sns", "Publish", params, invocation.resource.region)
        meta = _sdk_metadata(response)
        response.pop("ResponseMetadata", None)
        shape = response.pop("_shape")
        return {**_from_model(response, shape), **meta}

    def dynamodb(self, invocation: TaskInvocation) -> Any:
        params = self._params(invocation)
        response = self._v1_call("dynamodb", invocation.resource.action, params, invocation.resource.region)
        meta = _sdk_metadata(response)
        response.pop("ResponseMetadata", None)
        shape = response.pop("_shape")
        return {**_from_model(response, shape), **meta}

    def events_put_events(self, invocation: TaskInvocation) -> Any:
        params = self._params(invocation)
        entries = []
        for entry in params.get("Entries") or []:
            entry = dict(entry)
            if "Detail" in entry and not isinstance(entry["Detail"], str):
                entry["Detail"] = _json_text(entry["Detail"])
            entries.append(entry)
        params["Entries"] = entries
        response = self._v1_call("events", "PutEvents", params, invocation.resource.region)
        response.pop("ResponseMetadata", None)
        result = _from_model(response, response.pop("_shape"))
        if result.get("FailedEntryCount"):
            raise StatesError("EventBridge.FailedEntry", _json_text(result))
        return result

    def states_start_execution(self, invocation: TaskInvocation) -> Any:
        params = self._params(invocation)
        if "Input" in params and not isinstance(params["Input"], str):
            params["Input"] = _json_text(params["Input"]) if params["Input"] is not None else "{}"
        call = {_lower(k): v for k, v in params.items()}
        region = invocation.resource.region
        response = self._v1_call("stepfunctions", "StartExecution", call, region)
        response.pop("_shape")
        pattern = invocation.resource.pattern
        if pattern not in (".sync", ".sync:2"):
            meta = _sdk_metadata(response)
            return {"ExecutionArn": response["executionArn"], **meta,
                    "StartDate": _epoch_millis(response["startDate"])}
        client = self.client("stepfunctions", region)
        arn = response["executionArn"]
        while True:
            described = client.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            time.sleep(self.poll_interval)
        described.pop("ResponseMetadata", None)
        out = {(k[:1].upper() + k[1:]): _epoch_millis(v) for k, v in described.items()}
        out = {k: _from_model(v) if isinstance(v, dict) else v for k, v in out.items()}
        if pattern == ".sync:2":
            for key in ("Input", "Output"):
                if isinstance(out.get(key), str):
                    out[key] = json.loads(out[key])
        if described["status"] != "SUCCEEDED":
            raise StatesError(errors.TASK_FAILED, _json_text(out))
        return out


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def register_aws_integrations(
    registry: IntegrationRegistry, endpoint_url: str | None = None, **options: Any
) -> AwsIntegrations:
    integrations = AwsIntegrations(endpoint_url, **options)
    integrations.register(registry)
    return integrations


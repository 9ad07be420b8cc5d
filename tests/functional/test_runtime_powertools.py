"""aws-lambda-powertools works inside a handler unchanged: Logger with the Lambda context,
Metrics (EMF), the parser, event source data classes and SQS batch processing."""

import json
from pathlib import Path

from stepkit.runtime import FunctionConfig, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


def _sqs(*bodies: dict) -> bytes:
    records = [
        {
            "messageId": f"msg-{i}",
            "receiptHandle": f"handle-{i}",
            "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                           "SenderId": "AIDA", "ApproximateFirstReceiveTimestamp": "1700000000000"},
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
            "awsRegion": "us-east-1",
        }
        for i, body in enumerate(bodies, start=1)
    ]
    return json.dumps({"Records": records}).encode()


def test_powertools_handler_runs_as_in_lambda() -> None:
    config = FunctionConfig(name="orders", code_dir=FIXTURES / "powertools", memory_size=512, timeout=30)
    with LambdaRuntime([config]) as rt:
        result = rt.invoke("orders", _sqs({"order_id": "a", "quantity": 2}, {"order_id": "b", "quantity": 0}))
        again = rt.invoke("orders", _sqs({"order_id": "c", "quantity": 1}))
    assert result.function_error is None, result.payload
    assert json.loads(result.payload) == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
    assert json.loads(again.payload) == {"batchItemFailures": []}

    records = [json.loads(line) for line in result.logs.splitlines() if line.startswith("{")]
    logs = [r for r in records if "message" in r]
    received = next(r for r in logs if r["message"] == "batch received")
    assert received["service"] == "scorer" and received["records"] == 2
    assert received["function_name"] == "orders" and received["function_memory_size"] == "512"
    assert received["function_request_id"] == result.request_id and received["cold_start"] is True
    assert received["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:orders"
    assert any(r["message"] == "order accepted" and r["order_id"] == "a" for r in logs)

    [metrics] = [r for r in records if "_aws" in r]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stepkit"
    assert metrics["OrdersAccepted"] == [1.0] or metrics["OrdersAccepted"] == 1.0
    warm = [json.loads(line) for line in again.logs.splitlines() if line.startswith('{"level"')]
    assert warm and all(r["cold_start"] is False for r in warm)

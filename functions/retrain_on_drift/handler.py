"""retrain_on_drift: a drift report published by drift_check starts the training pipeline.

Input: SNS's event (``Records[].Sns.Message`` is drift_check's result). For each message, the
training state machine (``TRAINING_STATE_MACHINE_ARN``) is started with
``{"dataset_key": <the report's retrain_dataset_key>}``; the execution is named after the SNS
message id, so a message SNS delivers twice starts one retraining (the second start answers
ExecutionAlreadyExists, which is not an error here).

Output: ``{"started": [execution ARNs], "already_started": [message ids]}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

logger = Logger(service="retrain_on_drift")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    started, already = [], []
    for record in event.get("Records", []):
        message = record["Sns"]
        report = json.loads(message["Message"])
        name = f"drift-{message['MessageId']}"[:80]
        try:
            answer = sfn.start_execution(stateMachineArn=os.environ["TRAINING_STATE_MACHINE_ARN"], name=name,
                                         input=json.dumps({"dataset_key": report["retrain_dataset_key"]}))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            already.append(message["MessageId"])
            continue
        logger.info("retraining started", extra={"drift": report.get("drift"), "execution": answer["executionArn"]})
        started.append(answer["executionArn"])
    return {"started": started, "already_started": already}

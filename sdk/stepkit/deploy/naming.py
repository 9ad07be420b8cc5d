"""Physical names and ARNs of what a stack deploys, from the stack, the stage and the target.

Every name starts with ``<stack>-<stage>-`` so two stages (or two stacks) never collide, and
every ARN is computed from the name, so a definition can name a function before it exists
and nothing depends on creation order to know an ARN. For a CloudFormation template the
region, account and partition are ``${AWS::Region}``-style pseudo parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Service limits on names, checked before anything is created.
NAME_LIMITS = {"function": 64, "role": 64, "state_machine": 80, "queue": 80, "bucket": 63, "rule": 64, "topic": 256,
               "table": 255, "stream": 128, "layer": 140}


@dataclass(frozen=True)
class Names:
    stack: str
    stage: str
    region: str
    account: str
    partition: str = "aws"
    endpoint_url: str | None = None
    """Where SQS queue URLs point on a local target; None for AWS's own URLs."""

    @property
    def prefix(self) -> str:
        return f"{self.stack}-{self.stage}"

    # --- names ----------------------------------------------------------------------------

    def function(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def state_machine(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def queue(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def bucket(self, name: str, template: str | None = None) -> str:
        if template:
            return (template.replace("${AccountId}", self.account).replace("${Region}", self.region)
                    .replace("${Stage}", self.stage))
        return re.sub(r"[^a-z0-9-]", "-", f"{self.prefix}-{name}".lower())

    def deployment_bucket(self) -> str:
        """Where function zips too big for a direct upload go (S3 names are global: the
        account makes it this stack's own)."""
        return f"{self.prefix}-deploy-{self.account}".lower()

    def role(self, owner_kind: str, name: str) -> str:
        suffix = {"function": "fn", "state_machine": "sm", "events": "events", "pipe": "pipe"}[owner_kind]
        return f"{self.prefix}-{name}-{suffix}"

    def rule(self, state_machine: str, index: int, kind: str = "s3") -> str:
        return f"{self.prefix}-{state_machine}-{kind}-{index}"

    def function_log_group(self, name: str) -> str:
        return f"/aws/lambda/{self.function(name)}"

    def state_machine_log_group(self, name: str) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine(name)}"

    # --- ARNs -----------------------------------------------------------------------------

    def _arn(self, service: str, rest: str, *, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{rest}")

    def function_arn(self, name: str) -> str:
        return self._arn("lambda", f"function:{self.function(name)}")

    def state_machine_arn(self, name: str) -> str:
        return self._arn("states", f"stateMachine:{self.state_machine(name)}")

    def execution_arns(self, name: str) -> str:
        return self._arn("states", f"execution:{self.state_machine(name)}:*")

    def queue_arn(self, name: str) -> str:
        return self._arn("sqs", self.queue(name))

    def topic(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def topic_arn(self, name: str) -> str:
        return self._arn("sns", self.topic(name))

    def kinesis_stream(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def kinesis_stream_arn(self, name: str) -> str:
        return self._arn("kinesis", f"stream/{self.kinesis_stream(name)}")

    def table(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def table_arn(self, name: str) -> str:
        return self._arn("dynamodb", f"table/{self.table(name)}")

    def queue_url(self, name: str) -> str:
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.account}/{self.queue(name)}"
        return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.queue(name)}"

    def bucket_arn(self, bucket_name: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket_name}"

    def role_arn(self, role_name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role_name}"

    def rule_arn(self, rule_name: str) -> str:
        return self._arn("events", f"rule/{rule_name}")

    def log_group_arn(self, group: str) -> str:
        return self._arn("logs", f"log-group:{group}:*")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"

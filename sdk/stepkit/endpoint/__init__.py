"""The local AWS endpoint: Step Functions (the stepkit engine), Lambda (the stepkit runtime)
and, for everything else (S3, SQS, SNS, IAM, STS, EventBridge, CloudWatch Logs, DynamoDB),
moto in the same process; events delivered between them; state kept under a state dir.

``LocalEndpoint`` runs it in-process (a free port by default); ``stepkit up`` runs it in the
foreground. It binds 127.0.0.1 only.
"""

from stepkit.endpoint.server import DEFAULT_PORT, HOST, LocalEndpoint

__all__ = ["DEFAULT_PORT", "HOST", "LocalEndpoint"]

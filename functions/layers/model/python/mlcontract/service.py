"""The Powertools logger and metrics of one function, and the wrapper of its handler."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "Service"]

Run = Callable[[dict[str, Any], Any], dict[str, Any]]


class Service:
    """``service = Service("train")``; ``handler = service.handler(run)``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.logger = Logger(service=name)
        self.metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StepkitML"), service=name)

    def count(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
        self.metrics.add_metric(name=name, unit=unit, value=value)

    def handler(self, run: Run) -> Run:
        """The Lambda entry point: Lambda context in the logs, metrics flushed, and a failure
        counted and logged before it propagates (its class name is the errorType)."""

        @self.logger.inject_lambda_context(log_event=False)
        @self.metrics.log_metrics(capture_cold_start_metric=True)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                return run(event, context)
            except Exception as exc:
                self.count("Failures", 1)
                self.logger.error("invocation failed",
                                  extra={"error_type": type(exc).__name__, "error": str(exc)[:1000]})
                raise

        return handler

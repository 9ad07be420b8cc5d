"""The AWS clients an execution uses outside its Task integrations (a Distributed Map's
ItemReader and ResultWriter read and write S3): made once per service and region, shared."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

ClientFactory = Callable[..., Any]


class AwsClients:
    """boto3 clients by service and region; by default ``boto3.client(service,
    region_name=...)``, which honours ``AWS_ENDPOINT_URL`` and the usual credential chain."""

    def __init__(self) -> None:
        self._factory: ClientFactory | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def set_factory(self, factory: ClientFactory | None) -> None:
        """Make ``client()`` call ``factory(service_name, region_name=...)`` (None: boto3's
        default); tests and the local endpoint point S3 at their own server this way."""
        with self._lock:
            self._factory = factory
            self._clients.clear()

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        """The client for ``service_name`` in ``region_name`` (else the environment's region,
        else us-east-1), made on first use (boto3 clients are thread-safe)."""
        region = region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        key = (service_name, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if self._factory is not None:
                    client = self._factory(service_name, region_name=region)
                else:
                    import boto3

                    client = boto3.client(service_name, region_name=region)
                self._clients[key] = client
            return client

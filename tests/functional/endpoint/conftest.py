"""One in-process endpoint per test module (a free port on 127.0.0.1, a temporary state dir),
driven only through boto3 clients, as a user's code would drive it. Module scope: the
endpoint's hooks into moto (which is process-wide) are in place only while its tests run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from endpoint_helpers import make_client

from stepkit.endpoint import LocalEndpoint


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint() as ep:
        yield ep


@pytest.fixture(scope="module")
def clients(endpoint: LocalEndpoint) -> Callable[[str], Any]:
    cache: dict[str, Any] = {}

    def get(service: str) -> Any:
        if service not in cache:
            cache[service] = make_client(endpoint.url, service)
        return cache[service]

    return get


@pytest.fixture
def sfn(clients: Callable[[str], Any]) -> Any:
    return clients("stepfunctions")


@pytest.fixture
def lam(clients: Callable[[str], Any]) -> Any:
    return clients("lambda")

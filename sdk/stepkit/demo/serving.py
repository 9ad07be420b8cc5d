"""The demo's online step: rows of the dataset sent one by one to the serving API (API Gateway
→ the Chalice app → the registry's champion), answers checked against their true labels (the
model saw some of these rows in training: this is not the test-set score)."""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


@dataclass
class ServingRun:
    url: str
    requests: int = 0
    errors: int = 0
    correct: int = 0
    by_version: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The ``serving`` object of ``stepkit demo --json``."""
        answered = self.requests - self.errors
        ordered = sorted(self.latencies_ms)
        return {
            "url": self.url, "requests": self.requests, "errors": self.errors, "by_version": self.by_version,
            "accuracy": round(self.correct / answered, 4) if answered else None,
            "latency_ms": {"p50": round(statistics.median(ordered), 2),
                           "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}
            if ordered else None,
        }


def api_url(status_rows: list[dict[str, Any]]) -> str | None:
    """The serving API's base URL, as ``stepkit status`` shows it."""
    return next((row["url"].rstrip("/") for row in status_rows if row.get("url")), None)


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"{}")
        except ValueError:
            return err.code, {"error": raw.decode(errors="replace")}


def send_dataset_rows(url: str, datasets: ModuleType, dataset: str, rows: int) -> ServingRun:
    """POST the dataset's first ``rows`` rows (their labels kept aside) to ``/predict``, one
    request each, as an online client would."""
    features, x, labels = datasets.load(dataset)
    run = ServingRun(url)
    for i in range(min(rows, len(x))):
        record = dict(zip(features, map(float, x[i]), strict=True))
        began = time.perf_counter()
        status, answer = _post(f"{url}/predict", {"records": [record]})
        run.latencies_ms.append((time.perf_counter() - began) * 1000)
        run.requests += 1
        if status != 200:
            run.errors += 1
            continue
        version = str(answer.get("model_version"))
        run.by_version[version] = run.by_version.get(version, 0) + 1
        run.correct += str(answer["predictions"][0]["prediction"]) == str(labels[i])
    return run

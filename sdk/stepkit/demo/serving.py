"""The demo's online step: held-out rows of the dataset (the training run's test split, which no
model saw) sent to the serving API (API Gateway → the Chalice app → the version the routing
policy picks), each answer given its feedback from the row's true label, in phases: the
rollout's A/B split (a canary share of the challenger) and then a Thompson-sampling bandit."""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from threading import Lock
from typing import Any

#: clients sending requests at once
CLIENTS = 4
#: the bandit has "moved" once the better version answers this share of a window of requests
MOVED_SHARE = 0.9
MOVED_WINDOW = 100


@dataclass
class Phase:
    """The requests of one routing policy."""

    name: str
    policy: dict[str, Any]
    requests: int = 0
    errors: int = 0
    by_version: dict[str, int] = field(default_factory=dict)
    correct_by_version: dict[str, int] = field(default_factory=dict)
    timeline: list[str] = field(default_factory=list)  # the version of each answer, in order
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        answered = max(self.requests - self.errors, 1)
        return {"policy": self.policy, "requests": self.requests, "errors": self.errors,
                "by_version": dict(sorted(self.by_version.items())),
                "share_by_version": {v: round(n / answered, 4) for v, n in sorted(self.by_version.items())},
                "accuracy_by_version": {v: round(self.correct_by_version.get(v, 0) / n, 4)
                                        for v, n in sorted(self.by_version.items()) if n}}


def moved_after(timeline: list[str], version: str, share: float = MOVED_SHARE,
                window: int = MOVED_WINDOW) -> int | None:
    """How many requests it took until ``version`` answered at least ``share`` of every
    ``window`` requests from then on (None if it never did)."""
    if len(timeline) < window:
        return None
    hits = [v == version for v in timeline]
    good = [sum(hits[i:i + window]) >= share * window for i in range(len(hits) - window + 1)]
    for start in range(len(good)):
        if all(good[start:]):
            return start
    return None


@dataclass
class ServingRun:
    url: str
    requests: int = 0
    errors: int = 0
    correct: int = 0
    by_version: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    rollout: dict[str, Any] | None = None
    better_version: str | None = None

    def add(self, phase: Phase) -> None:
        self.phases.append(phase)
        self.requests += phase.requests
        self.errors += phase.errors
        self.correct += sum(phase.correct_by_version.values())
        for version, n in phase.by_version.items():
            self.by_version[version] = self.by_version.get(version, 0) + n
        self.latencies_ms.extend(phase.latencies_ms)

    def summary(self) -> dict[str, Any]:
        """The ``serving`` object of ``stepkit demo --json``."""
        answered = self.requests - self.errors
        ordered = sorted(self.latencies_ms)
        out: dict[str, Any] = {
            "url": self.url, "requests": self.requests, "errors": self.errors,
            "by_version": dict(sorted(self.by_version.items())),
            "accuracy": round(self.correct / answered, 4) if answered else None,
            "latency_ms": {"p50": round(statistics.median(ordered), 2),
                           "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}
            if ordered else None,
            "phases": {p.name: p.summary() for p in self.phases},
            "rollout": self.rollout,
        }
        bandit = next((p for p in self.phases if p.name == "bandit"), None)
        if bandit is not None and self.better_version is not None:
            out["bandit"] = {"better_version": self.better_version,
                             "moved_after_requests": moved_after(bandit.timeline, self.better_version),
                             "rule": f"the better version answers >= {MOVED_SHARE:.0%} of every "
                                     f"{MOVED_WINDOW} requests from then on",
                             "final_share": round(bandit.timeline[-MOVED_WINDOW:].count(self.better_version)
                                                  / max(1, len(bandit.timeline[-MOVED_WINDOW:])), 4)}
        return out


def api_url(status_rows: list[dict[str, Any]]) -> str | None:
    """The serving API's base URL, as ``stepkit status`` shows it."""
    return next((row["url"].rstrip("/") for row in status_rows if row.get("url")), None)


def call(url: str, body: Any = None, method: str | None = None) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of one call to the API; an error status is an answer too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("GET" if body is None else "POST"),
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


Row = tuple[dict[str, float | None], str]


def held_out_rows(s3: Any, bucket: str, manifest_key: str, target: str = "target") -> list[Row]:
    """The training run's test split as preprocess kept it raw (``test_raw.csv``): records by
    feature name (a missing value as null, which the model imputes) and their labels."""
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    key = manifest["files"]["test_raw"]["key"]
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        label = row.pop(target)
        rows.append(({k: (float(v) if v != "" else None) for k, v in row.items()}, label))
    return rows


def run_phase(url: str, phase: Phase, rows: list[Row], *, requests: int | None = None,
              until: Callable[[], bool] | None = None, start: int = 0) -> Phase:
    """Send rows (cycling) with their feedback until ``requests`` were sent or ``until()`` is
    true, from ``CLIENTS`` threads; each caller id is the row's, so a weighted split is sticky
    per row."""
    lock = Lock()
    numbers = count(start)

    def client() -> None:
        while True:
            with lock:
                if (requests is not None and phase.requests >= requests) or (until is not None and until()):
                    return
                n = next(numbers)
                phase.requests += 1
            record, label = rows[n % len(rows)]
            _one(url, phase, record, label, f"row-{n}", lock)

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()
    return phase


def _one(url: str, phase: Phase, record: dict[str, float | None], label: str, caller: str, lock: Lock) -> None:
    began = time.perf_counter()
    status, answer = call(f"{url}/predict", {"record": record, "caller": caller})
    elapsed = (time.perf_counter() - began) * 1000
    if status != 200:
        with lock:
            phase.errors += 1
        return
    version = str(answer["model_version"])
    correct = str(answer["predictions"][0]["prediction"]) == str(label)
    with lock:
        phase.latencies_ms.append(elapsed)
        phase.timeline.append(version)
        phase.by_version[version] = phase.by_version.get(version, 0) + 1
        phase.correct_by_version[version] = phase.correct_by_version.get(version, 0) + int(correct)
    status, _ = call(f"{url}/feedback", {"request_id": answer["request_id"], "label": label})
    if status != 200:
        with lock:
            phase.errors += 1

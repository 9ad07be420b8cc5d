"""Durability of the local endpoint's moto state (issue 12 part 2; figures in bench/README.md).

    .venv/bin/python bench/durability.py [--quick]

Every endpoint runs in its own process (``LocalEndpoint`` on a free port), driven by boto3.

1. burst: 1,000 small PutObjects (1 KiB) from 8 threads, journal on (a state dir: every
   write fsync'd before it is answered) vs off (moto state not persisted): both endpoints up
   at once, 10 batches of 100 to each, alternating which goes first (the machine's load
   drifts alike for both); a snapshot child still running after an "on" batch is waited for
   and counted. The overhead is the ratio of the total times minus one. Goal < 30 %.
2. latency: PutObject and HeadObject p50/p99 of 2,000 sequential 1 KiB requests on an empty
   endpoint and on one holding 300 MB of objects (300 x 1 MiB), snapshots taken meanwhile
   (at most one per 5 s); the snapshots' request pauses (the lock held for the fork) come
   from the endpoint's log. Goal: p99 with 300 MB within 2x of empty.
3. kills: on the 300 MB state, 20 rounds of writers (1 KiB, 40 KiB and 1 MiB objects, SQS
   messages) killed with SIGKILL after 150 acknowledged writes (requests in flight), the
   endpoint restarted, every acknowledged object (version id, body MD5) and message (id)
   looked for. Goal: 0 lost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

_RUNNER = """
import json, logging, sys
from stepkit.endpoint import LocalEndpoint
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
logging.getLogger("stepkit.endpoint.moto_backend").setLevel(logging.DEBUG)
endpoint = LocalEndpoint(0, sys.argv[2], persist_moto=sys.argv[1] == "on").start()
print(json.dumps({"url": endpoint.url, "started_in_s": endpoint.started_in,
                  "replayed": endpoint.moto.replayed}), flush=True)
sys.stdin.read()
endpoint.stop()
"""
BUCKET = "bench"


class Endpoint:
    def __init__(self, state_dir: Path, journal: bool = True) -> None:
        self.state_dir, self.journal = state_dir, journal
        self.log = state_dir.parent / f"{state_dir.name}.log"
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> Endpoint:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _RUNNER, "on" if self.journal else "off", str(self.state_dir)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        self.info = json.loads(self.process.stdout.readline())
        return self

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="test",
                            aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 1}, max_pool_connections=16))

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(120)

    def pauses_ms(self) -> list[float]:
        text = self.log.read_text() if self.log.exists() else ""
        return [float(m) for m in re.findall(r"requests paused ([\d.]+) ms", text)]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- 1. burst -------------------------------------------------------------------------------------
def _batch(endpoint: Endpoint, s3: Any, start: int, count: int) -> tuple[float, float]:
    """(seconds until the last PutObject was answered, until a snapshot child still at work
    after it was done too: that work belongs to this side)."""
    body = os.urandom(1024)
    began = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"burst/{i}", Body=body), range(start, start + count)))
    answered = time.perf_counter() - began
    while endpoint.journal and (endpoint.state_dir / "moto.pickle.tmp").exists():
        time.sleep(0.01)
    return answered, time.perf_counter() - began


def burst(root: Path, count: int, batches: int) -> dict[str, float]:
    """Both endpoints up at once; ``batches`` batches of ``count / batches`` PutObjects to each,
    alternating which goes first, so that the machine's load drifts alike for both sides."""
    sides = {"off": Endpoint(root / "burst-off", journal=False).start(),
             "on": Endpoint(root / "burst-on", journal=True).start()}
    try:
        clients = {name: endpoint.client("s3") for name, endpoint in sides.items()}
        for s3 in clients.values():
            s3.create_bucket(Bucket=BUCKET)
        answered = {"off": 0.0, "on": 0.0}
        settled = {"off": 0.0, "on": 0.0}
        size = count // batches
        for batch in range(batches):
            for name in ("off", "on") if batch % 2 == 0 else ("on", "off"):
                times = _batch(sides[name], clients[name], batch * size, size)
                answered[name] += times[0]
                settled[name] += times[1]
    finally:
        for endpoint in sides.values():
            endpoint.stop()
    return {"journal_off_s": answered["off"], "journal_on_s": answered["on"],
            "overhead": answered["on"] / answered["off"] - 1,
            "journal_on_with_snapshot_children_s": settled["on"],
            "overhead_with_snapshot_children": settled["on"] / answered["off"] - 1,
            "snapshots": len(sides["on"].pauses_ms())}


# -- 2. latency --------------------------------------------------------------------------------
def preload(endpoint: Endpoint, megabytes: int) -> None:
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"state/{i}", Body=os.urandom(2**20)),
                      range(megabytes)))


def latency(endpoint: Endpoint, requests: int) -> dict[str, float]:
    s3 = endpoint.client("s3")
    if "Buckets" not in s3.list_buckets() or BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    body = os.urandom(1024)
    puts: list[float] = []
    heads: list[float] = []
    for i in range(requests):
        began = time.perf_counter()
        s3.put_object(Bucket=BUCKET, Key=f"latency/{i}", Body=body)
        puts.append(time.perf_counter() - began)
        began = time.perf_counter()
        s3.head_object(Bucket=BUCKET, Key=f"latency/{i}")
        heads.append(time.perf_counter() - began)
    return {"put_p50_ms": 1000 * _percentile(puts, 0.5), "put_p99_ms": 1000 * _percentile(puts, 0.99),
            "head_p50_ms": 1000 * _percentile(heads, 0.5), "head_p99_ms": 1000 * _percentile(heads, 0.99)}


# -- 3. kills ------------------------------------------------------------------------------------
class _Writers:
    """Writers until stopped; what was acknowledged is kept (objects: key -> (md5, version))."""

    def __init__(self, endpoint: Endpoint, round_: int, queue: str) -> None:
        self.endpoint, self.round, self.queue = endpoint, round_, queue
        self.objects: dict[str, tuple[str, str]] = {}
        self.messages: set[str] = set()
        self.acknowledged = threading.Semaphore(0)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._objects, args=(size,)) for size in (1024, 40_960, 2**20)]
        self.threads += [threading.Thread(target=self._messages) for _ in range(2)]

    def run_until(self, writes: int) -> None:
        for thread in self.threads:
            thread.start()
        for _ in range(writes):
            if not self.acknowledged.acquire(timeout=120):
                raise RuntimeError("the writers stalled")

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _objects(self, size: int) -> None:
        s3 = self.endpoint.client("s3")
        i = 0
        while not self.stop.is_set():
            key, body = f"kill/{self.round}/{size}/{i}", os.urandom(size)
            try:
                version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
            except Exception:
                return
            self.objects[key] = (hashlib.md5(body).hexdigest(), version)
            self.acknowledged.release()
            i += 1

    def _messages(self) -> None:
        sqs = self.endpoint.client("sqs")
        while not self.stop.is_set():
            try:
                self.messages.add(sqs.send_message(QueueUrl=self.queue, MessageBody="m" * 200)["MessageId"])
            except Exception:
                return
            self.acknowledged.release()


def _missing(endpoint: Endpoint, objects: dict[str, tuple[str, str]], round_objects: list[str],
             queue: str, sent: set[str]) -> tuple[int, int, int]:
    """(objects missing or of another version, bodies that differ, messages missing)."""
    s3, sqs = endpoint.client("s3"), endpoint.client("sqs")
    listed = {v["Key"]: v["VersionId"] for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=BUCKET, Prefix="kill/") for v in page.get("Versions", [])}
    lost = sum(1 for key, (_, version) in objects.items() if listed.get(key) != version)
    wrong = sum(1 for key in round_objects if key in listed and hashlib.md5(
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest() != objects[key][0])
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    ids: set[str] = set()
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900).get("Messages"):
        ids.update(m["MessageId"] for m in batch)
    return lost, wrong, len(sent - ids)


def kills(endpoint: Endpoint, rounds: int, writes: int) -> dict[str, Any]:
    objects: dict[str, tuple[str, str]] = {}
    lost = wrong = lost_messages = messages = 0
    restarts: list[float] = []
    replayed: list[int] = []
    for round_ in range(rounds):
        queue = f"kill-{round_}"
        writers = _Writers(endpoint, round_, endpoint.client("sqs").create_queue(QueueName=queue)["QueueUrl"])
        writers.run_until(writes)
        endpoint.kill()
        writers.join()
        objects.update(writers.objects)
        messages += len(writers.messages)
        began = time.perf_counter()
        endpoint.start()
        restarts.append(time.perf_counter() - began)
        replayed.append(int(endpoint.info["replayed"]))
        counts = _missing(endpoint, objects, list(writers.objects), queue, writers.messages)
        lost, wrong, lost_messages = lost + counts[0], wrong + counts[1], lost_messages + counts[2]
        print(f"  kill {round_ + 1}: {len(objects)} objects acknowledged so far, missing {counts[0]}, "
              f"bodies wrong {counts[1]}, messages missing {counts[2]} of {len(writers.messages)}; "
              f"restart {restarts[-1]:.2f} s, {replayed[-1]} records replayed", flush=True)
    return {"kills": rounds, "objects_acknowledged": len(objects), "messages_acknowledged": messages,
            "objects_missing_at_any_restart": lost, "bodies_wrong": wrong, "messages_missing": lost_messages,
            "restart_median_s": statistics.median(restarts), "restart_max_s": max(restarts),
            "replayed_median": statistics.median(replayed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small state, few requests")
    parser.add_argument("--burst-only", action="store_true", help="only the burst (1)")
    args = parser.parse_args()
    megabytes, requests, rounds, count, batches = (20, 300, 3, 300, 2) if args.quick else (300, 2000, 20, 1000, 10)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stepkit-durability-") as tmp:
        root = Path(tmp)
        results["burst"] = burst(root, count, batches)
        print("burst", json.dumps(results["burst"]), flush=True)
        if args.burst_only:
            return
        empty = Endpoint(root / "empty").start()
        try:
            results["latency_empty"] = latency(empty, requests)
            results["latency_empty"]["snapshot_pauses_ms"] = empty.pauses_ms()  # (not the one at stop)
        finally:
            empty.stop()
        print("latency, empty", json.dumps(results["latency_empty"]), flush=True)
        loaded = Endpoint(root / "loaded").start()
        try:
            preload(loaded, megabytes)
            before = len(loaded.pauses_ms())
            results["latency_loaded"] = latency(loaded, requests)
            results["latency_loaded"]["snapshot_pauses_ms"] = loaded.pauses_ms()[before:]
            print(f"latency, {megabytes} MB", json.dumps(results["latency_loaded"]), flush=True)
            results["kills"] = kills(loaded, rounds, 150)
        finally:
            loaded.stop()
    results["put_p99_ratio"] = results["latency_loaded"]["put_p99_ms"] / results["latency_empty"]["put_p99_ms"]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

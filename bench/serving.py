"""Benchmark of the serving API (figures go to bench/README.md, never into tests).

    .venv/bin/python bench/serving.py [--quick]

The repository's stack deployed to a ``LocalEndpoint`` in this process, a model trained by
its training state machine (iris, one candidate), then, warm:

1. ``POST /predict`` through the local API (API Gateway → the serving function: registry
   check, policy read, routing, ``predict`` invoked, counters and the prediction written to
   the router table) on a kept-alive connection: median and p99;
2. the same record scored by invoking ``predict`` directly through the endpoint's Lambda
   service (the runtime, no HTTP, no routing): median and p99, and the difference;
3. the ``predict`` handler called in this process (``functions/local_harness.py``; its S3
   reads go to the endpoint): what the model and the registry check cost alone;
4. ``POST /predict`` under a Thompson-sampling policy (the bandits read the versions'
   counters for every request: one BatchGetItem of the policy and its arms);
5. requests/s of ``/predict`` with 16 concurrent clients (threads of a separate process, one
   kept-alive connection each, so that the clients do not share the server's GIL: the load
   generator of bench/api_gateway.py).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline import load_module  # bench/pipeline.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "stepkit-ml-dev-artifacts"
MODEL = "classifier"
RECORD = {"sepal_length_cm": 5.9, "sepal_width_cm": 3.0, "petal_length_cm": 5.1, "petal_width_cm": 1.8}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _figures(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(seconds) * 1000, 3),
            "p99_ms": round(_percentile(seconds, 0.99) * 1000, 3), "calls": len(seconds)}


def deploy_and_train(endpoint: Any, project: Path) -> tuple[Any, str]:
    """The stack deployed and version 1 registered; (names, the API's path prefix)."""
    from stepkit.deploy import Deployment

    environ = {**os.environ, "STEPKIT_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": endpoint.region}
    deployment = Deployment.open(project / "infra" / "stack.yaml", target="local", environ=environ,
                                 records_dir=project / "records")
    _, outcome = deployment.deploy(environ=environ)
    if outcome.failed is not None:
        raise RuntimeError(f"deploy failed at {outcome.failed}: {outcome.error}")
    datasets = load_module(ROOT / "functions" / "sample_datasets.py", "bench_sample_datasets")
    datasets.upload_dataset(endpoint.client("s3"), BUCKET, "data/iris.csv", "iris")
    sfn = endpoint.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=deployment.names.state_machine_arn("training"), input=json.dumps(
        {"dataset_key": "data/iris.csv", "grid": [{"family": "logistic_regression", "params": {"C": 1.0}}]}))[
        "executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.2)
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"training failed: {described.get('error')}: {described.get('cause')}")
    api_id = endpoint.client("apigateway").get_rest_apis()["items"][0]["id"]
    return deployment.names, f"/restapis/{api_id}/api/_user_request_"


def _timed_posts(port: int, path: str, calls: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"record": RECORD})
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        times.append(time.perf_counter() - start)
        if response.status != 200:
            raise RuntimeError(f"/predict answered {response.status}: {answer[:300]!r}")
    connection.close()
    return times


def warm_latency(endpoint: Any, names: Any, api: str, calls: int) -> dict[str, Any]:
    _timed_posts(endpoint.port, f"{api}/predict", max(20, calls // 10))
    out: dict[str, Any] = {"api": _figures(_timed_posts(endpoint.port, f"{api}/predict", calls))}
    event = json.dumps({"bucket": BUCKET, "model_name": MODEL, "version": 1, "records": [RECORD],
                        "strict_features": True}).encode()
    arn = names.function_arn("predict")
    for _ in range(max(20, calls // 10)):
        endpoint.lambda_service.invoke(arn, event)
    direct = []
    for _ in range(calls):
        start = time.perf_counter()
        endpoint.lambda_service.invoke(arn, event)
        direct.append(time.perf_counter() - start)
    out["predict_invoked_directly"] = _figures(direct)
    out["handler_in_process"] = _handler_in_process(endpoint, calls)
    out["api_overhead_median_ms"] = round(out["api"]["median_ms"] - out["predict_invoked_directly"]["median_ms"], 3)
    return out


def bandit_latency(endpoint: Any, api: str, calls: int) -> dict[str, Any]:
    """``/predict`` with the policy set to Thompson sampling, then the champion policy again."""
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port)

    def put_policy(policy: dict[str, Any]) -> None:
        connection.request("PUT", f"{api}/models/{MODEL}/policy", body=json.dumps(policy),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"PUT policy answered {response.status}: {answer[:300]!r}")

    put_policy({"kind": "thompson", "versions": ["1"]})
    _timed_posts(endpoint.port, f"{api}/predict", max(20, calls // 10))
    figures = _figures(_timed_posts(endpoint.port, f"{api}/predict", calls))
    put_policy({"kind": "champion"})
    connection.close()
    return figures


def _handler_in_process(endpoint: Any, calls: int) -> dict[str, float]:
    """The handler's log and metric lines go to /dev/null: they are not the benchmark's output."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        return _handler_calls(endpoint, calls)


def _handler_calls(endpoint: Any, calls: int) -> dict[str, float]:
    harness = load_module(ROOT / "functions" / "local_harness.py", "bench_local_harness")
    for key, value in {"AWS_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": endpoint.region}.items():
        os.environ[key] = value
    predict = harness.LocalFunction("predict", environment={"ARTIFACTS_BUCKET": BUCKET})
    event = {"model_name": MODEL, "version": 1, "records": [RECORD], "strict_features": True}
    for _ in range(max(20, calls // 10)):
        predict(event)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict(event)
        times.append(time.perf_counter() - start)
    return _figures(times)


def throughput(endpoint: Any, path: str, clients: int, per_client: int) -> dict[str, Any]:
    """``/predict`` from ``clients`` threads of another process (bench/api_gateway.py's load
    generator, POSTing the record)."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "api_gateway.py"), "--client", str(endpoint.port),
                          path, str(clients), str(per_client), "--body", json.dumps({"record": RECORD})],
                         capture_output=True, text=True, check=True)
    return {"clients": clients, **json.loads(out.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="A smoke run: few calls.")
    parser.add_argument("--calls", type=int, help="Calls per latency figure (default 1,000; --quick: 30).")
    args = parser.parse_args()
    from stepkit.endpoint import LocalEndpoint

    calls, per_client = (30, 3) if args.quick else (1000, 30)
    calls = args.calls or calls
    with tempfile.TemporaryDirectory(prefix="stepkit-bench-serving-") as tmp:
        project = Path(tmp) / "project"
        for folder in ("infra", "functions", "statemachines"):
            shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__", ".stepkit"))
        with LocalEndpoint(port=0) as endpoint:
            names, api = deploy_and_train(endpoint, project)
            results: dict[str, Any] = {"warm": warm_latency(endpoint, names, api, calls)}
            results["warm"]["api_thompson"] = bandit_latency(endpoint, api, calls)
            results["concurrent_16"] = throughput(endpoint, f"{api}/predict", 16, per_client)
    results["machine"] = {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                          "python": sys.version.split()[0]}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark of the local API Gateway (figures go to bench/README.md, never into tests).

    .venv/bin/python bench/api_gateway.py [--quick]

One endpoint in this process; one function returning a proxy answer behind a REST API
(``GET /ping``, AWS_PROXY) and an HTTP API (``GET /ping``, payload 2.0).

1. warm overhead of the API: median and p99 of an HTTP GET through the REST API (and the HTTP
   API) on a kept-alive connection, minus the median of invoking the same function with the
   same event through the endpoint's Lambda service directly (``LambdaService.invoke``, the
   runtime with no HTTP in front);
2. requests/s through the REST API with 16 concurrent clients (threads of a separate process,
   one kept-alive connection each, so that the clients do not share the server's GIL).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

FUNCTION = """
def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "pong"}
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _zip(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def setup(endpoint: Any) -> dict[str, str]:
    lam, apigw, v2 = endpoint.client("lambda"), endpoint.client("apigateway"), endpoint.client("apigatewayv2")
    lam.create_function(FunctionName="bench-ping", Runtime="python3.11", Handler="app.handler",
                        Role="arn:aws:iam::123456789012:role/bench", Code={"ZipFile": _zip(FUNCTION)})
    while lam.get_function(FunctionName="bench-ping")["Configuration"]["State"] != "Active":
        time.sleep(0.05)
    arn = lam.get_function(FunctionName="bench-ping")["Configuration"]["FunctionArn"]
    api = apigw.create_rest_api(name="bench")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    ping = apigw.create_resource(restApiId=api, parentId=root, pathPart="ping")["id"]
    apigw.put_method(restApiId=api, resourceId=ping, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=ping, httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
    apigw.create_deployment(restApiId=api, stageName="bench")
    http_api = v2.create_api(Name="bench", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(ApiId=http_api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    v2.create_route(ApiId=http_api, RouteKey="GET /ping", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=http_api, StageName="$default")
    return {"arn": arn, "rest": f"/restapis/{api}/bench/_user_request_/ping",
            "http": f"/restapis/{http_api}/$default/_user_request_/ping"}


def _timed_gets(port: int, path: str, calls: int) -> tuple[list[float], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    body = b""
    for _ in range(calls):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        times.append(time.perf_counter() - start)
    connection.close()
    return times, body


def warm_overhead(endpoint: Any, paths: dict[str, str], calls: int) -> dict[str, float]:
    # The event the REST API sends, captured once, is what the direct invocations get.
    event = {"resource": "/ping", "path": "/ping", "httpMethod": "GET", "headers": {"Host": "127.0.0.1"},
             "multiValueHeaders": {"Host": ["127.0.0.1"]}, "queryStringParameters": None,
             "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
             "requestContext": {"stage": "bench", "path": "/bench/ping", "requestId": "x"}, "body": None,
             "isBase64Encoded": False}
    payload = json.dumps(event).encode()
    for _ in range(200):
        endpoint.lambda_service.invoke(paths["arn"], payload)
    direct = []
    for _ in range(calls):
        start = time.perf_counter()
        endpoint.lambda_service.invoke(paths["arn"], payload)
        direct.append(time.perf_counter() - start)
    out = {"direct_median_ms": statistics.median(direct) * 1000, "direct_p99_ms": _percentile(direct, 0.99) * 1000}
    # The floor of any HTTP call to the endpoint (werkzeug's server and http.client): its health path.
    _timed_gets(endpoint.port, "/_stepkit/health", 200)
    health, _ = _timed_gets(endpoint.port, "/_stepkit/health", calls)
    out["http_round_trip_median_ms"] = statistics.median(health) * 1000
    for kind in ("rest", "http"):
        _timed_gets(endpoint.port, paths[kind], 200)
        times, body = _timed_gets(endpoint.port, paths[kind], calls)
        assert body == b"pong", body
        out[f"{kind}_median_ms"] = statistics.median(times) * 1000
        out[f"{kind}_p99_ms"] = _percentile(times, 0.99) * 1000
        out[f"{kind}_overhead_median_ms"] = out[f"{kind}_median_ms"] - out["direct_median_ms"]
        out[f"{kind}_overhead_p99_ms"] = out[f"{kind}_p99_ms"] - out["direct_p99_ms"]
    return out


def client_main(port: int, path: str, clients: int, per_client: int, body: str | None = None) -> None:
    """The load generator (run as a separate process): prints requests/s. With ``body``, each
    request is a POST of that JSON (client ``n`` sends ``X-Caller-Id: client-n``)."""
    barrier = threading.Barrier(clients + 1)
    failures: list[int] = []

    def work(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "X-Caller-Id": f"client-{n}"}
        barrier.wait()
        for _ in range(per_client):
            if body is None:
                connection.request("GET", path)
            else:
                connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    print(json.dumps({"requests": clients * per_client, "seconds": elapsed, "failures": len(failures),
                      "requests_per_s": clients * per_client / elapsed}))


def throughput(endpoint: Any, path: str, clients: int, per_client: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--client", str(endpoint.port), path, str(clients),
                          str(per_client)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client", nargs=4, metavar=("PORT", "PATH", "CLIENTS", "PER_CLIENT"))
    parser.add_argument("--body", help="With --client: POST this JSON body (bench/serving.py's /predict).")
    args = parser.parse_args()
    if args.client:
        port, path, clients, per_client = args.client
        client_main(int(port), path, int(clients), int(per_client), args.body)
        return
    from stepkit.endpoint import LocalEndpoint

    calls, per_client = (300, 20) if args.quick else (3000, 200)
    with LocalEndpoint() as endpoint:
        paths = setup(endpoint)
        results: dict[str, Any] = {"warm": warm_overhead(endpoint, paths, calls)}
        results["concurrent_16"] = throughput(endpoint, paths["rest"], 16, per_client)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

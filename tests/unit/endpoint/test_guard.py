"""The endpoint's request guard, rule by rule, on WSGI environs (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepkit.endpoint.guard import RequestGuard, answer, host_name, is_loopback_name, is_signed

SIGNED = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0"


def env(method: str = "POST", path: str = "/", **headers: str) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": headers.pop("query", "")}
    if "content_type" in headers:
        environ["CONTENT_TYPE"] = headers.pop("content_type")
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return environ


@pytest.fixture
def guard() -> RequestGuard:
    return RequestGuard(4566)


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1:4566", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:4566", "::1"), ("[::1]", "::1"),
    ("bucket.s3.localhost.localstack.cloud:4566", "bucket.s3.localhost.localstack.cloud"),
    ("example.com.", "example.com"),
])
def test_host_name(host: str, expected: str) -> None:
    assert host_name(host) == expected


@pytest.mark.parametrize("name", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "app.localhost",
                                  "localhost.localstack.cloud", "abc.execute-api.localhost.localstack.cloud"])
def test_loopback_names(name: str) -> None:
    assert is_loopback_name(name)


@pytest.mark.parametrize("name", ["evil.example", "0.0.0.0", "10.0.0.1", "192.168.1.2", "localhost.evil.example",
                                  "evillocalhost", "localstack.cloud", "xlocalhost.localstack.cloud"])
def test_other_names(name: str) -> None:
    assert not is_loopback_name(name)


def test_signature_forms() -> None:
    assert is_signed(env(authorization=SIGNED))
    assert is_signed(env(query="X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Signature=b"))
    assert is_signed(env(query="AWSAccessKeyId=test&Expires=1&Signature=x"))
    assert not is_signed(env())
    assert not is_signed(env(query="Signature=x"))  # half a presigned query
    assert not is_signed(env(authorization="   "))


def test_own_origin_passes(guard: RequestGuard) -> None:
    for origin in ("http://127.0.0.1:4566", "http://localhost:4566", "HTTP://LOCALHOST:4566/"):
        assert guard.check(env(origin=origin, authorization=SIGNED, host="127.0.0.1:4566")) is None


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1:4566",
                                    "http://localhost:45661"])
def test_foreign_origin_refused(guard: RequestGuard, origin: str) -> None:
    refusal = guard.check(env(origin=origin, authorization=SIGNED))
    assert refusal is not None and refusal.status == 403 and refusal.code == "AccessDeniedException"
    assert "STEPKIT_ALLOWED_ORIGINS" in refusal.message


def test_listed_origins_and_hosts() -> None:
    guard = RequestGuard.from_environment(4566, {"STEPKIT_ALLOWED_ORIGINS": "http://app.test:3000/, https://*.corp",
                                                 "STEPKIT_ALLOWED_HOSTS": "devbox, *.lan"})
    assert guard.check(env(origin="http://app.test:3000", authorization=SIGNED)) is None
    assert guard.check(env(origin="https://x.corp", authorization=SIGNED)) is None
    assert guard.check(env(origin="http://app.test:3001", authorization=SIGNED)) is not None
    assert guard.check(env(host="devbox:4566", authorization=SIGNED)) is None
    assert guard.check(env(host="nas.lan", authorization=SIGNED)) is None
    assert guard.check(env(host="devbox2", authorization=SIGNED)) is not None


@pytest.mark.parametrize("host", ["evil.example:4566", "evil.example", "192.168.0.5:4566", "0.0.0.0:4566"])
def test_rebinding_host_refused(guard: RequestGuard, host: str) -> None:
    refusal = guard.check(env(host=host, authorization=SIGNED))
    assert refusal is not None and refusal.status == 403 and "STEPKIT_ALLOWED_HOSTS" in refusal.message


def test_unsigned_api_calls_refused(guard: RequestGuard) -> None:
    for request in (env(x_amz_target="AWSStepFunctions.ListStateMachines"),
                    env(path="/2015-03-31/functions", content_type="text/plain"),
                    env(method="GET", path="/2015-03-31/functions/"),
                    env(method="GET", query="Action=CreateQueue&QueueName=q"),
                    env(method="PUT", path="/bucket/key"),
                    env(method="DELETE", path="/bucket/key"),
                    env(path="/moto-api/reset")):
        refusal = guard.check(request)
        assert refusal is not None and refusal.code == "MissingAuthenticationTokenException", request


def test_open_paths_and_anonymous_reads(guard: RequestGuard) -> None:
    for request in (env(method="GET", path="/_stepkit/health"), env(method="GET", path="/_localstack/health"),
                    env(method="GET", path="/_localstack/info"), env(method="GET", path="/_stepkit/lambda-code/ab.zip"),
                    env(method="GET", path="/bucket/key"), env(method="HEAD", path="/bucket/key"),
                    env(method="GET", path="/bucket", query="list-type=2")):
        assert guard.check(request) is None, request


def test_preflight(guard: RequestGuard) -> None:
    ok = guard.check(env(method="OPTIONS", origin="http://localhost:4566", access_control_request_method="POST",
                         access_control_request_headers="x-amz-target"))
    assert ok is not None and ok.status == 200
    assert ("Access-Control-Allow-Origin", "http://localhost:4566") in ok.headers
    assert ("Access-Control-Allow-Headers", "x-amz-target") in ok.headers
    refused = guard.check(env(method="OPTIONS", origin="http://evil.example", access_control_request_method="POST"))
    assert refused is not None and refused.status == 403


def test_user_api_requests_follow_their_own_rules() -> None:
    guard = RequestGuard(4566, user_api=lambda environ: environ["PATH_INFO"].startswith("/restapis/"))
    api_call = env(path="/restapis/abc/dev/_user_request_/predict", origin="http://evil.example")
    assert guard.check(api_call) is None
    api_call["HTTP_HOST"] = "evil.example"  # the Host rule holds for them too
    assert guard.check(api_call) is not None


def _answered(environ: dict[str, Any], refusal: Any) -> tuple[str, dict[str, str], bytes]:
    seen: list[Any] = []
    body = b"".join(answer(environ, lambda status, headers: seen.extend([status, dict(headers)]), refusal))
    return seen[0], seen[1], body


def test_refusal_in_each_protocol_shape(guard: RequestGuard) -> None:
    json_request = env(x_amz_target="AWSStepFunctions.ListStateMachines")
    status, headers, body = _answered(json_request, guard.check(json_request))
    assert status == "403 Forbidden" and b'"__type": "MissingAuthenticationTokenException"' in body
    assert b'"message": "Missing Authentication Token"' in body
    rest = env(path="/2015-03-31/functions")
    status, headers, body = _answered(rest, guard.check(rest))
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException" and b"Missing Authentication" in body
    query = env(content_type="application/x-www-form-urlencoded")
    _, headers, body = _answered(query, guard.check(query))
    assert b"<Code>MissingAuthenticationToken</Code>" in body and headers["Content-Type"] == "text/xml"
    s3 = env(method="PUT", path="/bucket/key")
    _, headers, body = _answered(s3, guard.check(s3))
    assert b"<Code>AccessDenied</Code>" in body and headers["Content-Length"] == str(len(body))


def test_wrap_names_the_allowed_origin_instead_of_a_wildcard() -> None:
    guard = RequestGuard.from_environment(4566, {"STEPKIT_ALLOWED_ORIGINS": "http://app.test"})

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Access-Control-Allow-Origin", "*"), ("Content-Type", "text/plain")])
        return [b"ok"]

    seen: list[Any] = []
    guarded = guard.wrap(app)
    body = b"".join(guarded(env(origin="http://app.test", authorization=SIGNED),
                            lambda status, headers: seen.extend([status, headers])))
    assert body == b"ok"
    allow = [v for k, v in seen[1] if k == "Access-Control-Allow-Origin"]
    assert allow == ["http://app.test"]
    refused: list[Any] = []
    body = b"".join(guarded(env(origin="http://other.test", authorization=SIGNED),
                            lambda status, headers: refused.extend([status, headers])))
    assert refused[0] == "403 Forbidden" and b"ok" not in body


def test_viewer_pages_are_open_and_its_actions_need_the_token(guard: RequestGuard) -> None:
    assert guard.check(env("GET", "/_stepkit/ui/api/machines", host="127.0.0.1:4566")) is None
    for headers in ({}, {"x_stepkit_csrf": "wrong"}, {"x_stepkit_csrf": ""}):
        refusal = guard.check(env("POST", "/_stepkit/ui/api/stop", host="127.0.0.1:4566", **headers))
        assert refusal is not None and refusal.status == 403, headers
    ok = env("POST", "/_stepkit/ui/api/stop", host="127.0.0.1:4566", x_stepkit_csrf=guard.ui_token,
             origin="http://127.0.0.1:4566")
    assert guard.check(ok) is None
    # A signature is no substitute for the token, and the token none for the origin rule.
    signed = env("POST", "/_stepkit/ui/api/stop", host="127.0.0.1:4566", authorization=SIGNED)
    assert guard.check(signed) is not None
    foreign = env("POST", "/_stepkit/ui/api/stop", host="127.0.0.1:4566", x_stepkit_csrf=guard.ui_token,
                  origin="http://evil.example")
    assert guard.check(foreign) is not None
    assert RequestGuard(4566).ui_token != guard.ui_token and len(guard.ui_token) >= 32


def test_viewer_refusals_are_plain_json(guard: RequestGuard) -> None:
    environ = env("POST", "/_stepkit/ui/api/stop", host="127.0.0.1:4566", content_type="application/json")
    refusal = guard.check(environ)
    assert refusal is not None
    seen: list[Any] = []
    body = json.loads(b"".join(answer(environ, lambda status, headers: seen.append((status, headers)), refusal)))
    assert seen[0][0] == "403 Forbidden" and body["code"] == "AccessDeniedException"
    assert "X-Stepkit-Csrf" in body["message"]

"""An event's JSON crosses into the runtime once: a payload serialised from a value is not
parsed again to be checked; any other payload is."""

import types

import pytest

from stepkit.runtime import service
from stepkit.runtime.errors import InvalidRequestContent, RequestTooLarge
from stepkit.runtime.invoker import JsonPayload


def test_json_payload_is_compact_json_bytes():
    payload = JsonPayload.of({"a": [1, 2], "b": "é"})
    assert isinstance(payload, bytes) and payload == b'{"a":[1,2],"b":"\\u00e9"}'


def test_a_json_payload_is_not_parsed_again(monkeypatch):
    def no_parse(*args, **kwargs):
        raise AssertionError("a JsonPayload was parsed")

    monkeypatch.setattr(service, "json", types.SimpleNamespace(loads=no_parse))
    payload = JsonPayload.of({"rows": 3})
    assert service._checked_payload(payload, "RequestResponse") is payload


def test_other_payloads_are_still_checked():
    with pytest.raises(InvalidRequestContent, match="Could not parse request body into json"):
        service._checked_payload(b"{not json", "RequestResponse")
    assert service._checked_payload(b"  ", "RequestResponse") == b"{}"


def test_a_json_payload_over_the_limit_is_refused():
    big = JsonPayload.of("x" * (service.SYNC_PAYLOAD_LIMIT + 1))
    with pytest.raises(RequestTooLarge):
        service._checked_payload(big, "RequestResponse")

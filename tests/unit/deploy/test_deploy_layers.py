"""The layer provider's calls, on a stand-in Lambda client that keeps versions as Lambda does:
a publish only when the target's newest version differs (content, description, runtimes),
the versions it published recorded and deleted by destroy, and a layer deleted after the
functions that list it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.aws import Api
from stepkit.deploy.planner import destroy_plan
from stepkit.deploy.providers.layers import Layer, LayerProvider
from stepkit.deploy.state import DeployState, Recorded

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:s-dev-model"


class FakeLambda:
    def __init__(self) -> None:
        self.versions: dict[int, dict[str, Any]] = {}
        self.next = 1
        self.published = 0

    def list_layer_versions(self, LayerName: str, MaxItems: int = 50) -> dict:
        newest_first = [self.versions[n] for n in sorted(self.versions, reverse=True)]
        return {"LayerVersions": newest_first[:MaxItems]}

    def get_layer_version(self, LayerName: str, VersionNumber: int) -> dict:
        if VersionNumber not in self.versions:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}},
                              "GetLayerVersion")
        return self.versions[VersionNumber]

    def publish_layer_version(self, LayerName: str, Content: dict, **options: Any) -> dict:
        number, self.next = self.next, self.next + 1
        self.published += 1
        self.versions[number] = {"Version": number, "LayerVersionArn": f"{ARN}:{number}",
                                 "Content": {"CodeSha256": Content["ZipFile"].decode()}, **options}
        return self.versions[number]

    def delete_layer_version(self, LayerName: str, VersionNumber: int) -> None:
        self.versions.pop(VersionNumber, None)

    def get_paginator(self, name: str) -> Any:
        return SimpleNamespace(paginate=lambda **kw: [self.list_layer_versions(**kw)])


def _provider(lam: FakeLambda, content: str, records: tuple[Recorded, ...] = ()) -> LayerProvider:
    api = SimpleNamespace(client=lambda service: lam, records=lambda: records,
                          layer_code=lambda layer: ({"ZipFile": content.encode()}, content))
    provider = LayerProvider(api)  # type: ignore[arg-type]
    api.provider = lambda kind: provider
    api.describe = lambda rec: Api.describe(api, rec)  # type: ignore[arg-type]  # the real not-found handling
    return provider


def _layer(description: str = "shared") -> Layer:
    return Layer(logical="model", name="s-dev-model", description=description, compatible_runtimes=("python3.12",),
                 content_digest="d" * 64, python_dir=Path("/nowhere"))


def _record(outputs: dict[str, Any], status: str = "done") -> Recorded:
    return Recorded(key="layer:model", kind="layer", name="s-dev-model", status=status, outputs=outputs)


def test_a_version_is_published_only_when_the_newest_one_differs() -> None:
    lam = FakeLambda()
    first = _provider(lam, "zip-1").put(_layer(), None, False)
    assert first == {"arn": f"{ARN}:1", "version": 1, "versions": [1]}
    # a deploy killed before recording the version: the same zip is taken over, not published again
    assert _provider(lam, "zip-1").put(_layer(), None, True) == first and lam.published == 1
    second = _provider(lam, "zip-2").put(_layer(), _record(first), True)
    assert second == {"arn": f"{ARN}:2", "version": 2, "versions": [1, 2]}
    third = _provider(lam, "zip-2").put(_layer("new words"), _record(second), True)
    assert (third["version"], lam.versions[3]["Description"]) == (3, "new words")
    assert _provider(lam, "zip-2", (_record(third),)).latest_arn("s-dev-model") == f"{ARN}:3"


def test_functions_list_the_recorded_version_and_a_deleted_one_is_missing() -> None:
    """Another version published under the stack's layer name (newer, other content) is not
    what the stack's functions get; the recorded version deleted behind the deploy's back is
    missing, so the plan publishes it again."""
    lam = FakeLambda()
    done = _provider(lam, "zip-1").put(_layer(), None, False)
    lam.publish_layer_version(LayerName="s-dev-model", Content={"ZipFile": b"someone else's"})  # version 2
    provider = _provider(lam, "zip-1", (_record(done),))
    assert provider.latest_arn("s-dev-model") == f"{ARN}:1"
    assert provider.lookup("s-dev-model", _layer()) == "ours"
    lam.delete_layer_version(LayerName="s-dev-model", VersionNumber=1)
    assert provider.lookup("s-dev-model", _layer()) == "missing"
    assert _provider(lam, "zip-1").lookup("s-dev-model", _layer()) == "ours"  # not recorded: the name is taken


def test_destroy_deletes_what_was_published_or_for_a_pending_record_everything_under_the_name() -> None:
    lam = FakeLambda()
    provider = _provider(lam, "zip-1")
    lam.publish_layer_version(LayerName="s-dev-model", Content={"ZipFile": b"other"})  # version 1
    done = provider.put(_layer(), None, False)
    provider.delete(_record({**done, "versions": [2]}))
    assert sorted(lam.versions) == [1]
    provider.delete(_record({}, status="pending"))
    assert lam.versions == {}
    assert provider.describe(_record({})) == "missing"


def test_a_layer_is_deleted_after_the_functions_that_list_it(tmp_path: Path) -> None:
    state = DeployState(path=tmp_path / "dev.local.json", stack="s", stage="dev", target="local")
    for kind in ("layer", "function", "role"):
        state.resources[f"{kind}:x"] = Recorded(key=f"{kind}:x", kind=kind, name=f"s-dev-{kind}", status="done")
    assert [r.kind for r in destroy_plan(state)] == ["function", "layer", "role"]

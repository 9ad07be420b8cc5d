"""register_model: versions and aliases in the S3 registry, conditional writes, clean losses."""

from __future__ import annotations

import hashlib

import pytest

BUCKET = "artifacts"  # created by the conftest's `s3` fixture

@pytest.fixture
def selected(kit):
    """A trained and selected iris candidate, not yet registered."""
    pre = kit.preprocess("iris")
    candidate = kit.train(pre, "logistic_regression", {"C": 1.0}, "logreg")
    return kit.select(pre, [candidate])


def test_the_first_version_becomes_the_champion(kit, selected):
    result = kit.register(selected, run_id="run-1")

    assert result["version"] == 1 and result["alias"] == "champion" and result["promoted"] is True
    assert result["previous_champion"] is None
    index = kit.json("registry/iris/index.json")
    assert index["aliases"] == {"champion": 1}
    assert index["latest_version"] == 1 and index["revision"] == 1
    entry = index["versions"]["1"]
    assert entry["candidate_id"] == "logreg" and entry["artifact_key"] == "registry/iris/versions/000001/model.joblib"
    assert entry["test_score"] == selected["best_test_score"]

    version = kit.json(result["version_key"])
    assert version["lineage"]["dataset"]["sha256"] == kit.json(selected["best"]["lineage_key"])["dataset"]["sha256"]
    assert version["metrics"]["test"] == selected["best"]["test"]
    body = kit.s3.get_object(Bucket=BUCKET, Key=entry["artifact_key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == entry["artifact_sha256"] == selected["best"]["artifact_sha256"]
    assert kit.keys("registry/") == ["registry/iris/index.json", "registry/iris/versions/000001/model.joblib",
                                     "registry/iris/versions/000001/version.json"]


def test_a_later_version_moves_the_alias_and_keeps_history(kit, selected):
    kit.register(selected)
    second = kit.register({**selected, "champion_version": 1})
    assert second["version"] == 2 and second["alias"] == "champion" and second["previous_champion"] == 1
    index = kit.json("registry/iris/index.json")
    assert index["aliases"] == {"champion": 2} and sorted(index["versions"]) == ["1", "2"]
    assert [h["version"] for h in index["history"]] == [1, 2] and index["history"][1]["previous"] == 1

    challenger = kit.register(selected, alias="challenger", expected_champion_version="any")
    assert challenger["version"] == 3 and challenger["promoted"] is False
    assert kit.json("registry/iris/index.json")["aliases"] == {"champion": 2, "challenger": 3}


def test_a_champion_that_moved_since_selection_demotes_the_registration_to_challenger(kit, selected):
    kit.register(selected)  # another run promoted version 1 after `selected` saw no champion
    late = kit.register(selected)  # expected_champion_version is still None
    assert late["alias"] == "challenger" and late["promoted"] is False
    assert "moved from none to v1" in late["reason"]
    assert kit.json("registry/iris/index.json")["aliases"] == {"champion": 1, "challenger": 2}


def test_losing_the_index_race_raises_RegistryConflictError_and_leaves_no_trace(kit, selected):
    """Writer A reads the index, then B registers, then A writes: A's IfMatch fails."""
    writer_a = kit.fn("register_model")
    module = writer_a.module
    original = module.read_index

    def read_then_let_b_in(bucket, key):
        seen = original(bucket, key)
        kit.register(selected, run_id="run-b")  # B completes between A's read and A's write
        return seen

    module.read_index = read_then_let_b_in
    with pytest.raises(module.RegistryConflictError, match="changed since it was read"):
        kit.register(selected, function=writer_a, run_id="run-a")

    index = kit.json("registry/iris/index.json")
    assert index["aliases"] == {"champion": 1} and list(index["versions"]) == ["1"]
    assert index["history"][-1]["run_id"] == "run-b"
    # A claimed version 2 (B held 1) and removed it when it lost: nothing half written.
    assert kit.keys("registry/iris/versions/") == ["registry/iris/versions/000001/model.joblib",
                                                   "registry/iris/versions/000001/version.json"]

    module.read_index = original  # the state machine's Retry: A reads again and registers cleanly
    retried = kit.register(selected, function=writer_a, run_id="run-a")
    assert retried["version"] == 2 and retried["alias"] == "challenger"


def test_losing_the_version_claim_raises_RegistryConflictError_without_writing(kit, selected):
    """A and B both compute version 1; B claims it first, A's If-None-Match write fails."""
    writer_a = kit.fn("register_model")
    module = writer_a.module
    original = module.next_version

    def compute_then_let_b_in(bucket, root, index):
        version = original(bucket, root, index)
        kit.register(selected, run_id="run-b")
        return version

    module.next_version = compute_then_let_b_in
    with pytest.raises(module.RegistryConflictError, match="version 1 of iris was claimed by another writer"):
        kit.register(selected, function=writer_a, run_id="run-a")
    version = kit.json("registry/iris/versions/000001/version.json")
    assert version["run_id"] == "run-b"
    assert kit.json("registry/iris/index.json")["revision"] == 1


def test_an_orphaned_version_from_a_crashed_writer_is_skipped(kit, selected):
    kit.put("registry/iris/versions/000001/version.json", "{}")  # claimed, never indexed
    result = kit.register(selected)
    assert result["version"] == 2
    assert kit.json("registry/iris/index.json")["aliases"] == {"champion": 2}


def test_a_missing_artifact_is_an_ArtifactNotFoundError_and_writes_nothing(kit, selected):
    kit.s3.delete_object(Bucket=BUCKET, Key=selected["best"]["artifact_key"])
    register = kit.fn("register_model")
    with pytest.raises(register.module.ArtifactNotFoundError, match=r"model\.joblib does not exist"):
        kit.register(selected, function=register)
    assert kit.keys("registry/") == []


def test_an_artifact_that_is_not_the_selected_one_is_a_ModelIntegrityError(kit, selected):
    kit.put(selected["best"]["artifact_key"], b"something else")
    register = kit.fn("register_model")
    with pytest.raises(register.module.ModelIntegrityError):
        kit.register(selected, function=register)
    assert kit.keys("registry/") == []


def test_a_bad_event_is_an_InvalidEventError(kit, selected):
    register = kit.fn("register_model")
    with pytest.raises(register.module.InvalidEventError, match="alias"):
        kit.register(selected, function=register, alias="production")

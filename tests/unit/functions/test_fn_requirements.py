"""The functions that pickle and unpickle models agree on the libraries that make a model."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"
#: train pickles a model; select_model and predict unpickle it.
MODEL_FUNCTIONS = ("train", "select_model", "predict")


def _requirements(name: str) -> dict[str, Requirement]:
    out = {}
    for raw in (FUNCTIONS / name / "requirements.txt").read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            req = Requirement(line)
            out[req.name.lower().replace("_", "-")] = req
    return out


def test_the_model_functions_pin_one_scikit_learn_and_one_numpy_series() -> None:
    pins = {name: _requirements(name) for name in MODEL_FUNCTIONS}
    sklearn = {name: str(reqs["scikit-learn"].specifier) for name, reqs in pins.items()}
    assert len(set(sklearn.values())) == 1, sklearn
    (spec,) = set(sklearn.values())
    assert spec.startswith("==") and "," not in spec, f"scikit-learn must be pinned to one version: {spec}"
    numpy = {name: str(reqs["numpy"].specifier) for name, reqs in pins.items()}
    numpy["preprocess"] = str(_requirements("preprocess")["numpy"].specifier)
    assert len(set(numpy.values())) == 1, numpy

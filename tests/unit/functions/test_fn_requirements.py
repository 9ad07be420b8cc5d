"""The functions that pickle and unpickle models agree on the libraries that make a model; the
serving functions need none of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


_WITHOUT_NUMPY = """
import sys
sys.modules["numpy"] = None  # any import of numpy now raises ImportError
sys.path[:0] = [{code!r}, {layer!r}]
import {module}
"""


@pytest.mark.parametrize(("function", "module"), [("serving", "app"), ("rollout", "handler")])
def test_serving_and_rollout_import_without_numpy(function: str, module: str) -> None:
    """Neither requires numpy (only the model functions crunch numbers): their code, the
    router's state and routing included, must import where numpy is not installed."""
    assert "numpy" not in _requirements(function)
    script = _WITHOUT_NUMPY.format(code=str(FUNCTIONS / function), layer=str(FUNCTIONS / "layers" / "model" / "python"),
                                   module=module)
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "test"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                            cwd=FUNCTIONS / function)
    assert result.returncode == 0, result.stderr

"""A function imports from its layers' ``python/`` folders, as from ``/opt/python`` on Lambda."""

from __future__ import annotations

import json
import os
from pathlib import Path

from stepkit.runtime import FunctionConfig, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_function_imports_from_its_layer(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "functions").mkdir()
    (tmp_path / "layers").mkdir()
    os.symlink(FIXTURES / "functions" / "uses_layer", tmp_path / "functions" / "uses_layer")
    os.symlink(FIXTURES / "layers" / "greeting", tmp_path / "layers" / "greeting")
    (tmp_path / "infra" / "stack.yaml").write_text(
        "layers:\n  greeting: {path: layers/greeting}\n"
        "functions:\n  uses_layer: {layers: [greeting]}\n"
    )
    with LambdaRuntime.from_stack(tmp_path / "infra" / "stack.yaml") as rt:
        result = rt.invoke("uses_layer", b'{"name": "layer"}')
    body = json.loads(result.payload)
    assert (result.function_error, body["greeting"]) == (None, "hello, layer")
    assert body["from"] == str((FIXTURES / "layers" / "greeting" / "python" / "greeting" / "__init__.py").resolve())


def test_without_the_layer_the_import_fails_as_on_lambda() -> None:
    config = FunctionConfig(name="uses_layer", code_dir=FIXTURES / "functions" / "uses_layer")
    with LambdaRuntime([config]) as rt:
        result = rt.invoke("uses_layer", b"{}")
    body = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'greeting'" in body["errorMessage"]

"""Each function gets its own dependencies from its requirements.txt, first on its path,
isolated from stepkit's environment and from the other functions'."""

import json
import zipfile
from pathlib import Path

import pytest

from stepkit.runtime import DependencyInstallError, FunctionConfig, LambdaRuntime

HANDLER = "import tinydep\n\ndef handler(event, context):\n    return [tinydep.VERSION, tinydep.__file__]\n"


def make_wheel(folder: Path, version: str) -> Path:
    """A real, minimal wheel of the package ``tinydep`` (pip installs it without any index)."""
    wheel = folder / f"tinydep-{version}-py3-none-any.whl"
    info = f"tinydep-{version}.dist-info"
    files = {
        "tinydep/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: tinydep\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def function_with(tmp_path: Path, name: str, version: str) -> FunctionConfig:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    (code / "requirements.txt").write_text(f"{make_wheel(tmp_path, version)}\n")
    return FunctionConfig(name=name, code_dir=code)


def test_two_functions_see_their_own_versions(tmp_path: Path) -> None:
    with pytest.raises(ImportError):
        __import__("tinydep")  # not in stepkit's environment at all
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    old, new = function_with(wheels, "old", "1.0"), function_with(wheels, "new", "2.0")
    cache = tmp_path / "cache"
    with LambdaRuntime([old, new], cache_dir=cache) as rt:
        old_version, old_file = json.loads(rt.invoke("old", b"{}").payload)
        new_version, new_file = json.loads(rt.invoke("new", b"{}").payload)
    assert (old_version, new_version) == ("1.0", "2.0")
    assert old_file.startswith(str(cache)) and new_file.startswith(str(cache))
    assert Path(old_file).parent.parent != Path(new_file).parent.parent
    with LambdaRuntime([old], cache_dir=cache) as rt:  # cached: the same folder, not a new install
        assert json.loads(rt.invoke("old", b"{}").payload) == [old_version, old_file]


def test_requirements_met_by_the_host_install_nothing(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text("import yaml\n\ndef handler(event, context):\n    return yaml.__version__\n")
    (code / "requirements.txt").write_text("PyYAML>=6\n")
    with LambdaRuntime([FunctionConfig(name="fn", code_dir=code)], cache_dir=tmp_path / "cache") as rt:
        assert rt.invoke("fn", b"{}").function_error is None
    assert not (tmp_path / "cache").exists()


def test_an_uninstallable_requirement_is_a_clear_error(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    (code / "requirements.txt").write_text(f"{tmp_path / 'missing-1.0-py3-none-any.whl'}\n")
    config = FunctionConfig(name="fn", code_dir=code)
    with LambdaRuntime([config], cache_dir=tmp_path / "cache") as rt, pytest.raises(DependencyInstallError):
        rt.invoke("fn", b"{}")

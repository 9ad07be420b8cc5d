"""Which Python runs a function (``stepkit.runtime.interpreters``): searched on the PATH, in
pyenv and in uv's managed Pythons, each candidate asked for its version."""

import json
import sys
from pathlib import Path

import pytest

from stepkit.runtime import interpreters
from stepkit.runtime.bundle import MARKER
from stepkit.runtime.deps import to_install

HOST = interpreters.HOST_VERSION
OTHER = "3.12" if HOST != "3.12" else "3.13"


def fake_python(path: Path, answer: str, code: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{answer}'\nexit {code}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Python of OTHER anywhere: an empty PATH, pyenv and uv roots."""
    for name in ("PATH", "PYENV_ROOT", "UV_PYTHON_INSTALL_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.delenv("STEPKIT_LAMBDA_PYTHON", raising=False)
    monkeypatch.setattr(interpreters, "_candidates",
                        lambda version, real=interpreters._candidates: real(version)[:-2])  # not /usr/bin
    interpreters._search.cache_clear()
    yield tmp_path
    interpreters._search.cache_clear()


def test_runtime_versions():
    assert interpreters.runtime_version("python3.12") == "3.12"
    assert interpreters.runtime_version("nodejs20.x") is None


def test_the_hosts_own_version_is_this_interpreter():
    assert interpreters.find_interpreter(f"python{HOST}") == sys.executable
    assert interpreters.fallback_warning(f"python{HOST}") is None


def test_none_found_falls_back_with_a_warning(nowhere: Path):
    assert interpreters.find_interpreter(f"python{OTHER}") is None
    assert interpreters.interpreter_for(f"python{OTHER}") == sys.executable
    warning = interpreters.fallback_warning(f"python{OTHER}")
    assert warning is not None and f"no Python {OTHER} on this machine" in warning and f"Python {HOST}" in warning


def test_a_pyenv_shim_of_an_inactive_version_is_skipped_for_pyenvs_own(nowhere: Path):
    fake_python(nowhere / "path" / f"python{OTHER}", f"pyenv: python{OTHER}: command not found", 127)
    older = fake_python(nowhere / "pyenv_root" / "versions" / f"{OTHER}.2" / "bin" / f"python{OTHER}", OTHER)
    newer = fake_python(nowhere / "pyenv_root" / "versions" / f"{OTHER}.10" / "bin" / f"python{OTHER}", OTHER)
    assert interpreters.find_interpreter(f"python{OTHER}") == str(newer) != str(older)
    assert interpreters.fallback_warning(f"python{OTHER}") is None


def test_uvs_managed_pythons(nowhere: Path):
    uv = fake_python(nowhere / "uv_python_install_dir" / f"cpython-{OTHER}.4-linux-x86_64-gnu" / "bin"
                     / f"python{OTHER}", OTHER)
    assert interpreters.find_interpreter(f"python{OTHER}") == str(uv)


def test_one_that_answers_another_version_is_not_taken(nowhere: Path):
    fake_python(nowhere / "path" / f"python{OTHER}", HOST)
    assert interpreters.find_interpreter(f"python{OTHER}") is None


def test_host_only_setting(nowhere: Path, monkeypatch: pytest.MonkeyPatch):
    fake_python(nowhere / "path" / f"python{OTHER}", OTHER)
    monkeypatch.setenv("STEPKIT_LAMBDA_PYTHON", "host")
    assert interpreters.interpreter_for(f"python{OTHER}") == sys.executable
    assert interpreters.fallback_warning(f"python{OTHER}") is None


def test_a_host_bundle_that_vendors_packages_stays_on_the_host(tmp_path: Path, nowhere: Path):
    found = fake_python(nowhere / "path" / f"python{OTHER}", OTHER)
    assert interpreters.choose(f"python{OTHER}", tmp_path, "train") == (str(found), None)
    (tmp_path / MARKER).write_text(json.dumps({"platform": "host", "python": "cp311", "vendored": ["x==1"]}))
    python, why = interpreters.choose(f"python{OTHER}", tmp_path, "train")
    assert python == sys.executable and why is not None and "function train: its bundle vendors" in why


def test_warn_once_logs_a_message_once(caplog: pytest.LogCaptureFixture):
    message = f"a message of {__name__} seen once"
    interpreters.warn_once(message)
    interpreters.warn_once(message)
    interpreters.warn_once(None)
    assert [r.getMessage() for r in caplog.records].count(f"stepkit: {message}") == 1


def test_platform_site_lends_boto3_only(tmp_path: Path):
    site = interpreters.platform_site(tmp_path)
    names = {p.name for p in site.iterdir() if not p.name.startswith(".")}
    assert {"boto3", "botocore"} <= names and "pydantic" not in names
    assert interpreters.platform_site(tmp_path) == site


def test_requirements_for_another_python_are_all_installed():
    text = "boto3>=1\npydantic>=2\n# a comment\n"
    assert to_install(text) == []  # this environment has both
    assert to_install(text, host=False) == ["boto3>=1", "pydantic>=2"]


def test_deploy_warns_once_per_runtime_that_falls_back(tmp_path: Path, nowhere: Path):
    from stepkit.deploy.desired import build_desired
    from stepkit.deploy.naming import Names
    from stepkit.deploy.service import _interpreter_warnings
    from stepkit.stack.project import Project
    from stepkit.templates import create_project

    create_project(tmp_path / "app", name="app")
    stack = tmp_path / "app" / "infra" / "stack.yaml"
    stack.write_text(stack.read_text().replace("python3.12", f"python{OTHER}"))
    (tmp_path / "app" / "functions" / "other").mkdir()
    (tmp_path / "app" / "functions" / "other" / "app.py").write_text("def handler(e, c):\n    return e\n")
    project = Project.discover(tmp_path / "app")
    desired = build_desired(project, "dev", Names("app", "dev", "us-east-1", "123456789012"), compute_digests=False)
    warnings = _interpreter_warnings(desired)
    assert len(warnings) == 1 and warnings[0].startswith(f"functions greet: no Python {OTHER} on this machine")
    fake_python(nowhere / "path" / f"python{OTHER}", OTHER)
    interpreters._search.cache_clear()
    assert _interpreter_warnings(desired) == []


def test_the_lent_platform_folder_is_made_again_when_its_links_no_longer_resolve(tmp_path: Path) -> None:
    """The folder links into this environment's site-packages; one left by a deleted
    environment (dangling links) must not lend nothing."""
    from stepkit.runtime.interpreters import platform_site

    folder = platform_site(tmp_path)
    assert (folder / "boto3").resolve().is_dir() and folder.name.startswith("platform-")
    (folder / "boto3").unlink()
    (folder / "boto3").symlink_to(tmp_path / "gone" / "boto3")  # as after `rm -rf` of the old venv
    again = platform_site(tmp_path)
    assert again == folder and (again / "boto3").resolve().is_dir()

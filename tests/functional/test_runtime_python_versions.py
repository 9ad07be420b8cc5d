"""A function runs on its declared runtime's Python when this machine has one, and says so
once when it falls back to the host's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig, LambdaRuntime
from stepkit.runtime.interpreters import HOST_VERSION, find_interpreter

OTHER = "3.12" if HOST_VERSION != "3.12" else "3.13"

HANDLER = '''\
import sys

type Pair = tuple[int, int]  # syntax of Python 3.12 and later


def handler(event, context):
    import boto3  # what Lambda's runtime provides, lent from the host
    return {"version": "%d.%d" % sys.version_info[:2], "boto3": bool(boto3.__version__)}
'''

PROBE = """\
import json, sys
from pathlib import Path
from stepkit.runtime import FunctionConfig, LambdaRuntime
configs = [FunctionConfig(name=n, code_dir=Path(sys.argv[1]), runtime="python{other}") for n in ("a", "b")]
with LambdaRuntime(configs, cache_dir=Path(sys.argv[2])) as rt:
    print(json.dumps(json.loads(rt.invoke("a", b"{{}}").payload)))
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A function folder whose handler uses Python 3.12's syntax."""
    app = tmp_path / "fn" / "app.py"
    app.parent.mkdir(parents=True)
    app.write_text(HANDLER, encoding="utf-8")
    return app.parent


@pytest.mark.skipif(find_interpreter(f"python{OTHER}") is None, reason=f"no Python {OTHER} on this machine")
def test_a_function_runs_on_its_runtimes_python(code: Path, tmp_path: Path):
    config = FunctionConfig(name="modern", code_dir=code, runtime=f"python{OTHER}")
    with LambdaRuntime([config], cache_dir=tmp_path / "cache") as runtime:
        result = runtime.invoke("modern", b"{}")
    assert result.function_error is None, result.payload
    assert json.loads(result.payload) == {"version": OTHER, "boto3": True}


def test_without_one_it_runs_here_and_warns_once(code: Path, tmp_path: Path):
    if Path(f"/usr/bin/python{OTHER}").exists() or Path(f"/usr/local/bin/python{OTHER}").exists():
        pytest.skip(f"python{OTHER} is installed system-wide")
    # The host's Python reads the syntax of 3.12 itself when it is 3.12 or later.
    expected_error = "Runtime.UserCodeSyntaxError" if OTHER == "3.12" and HOST_VERSION < "3.12" else None
    empty = tmp_path / "empty"
    env = {**os.environ, "PATH": str(empty), "PYENV_ROOT": str(empty), "UV_PYTHON_INSTALL_DIR": str(empty)}
    env.pop("STEPKIT_LAMBDA_PYTHON", None)
    done = subprocess.run([sys.executable, "-c", PROBE.format(other=OTHER), str(code), str(tmp_path / "cache")],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(f"no Python {OTHER} on this machine") == 1  # two functions, one warning
    payload = json.loads(done.stdout)
    assert payload.get("errorType") == expected_error if expected_error else payload["version"] == HOST_VERSION

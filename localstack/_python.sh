# Sourced by start.sh / stop.sh / status.sh: the Python with stepkit (the repo's .venv, made by
# `make test` or `make demo`, else python3 with the repo's sdk/ on the path).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${STEPKIT_PYTHON:-}" ]; then
    PY="$STEPKIT_PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then
    PY="$ROOT/.venv/bin/python"
else
    PY="python3"
    export PYTHONPATH="$ROOT/sdk${PYTHONPATH:+:$PYTHONPATH}"
fi

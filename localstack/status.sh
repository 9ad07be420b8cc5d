#!/usr/bin/env bash
# Where the LocalStack started by start.sh runs, and its health.
#   localstack/status.sh [--port 4566]
set -euo pipefail
source "$(dirname "$0")/_python.sh"
exec "$PY" -m stepkit.localstack_plugin status --state-dir "$ROOT/.stepkit" "$@"

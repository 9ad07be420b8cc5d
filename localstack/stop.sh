#!/usr/bin/env bash
# Stop the LocalStack that start.sh started (by the pid it recorded), with its helper and workers.
#   localstack/stop.sh [--port 4566]
set -euo pipefail
source "$(dirname "$0")/_python.sh"
exec "$PY" -m stepkit.localstack_plugin stop --state-dir "$ROOT/.stepkit" "$@"

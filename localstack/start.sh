#!/usr/bin/env bash
# Start LocalStack (localstack-core 4.9.2) on the host, without Docker, with Lambda run by
# stepkit. Creates its venv in .stepkit/localstack-venv the first time (a minute or two).
#   localstack/start.sh [--port 4566] [--services s3,sqs,...]
# Prints the endpoint and the pid; stop it with localstack/stop.sh (same --port).
set -euo pipefail
source "$(dirname "$0")/_python.sh"
exec "$PY" -m stepkit.localstack_plugin start --state-dir "$ROOT/.stepkit" "$@"

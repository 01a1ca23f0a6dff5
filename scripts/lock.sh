#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml: requirements/service.txt (what the service runs on) and
# requirements/test.txt (that plus the test tools), pinned with hashes for every platform, for Python 3.11.
# Run it after changing a dependency in pyproject.toml, or with --upgrade to move every pin to its newest
# release; commit the result with the change.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet uv
compile=(.venv/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet
         --custom-compile-command "bash scripts/lock.sh" "$@")
# The service's lock (and so the container image) includes the traces extra: tracing stays off until the
# OTEL_* variables ask for it, and then needs nothing more installed.
"${compile[@]}" --extra traces -o requirements/service.txt
"${compile[@]}" --extra test -o requirements/test.txt
echo "wrote requirements/service.txt and requirements/test.txt"

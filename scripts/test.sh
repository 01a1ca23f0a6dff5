#!/usr/bin/env bash
# Installs the project with its test tools into .venv, exactly as locked in requirements/test.txt, then runs
# lint, format check, the layer contracts, type check and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --require-hashes -r requirements/test.txt
.venv/bin/python -m pip install --quiet --no-deps -e .

echo "== ruff"
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
echo "== import-linter (layers)"
.venv/bin/lint-imports
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
# Two processes: most tests wait on servers, databases and browsers, so two share the cores well.
.venv/bin/python -m pytest -n 2 "$@"

#!/usr/bin/env bash
# Set everything up if needed (a no-op when .venv/ is current), then lint, type-check and run the
# whole test suite (the layer contracts run inside it: tests/test_architecture.py). A type error
# fails the run but does not hide the tests' results: both run, and the first failure's status
# is the script's.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh --test
.venv/bin/ruff check kpitree tests data benchmarks
status=0
.venv/bin/mypy kpitree || status=$?
.venv/bin/python -m pytest "$@" || { code=$?; [ "$status" -ne 0 ] || status=$code; }
exit "$status"

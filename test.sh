#!/usr/bin/env bash
# Set everything up if needed, then lint and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh --test
.venv/bin/ruff check kpitree tests data benchmarks
.venv/bin/python -m pytest "$@"

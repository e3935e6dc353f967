#!/usr/bin/env bash
# Set everything up (Graphviz, .venv, kpitree) and explain the bundled example:
# why ARPU moved from 2026-09 to 2026-10, with the annotated tree written to out/saas_arpu.png.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
mkdir -p out
.venv/bin/kpitree explain trees/saas_arpu.yaml data/saas_monthly.csv \
  --base 2026-09 --compare 2026-10 --image out/saas_arpu.png "$@"

#!/usr/bin/env bash
# Idempotent set-up used by ./quickstart.sh and ./test.sh: system Graphviz, then the project's
# virtual environment at .venv/ with kpitree (editable) and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  say "installing $* from the OS packages (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. Graphviz's `dot` renders the annotated tree image.
if ! command -v dot >/dev/null 2>&1; then
  apt_install graphviz ||
    { command -v brew >/dev/null 2>&1 && say "installing graphviz (brew)" && brew install graphviz; } ||
    { command -v dnf >/dev/null 2>&1 && say "installing graphviz (dnf)" && as_root dnf install -y graphviz; } ||
    true
  if ! command -v dot >/dev/null 2>&1; then
    echo "kpitree needs Graphviz's 'dot' and could not install it: run 'sudo apt-get install graphviz'" \
         "(Debian/Ubuntu), 'brew install graphviz' (macOS) or 'sudo dnf install graphviz' (Fedora), then run this again." >&2
    exit 1
  fi
fi

# 2. Python ≥ 3.10 and its venv module.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "kpitree needs Python 3.10 or newer as '$PYTHON' (set PYTHON=/path/to/python3)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv || { echo "cannot create a virtual environment: install python3-venv" >&2; exit 1; }
    "$PYTHON" -m venv .venv
  fi
fi

# 3. kpitree itself, editable, with the test tools; skipped when nothing changed.
stamp=.venv/.kpitree-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing kpitree into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi

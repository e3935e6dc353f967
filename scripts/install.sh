#!/usr/bin/env bash
# Idempotent set-up used by ./quickstart.sh and ./test.sh: system Graphviz, then the project's
# virtual environment at .venv/ with kpitree[all] (editable). With --test (./test.sh) also the
# test tools (pytest, ruff, mypy, import-linter), the database engines' drivers, and the
# test-only system packages (PostgreSQL server, Java for Spark, Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else return 1
  fi
}

updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  say "installing $* from the OS packages (apt-get)"
  if [ -z "$updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# With --test, also the system packages only the test suite needs.
testing=""
[ "${1:-}" = "--test" ] && testing=1

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

# 1b. Test-only system packages, in one apt-get run:
#   - a PostgreSQL server (the raw-events tests start their own throw-away cluster with it);
#   - Java for the local Spark session (those engine tests skip with KPITREE_SKIP_ENGINES=1);
#   - Debian's Chromium for the report's browser test (Playwright drives /usr/bin/chromium;
#     never Playwright's own browser download).
if [ -n "$testing" ]; then
  missing=()
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 ||
    missing+=(postgresql)
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
    missing+=(chromium chromium-driver)
  # LibreOffice renders the review deck's slides to PDF, poppler's pdftoppm turns them into
  # images the tests look at; the CJK fonts let any segment name render.
  command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-impress-nogui)
  [ -e /usr/lib/libreoffice/program/libsclo.so ] || missing+=(libreoffice-calc-nogui)
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}" ||
      say "could not install ${missing[*]}: the tests that need them will fail (install them with your OS package manager)"
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

# 3. kpitree itself, editable, with every extra a user needs (images, charts, the review pack,
#    raw events); for --test also the test tools and the database engines' drivers. Skipped when
#    this set of extras was installed after pyproject.toml (and this script) last changed: the
#    stamp's name carries the extras, so a change of extras installs again. A test install
#    covers the plain one, so it stamps both.
extras="all" && [ -n "$testing" ] && extras="all,test,engines"
stamp=".venv/.kpitree-installed-${extras//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/install.sh -nt "$stamp" ]; then
  say "installing kpitree[${extras}] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[${extras}]"
  rm -f .venv/.kpitree-installed .venv/.kpitree-installed-test  # the stamps before extras
  touch "$stamp"
  if [ -n "$testing" ]; then touch .venv/.kpitree-installed-all; fi
fi

# 4. kpitree's own bytecode, as pip writes it for an ordinary install (an editable install does
#    not, and with PYTHONDONTWRITEBYTECODE set Python never caches it): every command would
#    otherwise compile the modules it imports again, ≈0.1–0.3 s per run. Quick when up to date.
.venv/bin/python -m compileall -q kpitree >/dev/null

# Sourced by scripts/run and scripts/test: make .venv at the repo root and install the project.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Re-install only when the packaging changed, so a second run starts at once.
STAMP=.venv/.installed-$1
if [ ! -f "$STAMP" ] || [ setup.cfg -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "installing the hub into .venv (the first time takes a minute or two)" >&2
  # "test" is an extra (the test tools); "run" needs the project alone.
  if [ "$1" = run ]; then spec="."; else spec=".[$1]"; fi
  # pip's and setuptools' chatter goes to a log, shown only if the install fails.
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
         .venv/bin/python -m pip install --quiet -e "$spec"; } > .venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "installing into .venv failed; the log above is also in .venv/install.log" >&2
    exit 1
  fi
  touch "$STAMP"
fi

#!/usr/bin/env bash
# The project's test command: sets up .venv when needed (tools/setup_env.sh),
# then runs the linters and the whole pytest suite on CPU: tests/ and the
# doc examples of mmrla/ (--doctest-modules, see setup.cfg).
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -k resnet`.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  cat <<'EOF'
Usage: bash tools/run_tests.sh [pytest options...]

Sets up .venv if needed (tools/setup_env.sh), then runs the linters (flake8,
isort, yapf) and pytest on tests/ and the doc examples of mmrla/. Options go
to pytest, e.g. bash tools/run_tests.sh -k converter; pytest's own help:
.venv/bin/python -m pytest --help.

Environment variables: OMP_NUM_THREADS (default 2) and those of
tools/setup_env.sh (bash tools/setup_env.sh --help).
EOF
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
PY=.venv/bin/python
PATHS=(mmrla tools tests configs demo setup.py)
EXISTING=()
for p in "${PATHS[@]}"; do [[ -e $p ]] && EXISTING+=("$p"); done

echo "[run_tests] lint: flake8, isort, yapf"
"$PY" -m flake8 "${EXISTING[@]}"
"$PY" -m isort --check-only --diff "${EXISTING[@]}"
if ! "$PY" -m yapf --diff --recursive "${EXISTING[@]}" > /tmp/mmrla-yapf.diff; then
  cat /tmp/mmrla-yapf.diff
  echo "[run_tests] yapf would reformat the files above:" \
    "run .venv/bin/python -m yapf -i -r ${EXISTING[*]}" >&2
  exit 1
fi

echo "[run_tests] pytest"
# pytest exits 5 when it collected no test; that must not pass as green.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$PY" -m pytest "$@"

#!/usr/bin/env bash
# The project's test command: sets up the venvs when needed
# (tools/setup_env.sh), then runs the linters and the whole pytest suite on
# CPU (tests/ and the doc examples of mmrla/, --doctest-modules, see
# setup.cfg) on the default stack, and the quick run (-m "not slow") on the
# current stack. Extra arguments go to pytest, e.g.
# `bash tools/run_tests.sh -k resnet`.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  cat <<'EOF_USAGE'
Usage: bash tools/run_tests.sh [pytest options...]

Sets up the venvs if needed (tools/setup_env.sh), then runs the linters
(flake8, isort, yapf) and pytest on tests/ and the doc examples of mmrla/:
every test on the default stack (.venv: Python 3.11, torch 2.5.1, numpy 1),
the quick run (-m "not slow") on the current stack (.venv-current: Python
3.12, torch 2.14.1, numpy 2). Options go to pytest, e.g.
bash tools/run_tests.sh -k converter; pytest's own help:
.venv/bin/python -m pytest --help.

Environment variables:
  MMRLA_STACKS        which stacks to test (default: default,current), e.g.
                      MMRLA_STACKS=default for the default stack alone
  CURRENT_PYTHON      interpreter of the current stack (default: python3.12,
                      else pyenv's newest 3.12)
  CURRENT_TORCH_SPEC  its torch (default: torch==2.14.1 torchvision==0.29.1)
  OMP_NUM_THREADS     (default 2), and those of tools/setup_env.sh
                      (bash tools/setup_env.sh --help)
EOF_USAGE
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACKS="${MMRLA_STACKS:-default,current}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
for stack in ${STACKS//,/ }; do
  if [[ $stack != default && $stack != current ]]; then
    echo "error: MMRLA_STACKS=$STACKS names '$stack'; the stacks are" \
      "default and current, e.g. MMRLA_STACKS=default,current" >&2
    exit 2
  fi
done

# The interpreter of the current stack: python3.12 on the PATH, else the
# newest 3.12 that pyenv installed.
current_python() {
  if [[ -n ${CURRENT_PYTHON:-} ]]; then
    echo "$CURRENT_PYTHON"
  elif python3.12 -c '' 2>/dev/null; then
    echo python3.12
  else
    local root
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    find "$root/versions" -maxdepth 3 -path '*/3.12.*/bin/python3.12' \
      2>/dev/null | sort -V | tail -n 1
  fi
}

# Runs pytest on one stack; pytest exits 5 when it collected no test, which
# must not pass as green. Called in an || list, where set -e does not act:
# each step returns on failure itself.
run_stack() {
  local stack=$1 start=$SECONDS code=0
  shift
  if [[ $stack == default ]]; then
    bash tools/setup_env.sh || return 1
    local py=.venv/bin/python
    local paths=(mmrla tools tests configs demo setup.py) existing=()
    for p in "${paths[@]}"; do [[ -e $p ]] && existing+=("$p"); done
    echo "[run_tests] lint: flake8, isort, yapf"
    "$py" -m flake8 "${existing[@]}" || return 1
    "$py" -m isort --check-only --diff "${existing[@]}" || return 1
    if ! "$py" -m yapf --diff --recursive "${existing[@]}" > /tmp/mmrla-yapf.diff; then
      cat /tmp/mmrla-yapf.diff
      echo "[run_tests] yapf would reformat the files above:" \
        "run .venv/bin/python -m yapf -i -r ${existing[*]}" >&2
      return 1
    fi
    echo "[run_tests] pytest, default stack: every test"
    "$py" -m pytest "$@" || code=$?
  else
    local python
    python="$(current_python)"
    if [[ -z $python ]]; then
      echo "error: the current stack needs Python 3.12 and none was found:" \
        "install it (pyenv install 3.12) or set CURRENT_PYTHON;" \
        "MMRLA_STACKS=default tests the default stack alone" >&2
      return 1
    fi
    PYTHON="$python" VENV="$ROOT/.venv-current" \
      TORCH_SPEC="${CURRENT_TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}" \
      bash tools/setup_env.sh || return 1
    echo "[run_tests] pytest, current stack: the quick run (-m \"not slow\")"
    .venv-current/bin/python -m pytest -m "not slow" "$@" || code=$?
  fi
  echo "[run_tests] $stack stack: exit code $code, $((SECONDS - start)) s"
  return $code
}

failed=()
for stack in ${STACKS//,/ }; do
  run_stack "$stack" "$@" || failed+=("$stack")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "[run_tests] failed on the ${failed[*]} stack" >&2
  exit 1
fi

#!/usr/bin/env bash
# Usage: bash tools/setup_env.sh
#
# Sets up .venv with the tested stack: torch 2.5.1, mmcv 2.1.0 (with ops,
# built from source for the installed torch), mmengine 0.10.7, mmdet 3.3.0,
# mmpretrain 1.2.0 and an editable mmrla. The installed torch picks the
# stack: up to 2.5 the default one (numpy 1), from 2.6 on the current one
# (numpy 2, e.g. Python 3.12 and torch 2.14.1). Idempotent: a second run
# only checks and returns; after a change of torch it rebuilds mmcv's ops.
#
# Environment variables:
#   PYTHON        interpreter that creates the venv (default: python3.11)
#   VENV          venv directory (default: <repo>/.venv)
#   TORCH_SPEC    torch requirement when no torch is installed yet
#                 (default: torch==2.5.1 torchvision==0.20.1)
#   FORCE_CUDA=1  build mmcv's CUDA ops too (GPU clusters, needs nvcc and a
#                 CUDA torch installed first)
#   MAX_JOBS      parallel compile jobs of the mmcv build (default: 2)
#   MMCV_CACHE    where mmcv builds are kept, one folder per Python, torch
#                 and CUDA (default: ~/.cache/mmrla/mmcv)
set -euo pipefail

usage() {  # the comment above, without its '#'
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  usage
  exit 0
fi
if [[ $# -gt 0 ]]; then
  echo "error: setup_env.sh takes no arguments (got: $*); environment" \
    "variables set it up." >&2
  usage >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-$ROOT/.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.5.1 torchvision==0.20.1}"
STAMP="$VENV/.mmrla-setup-stamp"
BUILD="$ROOT/tools/mmcv_build.py"
REQ="$ROOT/requirements"

# Anything that changes what must be installed invalidates the stamp: these
# files, and the torch installed (its mmcv build key).
files="$(cat "$REQ/"*.txt "$REQ/patches/"* "$ROOT/setup.py" "$0" "$BUILD" |
  sha1sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && -x "$VENV/bin/python" ]]; then
  key="$("$VENV/bin/python" "$BUILD" key 2>/dev/null || true)"
  if [[ -n $key && "$(cat "$STAMP")" == "$files $key" ]] && \
     "$VENV/bin/python" -c "import mmrla, mmcv.ops, mmdet, mmpretrain" 2>/dev/null; then
    exit 0
  fi
fi

log() { echo "[setup_env] $*"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  if ! command -v "$PYTHON" > /dev/null; then
    echo "error: $PYTHON not found: install it (e.g. pyenv install 3.12)" \
      "or set PYTHON to an interpreter" >&2
    exit 1
  fi
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
CONSTRAINTS=(-c "$REQ/constraints.txt")

"${PIP[@]}" install -q "pip>=23" "${CONSTRAINTS[@]}" \
  "setuptools>=70,<80.9" wheel ninja psutil

# Respect a torch the user installed (e.g. a CUDA build on a GPU cluster).
if "$PY" -c "import torch, torchvision" 2>/dev/null; then
  log "keeping installed $("$PY" -c 'import torch; print("torch", torch.__version__)')"
else
  log "installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "${PIP[@]}" install "${CONSTRAINTS[@]}" $TORCH_SPEC
fi
stack="$("$PY" "$BUILD" stack)"
log "$stack stack (requirements/constraints-$stack.txt)"
CONSTRAINTS+=(-c "$REQ/constraints-$stack.txt")
"${PIP[@]}" install -q "${CONSTRAINTS[@]}" numpy

# mmcv's ops, built for this torch (or taken from MMCV_CACHE if built before),
# with its dependencies under this stack's constraints.
PIP_CONSTRAINT="$REQ/constraints.txt $REQ/constraints-$stack.txt" \
  MAX_JOBS="${MAX_JOBS:-2}" "$PY" "$BUILD" ensure

REQUIREMENTS=(-r "$REQ/runtime.txt" -r "$REQ/tests.txt")
for extra in "tests-$stack.txt" deploy.txt; do
  if [[ -f "$REQ/$extra" ]]; then
    REQUIREMENTS+=(-r "$REQ/$extra")
  fi
done
# mmcv==2.1.0 (installed above without them) brings its own dependencies.
"${PIP[@]}" install -q "${CONSTRAINTS[@]}" "${REQUIREMENTS[@]}" mmcv==2.1.0
"${PIP[@]}" install -q "${CONSTRAINTS[@]}" --no-build-isolation --no-deps -e "$ROOT"

"$PY" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmengine, mmpretrain, numpy, torch, mmrla
print(f'[setup_env] ready: torch {torch.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, numpy {numpy.__version__}, '
      f'mmrla {mmrla.__version__}')
PY
echo "$files $("$PY" "$BUILD" key)" > "$STAMP"

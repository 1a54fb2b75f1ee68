#!/usr/bin/env bash
# Usage: bash tools/setup_env.sh
#
# Sets up .venv with the tested stack: torch 2.5.1, mmcv 2.1.0 (with ops,
# built from source), mmengine 0.10.7, mmdet 3.3.0, mmpretrain 1.2.0 and an
# editable mmrla. Idempotent: a second run only checks and returns.
#
# Environment variables:
#   PYTHON        interpreter that creates the venv (default: python3.11)
#   VENV          venv directory (default: <repo>/.venv)
#   TORCH_SPEC    torch requirement when no torch is installed yet
#                 (default: torch==2.5.1 torchvision==0.20.1)
#   FORCE_CUDA=1  build mmcv's CUDA ops too (GPU clusters, needs nvcc and a
#                 CUDA torch installed first)
#   MAX_JOBS      parallel compile jobs of the mmcv build (default: 2)
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

# Anything that changes what must be installed invalidates the stamp.
want_stamp="$(cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" "$0" | sha1sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] && \
   "$VENV/bin/python" -c "import mmrla, mmcv.ops, mmdet, mmpretrain" 2>/dev/null; then
  exit 0
fi

log() { echo "[setup_env] $*"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
CONSTRAINTS=(-c "$ROOT/requirements/constraints.txt")

"${PIP[@]}" install -q "pip>=23" "${CONSTRAINTS[@]}" \
  "setuptools>=70,<80.9" wheel ninja psutil "numpy<2"

# Respect a torch the user installed (e.g. a CUDA build on a GPU cluster).
if "$PY" -c "import torch, torchvision" 2>/dev/null; then
  log "keeping installed $("$PY" -c 'import torch; print("torch", torch.__version__)')"
else
  log "installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "${PIP[@]}" install "${CONSTRAINTS[@]}" $TORCH_SPEC
fi

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  log "building mmcv 2.1.0 with ops (about 10 minutes on 2 cores; cached afterwards)"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "${PIP[@]}" install "${CONSTRAINTS[@]}" \
    --no-build-isolation mmcv==2.1.0
fi

"${PIP[@]}" install -q "${CONSTRAINTS[@]}" -r "$ROOT/requirements/runtime.txt" \
  -r "$ROOT/requirements/tests.txt"
"${PIP[@]}" install -q "${CONSTRAINTS[@]}" --no-build-isolation --no-deps -e "$ROOT"

"$PY" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmengine, mmpretrain, torch, mmrla
print(f'[setup_env] ready: torch {torch.__version__}, mmcv {mmcv.__version__}, '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, mmrla {mmrla.__version__}')
PY
echo "$want_stamp" > "$STAMP"

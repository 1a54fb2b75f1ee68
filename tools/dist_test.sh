#!/usr/bin/env bash
# Test with torch.distributed.run; `bash tools/dist_test.sh --help` for use.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options...]

Evaluates CHECKPOINT with CONFIG in GPUS processes on this machine
(torch.distributed.run). Options after GPUS go to tools/test.py (see
python tools/test.py --help), e.g.
bash tools/dist_test.sh configs/faster_rcnn_r50rla_fpn_1x_coco.py \
    work_dirs/faster_rcnn_r50rla_fpn_1x_coco/epoch_12.pth 4 --out results.pkl

Environment variables:
  NNODES       number of machines (default 1)
  NODE_RANK    rank of this machine, 0 to NNODES-1 (default 0)
  MASTER_ADDR  address of the machine of rank 0 (default 127.0.0.1)
  PORT         port of the machine of rank 0 (default 29500)
  PYTHON       Python interpreter (default: the activated virtual
               environment's, else the repository's .venv if it exists,
               else python)
EOF
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  usage
  exit 0
fi
if [[ $# -lt 3 || ! $3 =~ ^[1-9][0-9]*$ ]]; then
  echo "error: dist_test.sh needs a CONFIG, a CHECKPOINT and the number of" \
    "processes (GPUS, a positive integer)." >&2
  usage >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# The Python that tools/setup_env.sh set up, unless one was chosen (PYTHON,
# or an activated virtual environment): a fresh shell needs no activation.
if [[ -z ${PYTHON:-} && -z ${VIRTUAL_ENV:-} && -x "$ROOT/.venv/bin/python" ]]; then
  PYTHON="$ROOT/.venv/bin/python"
fi
PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"

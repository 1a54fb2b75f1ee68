#!/usr/bin/env bash
# Train with torch.distributed.run; `bash tools/dist_train.sh --help` for use.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash tools/dist_train.sh CONFIG GPUS [train.py options...]

Trains CONFIG with GPUS processes on this machine (torch.distributed.run).
Without GPUs, the processes train on the CPU with the gloo backend.
Options after GPUS go to tools/train.py (see python tools/train.py --help),
e.g. bash tools/dist_train.sh configs/r50rla_4xb64_in1k.py 4 --resume

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
if [[ $# -lt 2 || ! $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "error: dist_train.sh needs a CONFIG and the number of processes" \
    "(GPUS, a positive integer)." >&2
  usage >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"

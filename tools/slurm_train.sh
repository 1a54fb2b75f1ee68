#!/usr/bin/env bash
# Train on a Slurm cluster; `bash tools/slurm_train.sh --help` for use.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR
           [train.py options...]

Trains CONFIG with srun on Slurm partition PARTITION, one process per GPU,
saving to WORK_DIR. Options after WORK_DIR go to tools/train.py (see
python tools/train.py --help), e.g.
GPUS=4 bash tools/slurm_train.sh gpu rla configs/r50rla_4xb64_in1k.py \
    work_dirs/r50rla_4xb64_in1k

Environment variables:
  GPUS           processes (GPUs) in all (default 8)
  GPUS_PER_NODE  GPUs per machine (default 8)
  CPUS_PER_TASK  CPUs per process (default 5)
  SRUN_ARGS      further srun options, e.g. "--quotatype=auto"
  PYTHON         Python interpreter (default: the activated virtual
                 environment's, else the repository's .venv if it exists,
                 else python)
EOF
}

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  usage
  exit 0
fi
if [[ $# -lt 4 ]]; then
  echo "error: slurm_train.sh needs PARTITION, JOB_NAME, CONFIG and" \
    "WORK_DIR." >&2
  usage >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# The Python that tools/setup_env.sh set up, unless one was chosen (PYTHON,
# or an activated virtual environment): a fresh shell needs no activation.
if [[ -z ${PYTHON:-} && -z ${VIRTUAL_ENV:-} && -x "$ROOT/.venv/bin/python" ]]; then
  PYTHON="$ROOT/.venv/bin/python"
fi
PYTHON=${PYTHON:-python}

set -x
# SRUN_ARGS is split into words on purpose: it holds several options.
# shellcheck disable=SC2086
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$ROOT/tools/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" \
    --launcher="slurm" "${@:5}"

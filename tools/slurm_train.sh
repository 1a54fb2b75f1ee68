#!/usr/bin/env bash
# Train on a Slurm cluster; `bash tools/slurm_train.sh --help` for use.
set -euo pipefail
# shellcheck source=tools/lib/launcher.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launcher.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR
           [train.py options...]

Trains CONFIG with srun on Slurm partition PARTITION, one process per GPU,
saving to WORK_DIR. Options after WORK_DIR go to tools/train.py (see
python tools/train.py --help), e.g.
GPUS=4 bash tools/slurm_train.sh gpu rla configs/r50rla_4xb64_in1k.py \
    work_dirs/r50rla_4xb64_in1k

EOF_USAGE
  slurm_environment
}

launcher_args 4 0 "PARTITION, JOB_NAME, CONFIG and WORK_DIR." "$@"
launch_slurm "$1" "$2" train.py "$3" --work-dir="$4" --launcher="slurm" "${@:5}"

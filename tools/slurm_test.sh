#!/usr/bin/env bash
# Test on a Slurm cluster; `bash tools/slurm_test.sh --help` for use.
set -euo pipefail
# shellcheck source=tools/lib/launcher.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launcher.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT
           [test.py options...]

Evaluates CHECKPOINT with CONFIG with srun on Slurm partition PARTITION,
one process per GPU. Options after CHECKPOINT go to tools/test.py (see
python tools/test.py --help), e.g.
GPUS=4 bash tools/slurm_test.sh gpu rla configs/r50rla_4xb64_in1k.py \
    checkpoints/rla_resnet50_in1k.pth

EOF_USAGE
  slurm_environment
}

launcher_args 4 0 "PARTITION, JOB_NAME, CONFIG and CHECKPOINT." "$@"
launch_slurm "$1" "$2" test.py "$3" "$4" --launcher="slurm" "${@:5}"

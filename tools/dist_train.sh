#!/usr/bin/env bash
# Train with torch.distributed.run; `bash tools/dist_train.sh --help` for use.
set -euo pipefail
# shellcheck source=tools/lib/launcher.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launcher.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: bash tools/dist_train.sh CONFIG GPUS [train.py options...]

Trains CONFIG with GPUS processes on this machine (torch.distributed.run).
Without GPUs, the processes train on the CPU with the gloo backend.
Options after GPUS go to tools/train.py (see python tools/train.py --help),
e.g. bash tools/dist_train.sh configs/r50rla_4xb64_in1k.py 4 --resume

EOF_USAGE
  dist_environment
}

launcher_args 2 2 "a CONFIG and the number of processes (GPUS, a positive integer)." "$@"
launch_dist "$2" train.py "$1" --launcher pytorch "${@:3}"

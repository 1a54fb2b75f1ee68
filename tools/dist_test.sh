#!/usr/bin/env bash
# Test with torch.distributed.run; `bash tools/dist_test.sh --help` for use.
set -euo pipefail
# shellcheck source=tools/lib/launcher.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launcher.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options...]

Evaluates CHECKPOINT with CONFIG in GPUS processes on this machine
(torch.distributed.run). Options after GPUS go to tools/test.py (see
python tools/test.py --help), e.g.
bash tools/dist_test.sh configs/faster_rcnn_r50rla_fpn_1x_coco.py \
    work_dirs/faster_rcnn_r50rla_fpn_1x_coco/epoch_12.pth 4 --out results.pkl

EOF_USAGE
  dist_environment
}

launcher_args 3 3 "a CONFIG, a CHECKPOINT and the number of processes (GPUS, a positive integer)." "$@"
launch_dist "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"

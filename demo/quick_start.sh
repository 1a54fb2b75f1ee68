#!/usr/bin/env bash
# Quick start: set up .venv if needed, then run the shapes detection demo
# (demo/quick_start.py). Extra arguments go to demo/quick_start.py, e.g.
# --baseline.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  cat <<'EOF'
Usage: bash demo/quick_start.sh [quick_start.py options...]

Sets up .venv if needed (tools/setup_env.sh; the first time builds mmcv,
about 10 minutes on 2 cores), then runs the shapes detection demo,
demo/quick_start.py, with the given options, e.g. --baseline. The options
are listed by .venv/bin/python demo/quick_start.py --help once .venv is set
up.

Environment variables: those of tools/setup_env.sh (bash tools/setup_env.sh
--help).
EOF
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec .venv/bin/python demo/quick_start.py "$@"
